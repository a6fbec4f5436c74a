using System.Globalization;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.Cli;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Security;
using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.Gateway.Telephony.Rtp;
using VoiceAgent.Gateway.Telephony.Sip;
using VoiceAgent.Gateway.Telephony.Twilio;

namespace VoiceAgent.Gateway.Telephony;

/// <summary>
/// Plugs telephony into the gateway with one line for services (<see cref="AddTelephony"/>) and one for endpoints
/// (<see cref="MapTelephony"/>): the SIP user agent (a hosted service on UDP), RTP media, the Twilio Media Streams
/// WebSocket and the <c>/v1/telephony/*</c> status endpoints.
/// </summary>
public static class TelephonyServiceCollectionExtensions
{
    /// <summary>Where the call and SIP status is served.</summary>
    public const string StatusPath = "/v1/telephony";

    /// <summary>The command-line option <c>serve --sip-port N</c>.</summary>
    public const string SipPortOption = "--sip-port";

    public static IServiceCollection AddTelephony(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TelephonyOptions>().Bind(configuration.GetSection(TelephonyOptions.SectionName));
        services.AddSingleton<IValidateOptions<TelephonyOptions>>(new ThrowingOptionsValidator<TelephonyOptions>(o => o.Validate()));
        services.AddSingleton<SipCounters>();
        services.AddSingleton<CallRegistry>();
        services.AddSingleton<ISipMediaFactory, RtpMediaFactory>();
        services.AddSingleton<SipService>();
        services.AddHostedService(provider => provider.GetRequiredService<SipService>());
        services.AddSingleton<TwilioMediaStreamHandler>();
        return services;
    }

    public static WebApplication MapTelephony(this WebApplication app)
    {
        TelephonyOptions options;
        try
        {
            options = app.Services.GetRequiredService<IOptions<TelephonyOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            throw new CliException(ex.Message);
        }

        if (options.Twilio.Enabled)
        {
            app.Map(options.Twilio.Path, (HttpContext context, TwilioMediaStreamHandler handler) => handler.HandleAsync(context));
        }

        // The status shows callers' numbers: it takes the gateway's token when one is configured. (The Twilio stream is
        // not registered here: Twilio cannot send headers, so it passes the token in its start message instead.)
        app.Services.GetRequiredService<ConnectionPolicy>().Protect(StatusPath, "telephony");
        app.MapGet(StatusPath + "/calls", (CallRegistry registry) => Results.Json(new
        {
            active = registry.Active.Select(TelephonyStatus.Describe).ToArray(),
            recent = registry.Recent.Select(TelephonyStatus.Describe).ToArray(),
        }));
        app.MapGet(StatusPath + "/stats", (SipCounters counters, SipService sip) => Results.Json(TelephonyStatus.Describe(counters, sip)));
        return app;
    }

    /// <summary>Adds the configuration overrides of the telephony command-line options (<c>--sip-port N</c>).</summary>
    internal static void AddCommandLineOverrides(ArgReader cli, IDictionary<string, string?> overrides)
    {
        if (cli.Single(SipPortOption) is not null)
        {
            overrides[$"{TelephonyOptions.SectionName}:{nameof(TelephonyOptions.Sip)}:{nameof(SipOptions.Port)}"] =
                cli.Int(SipPortOption, fallback: 5060, min: 0, max: 65535).ToString(CultureInfo.InvariantCulture);
            overrides[$"{TelephonyOptions.SectionName}:{nameof(TelephonyOptions.Sip)}:{nameof(SipOptions.Required)}"] = "true";
        }
    }
}
