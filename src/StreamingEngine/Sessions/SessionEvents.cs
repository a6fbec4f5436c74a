namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>What a <see cref="SessionEvent"/> reports.</summary>
public enum SessionEventKind
{
    /// <summary>The VAD heard the caller start speaking (<see cref="SessionEvent.TimeMs"/> = stream time of the onset).</summary>
    SpeechStarted,

    /// <summary>The VAD heard the caller stop; the turn is committed (<see cref="SessionEvent.TimeMs"/> = stream time of the end).</summary>
    SpeechEnded,

    /// <summary>The greedy CTC transcript of the committed user turn (<see cref="SessionEvent.Text"/>).</summary>
    UserTranscript,

    /// <summary>A reply word (<see cref="SessionEvent.Text"/>, with a leading space after the first word).</summary>
    ReplyTextDelta,

    /// <summary>The reply text is complete (<see cref="SessionEvent.Text"/> = the whole text).</summary>
    ReplyTextDone,

    /// <summary>The first reply audio frame is ready.</summary>
    ReplyAudioStarted,

    /// <summary>The reply's last audio frame has been queued (<see cref="SessionEvent.AudioMs"/> = reply audio length).</summary>
    ReplyAudioEnded,

    /// <summary>The reply ended (text-only replies too); <see cref="SessionEvent.Text"/> = reply text.</summary>
    ReplyDone,

    /// <summary>The caller spoke over the reply: generation stopped and queued audio was dropped. <see cref="SessionEvent.AudioMs"/> = reply audio delivered before it.</summary>
    BargeIn,

    /// <summary>Per-turn latency figures (<see cref="SessionEvent.Latency"/>).</summary>
    TurnLatency,

    /// <summary>A DTMF digit from a telephony transport (<see cref="SessionEvent.Text"/>).</summary>
    Dtmf,

    /// <summary>Something failed in this session only (<see cref="SessionEvent.Code"/> and <see cref="SessionEvent.Text"/>); the session stays usable unless the code says otherwise.</summary>
    Error,
}

/// <summary>
/// One event of a session, in the order the session produced it. A small immutable record so transports can
/// serialize it directly (JSON for the WebSocket, the same object over SignalR).
/// </summary>
public sealed record SessionEvent(SessionEventKind Kind, int TurnId)
{
    /// <summary>Text payload (transcript, reply words, error message, DTMF digit).</summary>
    public string? Text { get; init; }

    /// <summary>Stream time in milliseconds (VAD events), counted from the session's first input sample.</summary>
    public long? TimeMs { get; init; }

    /// <summary>Audio duration in milliseconds (reply audio length, delivered audio at barge-in).</summary>
    public long? AudioMs { get; init; }

    /// <summary>Latency figures (<see cref="SessionEventKind.TurnLatency"/> only).</summary>
    public TurnLatency? Latency { get; init; }

    /// <summary>Machine-readable error code (<see cref="SessionEventKind.Error"/> only).</summary>
    public string? Code { get; init; }
}

/// <summary>
/// Latency of one turn, in milliseconds. <see cref="VadCommitMs"/> is audio time from the caller's last voiced
/// sample to the commit (the VAD's silence hangover); every other figure is wall time measured from the commit.
/// A figure is null when the turn never reached that point (text-only replies have no audio figures).
/// </summary>
public sealed record TurnLatency
{
    public double VadCommitMs { get; init; }

    /// <summary>What ended the turn: <c>silence</c> (VAD hangover), <c>semantic</c> (decoder sure after a short pause), <c>manual</c> (commit call) or <c>max_turn</c>.</summary>
    public string EndOfTurn { get; init; } = "silence";

    public double EncoderTailMs { get; init; }

    public double? FirstTextTokenMs { get; init; }

    public double? FirstAudioTokenMs { get; init; }

    public double? FirstAudioFrameMs { get; init; }

    public double TotalMs { get; init; }
}
