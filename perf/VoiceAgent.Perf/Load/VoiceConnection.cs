using System.Threading.Channels;

namespace VoiceAgent.Perf.Load;

/// <summary>What the far end of a conversation told the load generator (stamped on receipt).</summary>
internal enum SignalKind
{
    /// <summary>Reply audio (<see cref="ServerSignal.AudioSamples"/> samples at the connection's output rate).</summary>
    ReplyAudio,

    /// <summary>The far end committed a user turn (its VAD heard the end of speech).</summary>
    TurnCommitted,

    /// <summary>Transcript of the user turn as the far end understood it (<see cref="ServerSignal.Text"/>).</summary>
    Transcript,

    /// <summary>Reply text is complete (<see cref="ServerSignal.Text"/>).</summary>
    ReplyText,

    /// <summary>The reply's audio has all been sent (<see cref="ServerSignal.AudioMs"/> = its length).</summary>
    ReplyAudioEnded,

    /// <summary>The far end's own per-turn latency report (<see cref="ServerSignal.EngineFirstPacketMs"/> and friends).</summary>
    Latency,

    /// <summary>The far end treated our audio as speech over its reply.</summary>
    BargeIn,

    /// <summary>An error event (<see cref="ServerSignal.Text"/>).</summary>
    Error,

    /// <summary>The connection closed.</summary>
    Closed,
}

/// <summary>
/// One message from the far end, with the <see cref="System.Diagnostics.Stopwatch"/> timestamp taken as soon as it was
/// received, before any parsing that could delay it.
/// </summary>
internal readonly record struct ServerSignal(SignalKind Kind, long Timestamp)
{
    public int TurnId { get; init; }

    public int AudioSamples { get; init; }

    public double? AudioMs { get; init; }

    public string? Text { get; init; }

    /// <summary>What ended the turn, from the far end's latency report (<c>silence</c>, <c>semantic</c>, …).</summary>
    public string? EndOfTurn { get; init; }

    /// <summary>Engine first packet: commit → first reply audio frame, as the far end measured it.</summary>
    public double? EngineFirstPacketMs { get; init; }

    /// <summary>Commit hangover: the caller's last voiced sample → the commit, in audio time, as the far end measured it.</summary>
    public double? VadCommitMs { get; init; }

    /// <summary>Named stage figures of the far end's latency report (ms), for the first-packet breakdown.</summary>
    public IReadOnlyDictionary<string, double>? Stages { get; init; }
}

/// <summary>
/// A caller's connection to a voice agent: 16-bit mono audio frames in, <see cref="ServerSignal"/>s out. The VoiceAgent
/// server (WebSocket) and the in-process cascade peer implement it, so both are driven and timed by the same code.
/// </summary>
internal interface IVoiceConnection : IAsyncDisposable
{
    /// <summary>Rate of the audio this connection sends.</summary>
    int InputSampleRate { get; }

    /// <summary>Rate of the reply audio it receives.</summary>
    int OutputSampleRate { get; }

    /// <summary>Everything received, in order. Completes when the connection closes.</summary>
    ChannelReader<ServerSignal> Signals { get; }

    /// <summary>Sends one caller frame (PCM16).</summary>
    ValueTask SendAsync(ReadOnlyMemory<short> frame, CancellationToken cancellationToken);
}
