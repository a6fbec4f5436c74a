using VoiceAgent.Gateway.Echo;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>
/// Gateway settings, bound from the "Gateway" section of appsettings.json (environment variables such as
/// <c>Gateway__MaxSessions=4</c> and the command line override it). Every field has a working default.
/// </summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>Address Kestrel listens on (loopback unless a deployment says otherwise).</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>TCP port (0 = any free port; the chosen address is logged and printed).</summary>
    public int Port { get; set; } = 8080;

    /// <summary>Folder of the browser client served at <c>/</c> (default: <c>web-client/</c> of the checkout).</summary>
    public string? WebRoot { get; set; }

    /// <summary>How the shared engine is loaded (model pack, VAD, ONNX Runtime library, threads).</summary>
    public VoiceAgentEngineOptions Engine { get; set; } = new();

    /// <summary>Concurrent caller sessions over every transport; one more is rejected with a clear reason.</summary>
    public int MaxSessions { get; set; } = 32;

    /// <summary>Largest message a client may send (one WebSocket message or one hub item), in bytes.</summary>
    public int MaxMessageBytes { get; set; } = 64 * 1024;

    /// <summary>A session that receives nothing for this long is closed (seconds).</summary>
    public int IdleTimeoutSeconds { get; set; } = 60;

    /// <summary>
    /// When set, WebSocket and hub clients must present it as <c>Authorization: Bearer …</c> (or, for browsers that
    /// cannot set headers on a WebSocket, the <c>access_token</c> query parameter).
    /// </summary>
    public string? AuthToken { get; set; }

    /// <summary>
    /// Browser origins allowed to connect (exact scheme://host[:port]). The gateway's own origin is always allowed;
    /// requests without an Origin header (non-browser clients) are not subject to the check.
    /// </summary>
    public List<string> AllowedOrigins { get; set; } = [];

    /// <summary>Reply audio frames a connection may have waiting to be sent; beyond it the oldest are dropped and counted.</summary>
    public int SendQueueFrames { get; set; } = 50;

    /// <summary>
    /// Bytes Kestrel may hold for one connection's socket before a send waits (its default is 1 MiB). Kept small because
    /// audio parked there can no longer be dropped on a barge-in or when a client falls behind: the send queue, which
    /// can, should hold the backlog.
    /// </summary>
    public int MaxWriteBufferBytes { get; set; } = 32 * 1024;

    /// <summary>
    /// The kernel's send buffer for a voice connection (SO_SNDBUF; 0 leaves the system's autotuning, which on Linux grows
    /// to megabytes). Bounded for the same reason as <see cref="MaxWriteBufferBytes"/>.
    /// </summary>
    public int SocketSendBufferBytes { get; set; } = 32 * 1024;

    /// <summary>Reply frames sent ahead of real time (ms) so the client's jitter buffer never starves.</summary>
    public int SendLeadMs { get; set; } = 200;

    /// <summary>
    /// How far reply generation may run ahead of what has been sent (ms of audio queued in the engine session). Replies
    /// are generated several times faster than real time; without a cap one session's whole reply is computed in a
    /// burst while other callers wait for their first packet. A second ahead is far more than any stall needs.
    /// </summary>
    public int GenerationLeadMs { get; set; } = 1000;

    /// <summary>The server-side guard against the agent's own echo triggering barge-in.</summary>
    public EchoGuardOptions EchoGuard { get; set; } = new();

    /// <summary>Ending a turn at a short pause when the decoder is sure of its reply (a client's hello may turn it off).</summary>
    public SemanticEndOfTurnOptions SemanticEndOfTurn { get; set; } = new();
}
