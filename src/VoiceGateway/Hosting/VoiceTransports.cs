using VoiceAgent.Gateway.Hubs;
using VoiceAgent.Gateway.Protocol;
using VoiceAgent.Gateway.Security;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>Registration of the browser-facing transports: the WebSocket protocol and the SignalR hub.</summary>
internal static class VoiceTransports
{
    public static IServiceCollection AddVoiceTransports(this IServiceCollection services, GatewayOptions gateway)
    {
        services.AddSignalR(hub =>
            {
                // One hub message carries at most one base64 frame or one small control call.
                hub.MaximumReceiveMessageSize = gateway.MaxMessageBytes;
                hub.StreamBufferCapacity = 16;
                hub.EnableDetailedErrors = false;
            })
            .AddJsonProtocol(json => ProtocolJson.Configure(json.PayloadSerializerOptions));
        return services;
    }

    public static WebApplication MapVoiceTransports(this WebApplication app)
    {
        var policy = app.Services.GetRequiredService<ConnectionPolicy>();
        policy.Protect(VoiceWebSocketEndpoint.Path, VoiceWebSocketEndpoint.Transport);
        policy.Protect(VoiceHub.Path, VoiceHub.Transport);
        app.MapVoiceWebSocket();
        app.Services.GetRequiredService<Metrics.GatewayMetrics>().RegisterTransport(VoiceHub.Transport);
        app.MapHub<VoiceHub>(VoiceHub.Path);
        return app;
    }
}
