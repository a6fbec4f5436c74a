using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Twilio;

/// <summary>
/// The <c>/v1/twilio</c> endpoint: a Twilio Media Streams compatible WebSocket (what <c>&lt;Connect&gt;&lt;Stream&gt;</c>
/// opens). It checks the upgrade, the optional token and the session cap before accepting, then hands the socket to
/// a <see cref="TwilioConnection"/>.
/// </summary>
public sealed class TwilioMediaStreamHandler(
    IOptions<TelephonyOptions> telephony,
    IOptions<GatewayOptions> gateway,
    SessionAdmission admission,
    VoiceAgentEngine engine,
    CallRegistry registry,
    GatewayMetrics metrics,
    CallActionPolicy callActions,
    ILoggerFactory loggerFactory)
{
    public const string Transport = "twilio";

    public async Task HandleAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            await context.Response.WriteAsync("This endpoint speaks the Twilio Media Streams protocol over a WebSocket; send an Upgrade request.\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var token = gateway.Value.AuthToken;
        var presented = PresentedToken(context);
        if (token is not null && presented is not null && !TokenMatches(token, presented))
        {
            metrics.SessionRejected(Transport, "auth");
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await context.Response.WriteAsync("The access token is not valid.\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        if (!admission.TryAdmit(Transport, out var lease))
        {
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.Headers.RetryAfter = "5";
            await context.Response.WriteAsync($"The gateway is at its limit of {admission.Capacity} sessions; try again later.\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using (lease)
        {
            using var socket = await context.WebSockets.AcceptWebSocketAsync().ConfigureAwait(false);
            using var connection = new TwilioConnection(
                socket,
                telephony.Value,
                gateway.Value,
                engine,
                registry,
                metrics,
                callActions,
                loggerFactory.CreateLogger<TwilioConnection>(),
                authorized: token is null || presented is not null);
            await connection.RunAsync(context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <summary>Constant-time comparison, so the token cannot be guessed byte by byte from response timing.</summary>
    internal static bool TokenMatches(string expected, string presented) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(presented));

    private static string? PresentedToken(HttpContext context)
    {
        var header = context.Request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header[7..].Trim();
        }

        // Twilio cannot set headers on the stream request; other clients may use the query string instead.
        return context.Request.Query.TryGetValue("access_token", out var query) ? query.ToString() : null;
    }
}
