using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.FileProviders;
using Microsoft.Extensions.Options;
using VoiceAgent.Core;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Cli;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Security;
using VoiceAgent.Gateway.Telephony;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>
/// Builds and runs the ASP.NET Core gateway: Kestrel (loopback unless configured otherwise), the shared engine loaded
/// once at start-up, the transports, the browser client, <c>/healthz</c> and <c>/metrics</c>.
/// <para>
/// Transports plug in with one line for their services and one for their endpoints (see the markers in
/// <see cref="Build"/>); everything they share — <see cref="VoiceAgentEngine"/>, <see cref="GatewayMetrics"/>,
/// <see cref="SessionAdmission"/>, <see cref="GatewayOptions"/> — is in the container.
/// </para>
/// </summary>
internal static class GatewayHost
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var cli = new ArgReader(args, new HashSet<string> { "--port", "--host", TelephonyServiceCollectionExtensions.SipPortOption });
        var overrides = new Dictionary<string, string?>();
        if (cli.Single("--port") is not null)
        {
            overrides[$"{GatewayOptions.SectionName}:{nameof(GatewayOptions.Port)}"] =
                cli.Int("--port", fallback: 8080, min: 0, max: 65535).ToString(CultureInfo.InvariantCulture);
        }

        if (cli.Single("--host") is { } host)
        {
            overrides[$"{GatewayOptions.SectionName}:{nameof(GatewayOptions.Host)}"] = host;
        }

        TelephonyServiceCollectionExtensions.AddCommandLineOverrides(cli, overrides);

        await using var app = Build(overrides);
        GatewayOptions options;
        try
        {
            options = app.Services.GetRequiredService<IOptions<GatewayOptions>>().Value;
            _ = app.Services.GetRequiredService<IOptions<CallActionOptions>>().Value;
        }
        catch (OptionsValidationException ex)
        {
            throw new CliException(ex.Message); // a bad setting ends start-up with its sentence, not a stack trace
        }

        LoadEngine(app.Services);

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            throw new CliException($"cannot listen on {options.Host}:{options.Port} ({ex.Message.TrimEnd('.')}).");
        }

        // One machine-readable line with the bound address (port 0 picks a free port; tests and scripts read it).
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        Console.Out.WriteLine($"voiceagent: listening on {string.Join(' ', addresses ?? [])}");
        Console.Out.Flush();

        // Ctrl+C arrives through cancellationToken; SIGTERM (kill, systemd, docker stop) through the host lifetime,
        // so wait on both: a service manager must be able to stop the gateway without SIGKILL.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping);
        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // A normal stop.
        }

        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        return 0;
    }

    /// <summary>Builds the application; <paramref name="overrides"/> (configuration keys) win over every other source.</summary>
    public static WebApplication Build(IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });
        if (overrides is { Count: > 0 })
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        builder.Services.AddOptions<GatewayOptions>()
            .Bind(builder.Configuration.GetSection(GatewayOptions.SectionName))
            .Validate(o => o.Port is >= 0 and <= 65535, "Gateway:Port must be from 0 to 65535.")
            .Validate(o => o.MaxSessions >= 1, "Gateway:MaxSessions must be at least 1.")
            .Validate(o => o.MaxMessageBytes >= 1024, "Gateway:MaxMessageBytes must be at least 1024.")
            .Validate(o => o.IdleTimeoutSeconds >= 1, "Gateway:IdleTimeoutSeconds must be at least 1.")
            .Validate(o => o.SendQueueFrames >= 4, "Gateway:SendQueueFrames must be at least 4.")
            .Validate(o => o.SendLeadMs is >= 0 and <= 2000, "Gateway:SendLeadMs must be from 0 to 2000.")
            .Validate(o => o.GenerationLeadMs is >= 200 and <= 10000 && o.GenerationLeadMs > o.SendLeadMs, "Gateway:GenerationLeadMs must be from 200 to 10000 and above SendLeadMs.")
            .Validate(o => TryValidate(o.SemanticEndOfTurn.Validate), "Gateway:SemanticEndOfTurn is invalid (ProbeSilenceMs 32-2000, 0 < FinalMinConfidence <= MinConfidence <= 1, Words 1-8, MinSpeechMs 0-10000, ResumeWithinMs 0-3000).")
            .Validate(o => o.MaxWriteBufferBytes >= 4096, "Gateway:MaxWriteBufferBytes must be at least 4096.");

        builder.Services.AddOptions<CallActionOptions>().Bind(builder.Configuration.GetSection(CallActionOptions.SectionName));
        builder.Services.AddSingleton<IValidateOptions<CallActionOptions>>(new ThrowingOptionsValidator<CallActionOptions>(o => o.Validate()));
        builder.Services.AddSingleton<CallActionPolicy>();

        var gateway = builder.Configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        builder.WebHost.UseUrls($"http://{gateway.Host}:{gateway.Port.ToString(CultureInfo.InvariantCulture)}");
        builder.Services.Configure<SocketTransportOptions>(sockets => sockets.MaxWriteBufferSize = gateway.MaxWriteBufferBytes);

        AddCoreServices(builder.Services);
        builder.Services.AddVoiceTransports(gateway);
        builder.Services.AddTelephony(builder.Configuration); // telephony services

        var app = builder.Build();
        // Token and Origin checks run before any upgrade, for every path a transport registered with ConnectionPolicy.
        app.UseMiddleware<ConnectionPolicyMiddleware>();
        app.UseWebSockets();
        MapStaticClient(app, gateway);
        app.MapGet("/healthz", (VoiceAgentEngine engine, SessionAdmission admission) =>
            Results.Json(new HealthReport("ok", engine.Pack.Manifest.Name ?? "unnamed", admission.Active, admission.Capacity)));
        app.MapGet("/metrics", (GatewayMetrics metrics) =>
            Results.Text(metrics.RenderPrometheus(), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapVoiceTransports();
        app.MapTelephony(); // telephony endpoints
        return app;
    }

    /// <summary>What every transport shares: the engine (one per process), metrics and the session cap.</summary>
    /// <summary>True when <paramref name="validate"/> does not throw <see cref="ArgumentException"/> (option classes that validate themselves).</summary>
    private static bool TryValidate(Action validate)
    {
        try
        {
            validate();
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static void AddCoreServices(IServiceCollection services)
    {
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<SessionAdmission>();
        services.AddSingleton<ConnectionPolicy>();
        services.AddSingleton(provider => VoiceAgentEngine.Load(
            provider.GetRequiredService<IOptions<GatewayOptions>>().Value.Engine,
            provider.GetRequiredService<ILoggerFactory>()));
    }

    /// <summary>Loads the engine before the first connection so a missing model fails start-up with one sentence.</summary>
    private static void LoadEngine(IServiceProvider services)
    {
        try
        {
            services.GetRequiredService<VoiceAgentEngine>();
        }
        catch (OptionsValidationException ex)
        {
            throw new CliException(ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            throw new CliException($"cannot load the engine ({ex.Message.TrimEnd('.')}); run ./voiceagent setup.", exitCode: 1);
        }
    }

    private static void MapStaticClient(WebApplication app, GatewayOptions gateway)
    {
        var webRoot = gateway.WebRoot ?? (VoiceAgentPaths.Root is { } root ? Path.Combine(root, "web-client") : null);
        if (webRoot is null || !Directory.Exists(webRoot))
        {
            app.Logger.LogWarning("No web client folder ({WebRoot}); '/' is not served", webRoot ?? "none");
            return;
        }

        var files = new PhysicalFileProvider(Path.GetFullPath(webRoot));
        app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
        app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
    }

    private sealed record HealthReport(string Status, string Pack, int Sessions, int MaxSessions);
}
