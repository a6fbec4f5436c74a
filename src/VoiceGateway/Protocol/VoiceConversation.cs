using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.InteropServices;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Echo;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Protocol;

/// <summary>
/// The transport-independent half of one caller's connection (docs/protocol.md): it opens the engine session on the
/// client's hello, validates and pushes caller frames (through the <see cref="EchoGuard"/>), and turns the session's
/// events and reply frames into protocol messages on one bounded <see cref="SendQueue"/>. The WebSocket endpoint
/// and the SignalR hub differ only in how they read client messages and write what this queues.
/// <para>
/// Reply audio is released at real time plus <see cref="GatewayOptions.SendLeadMs"/>: the client's jitter buffer stays
/// short (a barge-in stops playback at once), the session's "delivered" count matches what the caller heard, and the
/// echo guard's reference lines up with what the loudspeaker plays.
/// </para>
/// </summary>
internal sealed class VoiceConversation : IAsyncDisposable
{
    private readonly VoiceAgentEngine _engine;
    private readonly GatewayMetrics _metrics;
    private readonly GatewayOptions _options;
    private readonly CallActionPolicy _callActions;
    private readonly ILogger _logger;
    private readonly SessionAdmission.SessionLease _lease;
    private readonly CancellationTokenSource _stop = new();
    // The session's input side takes one caller at a time, and the guard is shared by input and the send pump.
    private readonly object _inputLock = new();
    private VoiceSession? _session;
    private EchoGuard? _guard;
    private Task _pump = Task.CompletedTask;
    private int _minFrameBytes;
    private int _maxFrameBytes;
    private int _outputFrameMs;
    private int _droppedThroughTurn;
    private long _lastInput = Stopwatch.GetTimestamp();
    private int _disposed;

    public VoiceConversation(VoiceAgentEngine engine, GatewayMetrics metrics, GatewayOptions options, CallActionPolicy callActions, SessionAdmission.SessionLease lease, ILogger logger)
    {
        _engine = engine;
        _metrics = metrics;
        _options = options;
        _callActions = callActions;
        _lease = lease;
        _logger = logger;
        Outgoing = new SendQueue(options.SendQueueFrames);
        Outgoing.FramesDropped = dropped => _metrics.DroppedFrames(Transport, dropped);
    }

    /// <summary>Transport label for metrics (websocket, signalr, …).</summary>
    public string Transport => _lease.Transport;

    /// <summary>What to send to the client, in order.</summary>
    public SendQueue Outgoing { get; }

    /// <summary>Whether the hello has been accepted (the engine session is open).</summary>
    public bool IsStarted => _session is not null;

    /// <summary>The engine session (after the hello).</summary>
    public VoiceSession? Session => _session;

    /// <summary>The echo guard (null when the client turned it off).</summary>
    public EchoGuard? Guard => _guard;

    /// <summary>Time since the client last sent anything.</summary>
    public TimeSpan IdleFor => Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastInput));

    /// <summary>Notes client activity (any message) for the idle timeout.</summary>
    public void Touch() => Interlocked.Exchange(ref _lastInput, Stopwatch.GetTimestamp());

    /// <summary>Opens the session for <paramref name="hello"/>; on failure returns the error and the close code (the caller closes).</summary>
    public (ServerEvent Error, int CloseCode)? Start(VoiceHello hello)
    {
        if (_session is not null)
        {
            return (ServerEvent.Failure(ErrorCodes.AlreadyStarted, "The session has already started; hello is sent once.", fatal: false), 0);
        }

        if (hello.Validate() is { } invalid)
        {
            return invalid;
        }

        var outputRate = hello.OutputSampleRate ?? hello.SampleRate;
        _outputFrameMs = hello.OutputFrameMs ?? FrameLimits.MinMs;
        try
        {
            _session = _engine.OpenSession(new VoiceSessionOptions
            {
                InputSampleRate = hello.SampleRate,
                OutputSampleRate = outputRate,
                OutputFrameMs = _outputFrameMs,
                BargeInEnabled = hello.BargeIn ?? true,
                SemanticEndOfTurn = WithEnabled(_options.SemanticEndOfTurn, hello.SemanticEndOfTurn),
                AudioQueueFrames = Math.Max(4, _options.GenerationLeadMs / _outputFrameMs),
            });
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            _logger.LogWarning(ex, "Could not open an engine session");
            return (ServerEvent.Failure(ErrorCodes.SessionFailed, $"The engine could not open a session: {ex.Message}", fatal: true), CloseCodes.SessionFailed);
        }

        if (hello.EchoGuard ?? _options.EchoGuard.Enabled)
        {
            _guard = new EchoGuard(_options.EchoGuard, hello.SampleRate, outputRate);
        }

        // 2 bytes per sample; frames must be 20–80 ms at the agreed rate.
        _minFrameBytes = hello.SampleRate * FrameLimits.MinMs / 1000 * 2;
        _maxFrameBytes = hello.SampleRate * FrameLimits.MaxMs / 1000 * 2;
        Outgoing.TryEnqueueEvent(new ServerEvent
        {
            Type = MessageTypes.Ready,
            SessionId = _session.Id,
            SampleRate = hello.SampleRate,
            OutputSampleRate = outputRate,
            OutputFrameMs = _outputFrameMs,
            MaxMessageBytes = _options.MaxMessageBytes,
            BargeIn = hello.BargeIn ?? true,
            EchoGuard = _guard is not null,
            Pack = _engine.Pack.Manifest.Name,
        });
        _logger.LogInformation("Session {Session} started on {Transport}: {InputRate} Hz in, {OutputRate} Hz out, echo guard {Guard}",
            _session.Id, Transport, hello.SampleRate, outputRate, _guard is null ? "off" : "on");
        _pump = Task.Run(() => PumpAsync(_session, _stop.Token));
        return null;
    }

    /// <summary>
    /// One binary frame of caller audio (PCM16 LE mono at the hello's rate). Returns an error event for a bad frame
    /// (the frame is dropped; <c>Fatal</c> says whether the connection must close), or null.
    /// </summary>
    public ServerEvent? PushAudio(ReadOnlySpan<byte> pcm16)
    {
        Touch();
        if (_session is not { } session)
        {
            return ServerEvent.Failure(ErrorCodes.NotStarted, "Audio arrived before hello; send {\"type\":\"hello\",\"sample_rate\":16000} first.", fatal: true);
        }

        if ((pcm16.Length & 1) != 0 || pcm16.Length < _minFrameBytes || pcm16.Length > _maxFrameBytes)
        {
            return ServerEvent.Failure(ErrorCodes.BadFrame,
                $"An audio frame must be PCM16 of {FrameLimits.MinMs}–{FrameLimits.MaxMs} ms ({_minFrameBytes}–{_maxFrameBytes} bytes, even), got {pcm16.Length} bytes; it was dropped.",
                fatal: false);
        }

        var samples = MemoryMarshal.Cast<byte, short>(pcm16);
        short[]? swapped = null;
        if (!BitConverter.IsLittleEndian)
        {
            swapped = ArrayPool<short>.Shared.Rent(samples.Length);
            BinaryPrimitives.ReverseEndianness(samples, swapped);
            samples = swapped.AsSpan(0, samples.Length);
        }

        try
        {
            lock (_inputLock)
            {
                var heard = _guard is { } guard ? guard.Process(samples) : samples;
                if (!heard.IsEmpty)
                {
                    session.PushPcm16(heard);
                }
            }
        }
        finally
        {
            if (swapped is not null)
            {
                ArrayPool<short>.Shared.Return(swapped);
            }
        }

        return null;
    }

    /// <summary>Handles a parsed control message; returns an error event to send, or null.</summary>
    public ServerEvent? Handle(ClientMessage message)
    {
        Touch();
        if (message.Kind != ClientMessageKind.Hello && _session is null)
        {
            return ServerEvent.Failure(ErrorCodes.NotStarted, $"'{message.Kind.ToString().ToLowerInvariant()}' arrived before hello.", fatal: true);
        }

        var session = _session!;
        switch (message.Kind)
        {
            case ClientMessageKind.Commit:
                lock (_inputLock)
                {
                    session.CommitTurn();
                }

                break;
            case ClientMessageKind.Cancel:
                StopReplyAudio(session.TurnCount);
                session.CancelReply();
                break;
            case ClientMessageKind.Playback:
                session.ReportPlayback(message.Turn, message.PlayedMs);
                break;
            case ClientMessageKind.Dtmf:
                session.PushDtmf(message.Digit);
                break;
        }

        return null;
    }

    /// <summary>Queues an error event; a fatal one is followed by the close.</summary>
    public void Fail(ServerEvent error, int closeCode)
    {
        _metrics.Error(Transport, error.Code ?? "unknown");
        Outgoing.TryEnqueueEvent(error);
        if (error.Fatal == true && closeCode != 0)
        {
            Outgoing.Close(closeCode, error.Code ?? "error");
        }
    }

    /// <summary>No reply audio of turns up to <paramref name="turn"/> is sent from now on.</summary>
    private void StopReplyAudio(int turn)
    {
        InterlockedMax(ref _droppedThroughTurn, turn);
        Outgoing.PurgeAudioThrough(turn);
        if (_guard is { } guard)
        {
            lock (_inputLock)
            {
                guard.StopReference();
            }
        }
    }

    /// <summary>
    /// Moves the session's events and reply frames onto the send queue: events at once, frames paced at real time
    /// (plus the lead). <c>reply_audio_end</c> waits until the turn's last frame has been released, so it follows it.
    /// </summary>
    private async Task PumpAsync(VoiceSession session, CancellationToken cancellationToken)
    {
        var events = session.Events;
        var audio = session.Audio;
        var pendingEnds = new Queue<ServerEvent>();
        ReplyAudioFrame? held = null;
        long heldDue = 0;
        var anchorTurn = 0;
        long anchor = 0;
        var startedTurn = 0;
        var leadTicks = Stopwatch.Frequency * _options.SendLeadMs / 1000;
        Task<bool>? eventWait = null;
        Task<bool>? audioWait = null;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                while (events.TryRead(out var e))
                {
                    OnEvent(e, pendingEnds, ref held);
                }

                var dropped = Volatile.Read(ref _droppedThroughTurn);
                if (held is not null && held.TurnId <= dropped)
                {
                    held.Dispose();
                    held = null;
                }

                if (held is null && audio.TryRead(out var frame))
                {
                    if (frame.TurnId <= dropped)
                    {
                        frame.Dispose();
                        continue;
                    }

                    var now = Stopwatch.GetTimestamp();
                    var offsetTicks = (long)(frame.OffsetMs * Stopwatch.Frequency / 1000);
                    if (frame.TurnId != anchorTurn || now - (anchor + offsetTicks) > Stopwatch.Frequency / 20)
                    {
                        // A new reply, or generation fell behind playback (the client has run dry): restart the clock here.
                        anchorTurn = frame.TurnId;
                        anchor = now - offsetTicks;
                    }

                    held = frame;
                    heldDue = anchor + offsetTicks - leadTicks;
                }

                if (held is not null)
                {
                    var wait = heldDue - Stopwatch.GetTimestamp();
                    if (wait <= 0)
                    {
                        while (pendingEnds.Count > 0 && pendingEnds.Peek().Turn < held.TurnId)
                        {
                            Outgoing.TryEnqueueEvent(pendingEnds.Dequeue());
                        }

                        Release(held, ref startedTurn);
                        held = null;
                        continue;
                    }

                    eventWait ??= events.WaitToReadAsync(cancellationToken).AsTask();
                    await Task.WhenAny(eventWait, Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency), cancellationToken)).ConfigureAwait(false);
                }
                else
                {
                    while (pendingEnds.Count > 0)
                    {
                        Outgoing.TryEnqueueEvent(pendingEnds.Dequeue());
                    }

                    eventWait ??= events.WaitToReadAsync(cancellationToken).AsTask();
                    audioWait ??= audio.WaitToReadAsync(cancellationToken).AsTask();
                    await Task.WhenAny(eventWait, audioWait).ConfigureAwait(false);
                    if (audioWait.IsCompleted)
                    {
                        audioWait = null;
                    }
                }

                if (eventWait.IsCompleted)
                {
                    if (!eventWait.IsCompletedSuccessfully || !eventWait.Result)
                    {
                        break; // the session closed its event stream (disposed) or we were cancelled
                    }

                    eventWait = null;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The connection is closing.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogError(ex, "Session {Session}: the send pump failed", session.Id);
            Fail(ServerEvent.Failure(ErrorCodes.SessionFailed, "The server failed to send this session's replies.", fatal: true), CloseCodes.SessionFailed);
        }
        finally
        {
            held?.Dispose();
        }
    }

    private void OnEvent(SessionEvent e, Queue<ServerEvent> pendingEnds, ref ReplyAudioFrame? held)
    {
        ServerEvent? message = e.Kind switch
        {
            SessionEventKind.SpeechStarted => new ServerEvent { Type = MessageTypes.VadStart, Turn = e.TurnId, TimeMs = e.TimeMs },
            SessionEventKind.SpeechEnded => new ServerEvent { Type = MessageTypes.VadEnd, Turn = e.TurnId, TimeMs = e.TimeMs },
            SessionEventKind.UserTranscript when !string.IsNullOrEmpty(e.Text) => new ServerEvent { Type = MessageTypes.Transcript, Turn = e.TurnId, Text = e.Text },
            SessionEventKind.ReplyTextDelta => new ServerEvent { Type = MessageTypes.ReplyTextDelta, Turn = e.TurnId, Text = e.Text },
            SessionEventKind.ReplyTextDone => new ServerEvent { Type = MessageTypes.ReplyTextDone, Turn = e.TurnId, Text = e.Text },
            SessionEventKind.ReplyDone => new ServerEvent { Type = MessageTypes.ReplyDone, Turn = e.TurnId, Text = e.Text },
            SessionEventKind.Dtmf => new ServerEvent { Type = MessageTypes.Dtmf, Turn = e.TurnId, Text = e.Text },
            _ => null,
        };

        switch (e.Kind)
        {
            case SessionEventKind.ReplyAudioEnded:
                pendingEnds.Enqueue(new ServerEvent { Type = MessageTypes.ReplyAudioEnd, Turn = e.TurnId, AudioMs = e.AudioMs });
                return;
            case SessionEventKind.ReplyDone when _callActions.ForReply(e.Text) is { } action:
                // Queued behind the turn's reply_audio_end (ReplyAudioEnded precedes ReplyDone), so the client learns of
                // the action once the reply's audio is all sent; a barge-in on the turn drops it with the end.
                pendingEnds.Enqueue(new ServerEvent { Type = MessageTypes.CallAction, Turn = e.TurnId, Action = action.Name, Target = action.Target });
                _metrics.CallAction(Transport, action.Name);
                break;
            case SessionEventKind.BargeIn:
                // Order matters: nothing of the interrupted turn may follow the barge_in message.
                StopReplyAudio(e.TurnId);
                if (held is not null && held.TurnId <= e.TurnId)
                {
                    held.Dispose();
                    held = null;
                }

                while (pendingEnds.Count > 0 && pendingEnds.Peek().Turn <= e.TurnId)
                {
                    pendingEnds.Dequeue();
                }

                message = new ServerEvent { Type = MessageTypes.BargeIn, Turn = e.TurnId, DeliveredMs = e.AudioMs };
                break;
            case SessionEventKind.TurnLatency when e.Latency is { } latency:
                _metrics.TurnCompleted(Transport);
                if (latency.FirstAudioFrameMs is { } firstPacket)
                {
                    _metrics.ObserveFirstPacket(Transport, firstPacket);
                }

                message = new ServerEvent
                {
                    Type = MessageTypes.Latency,
                    Turn = e.TurnId,
                    VadCommitMs = latency.VadCommitMs,
                    EndOfTurn = latency.EndOfTurn,
                    EncoderTailMs = latency.EncoderTailMs,
                    FirstTextTokenMs = latency.FirstTextTokenMs,
                    FirstAudioTokenMs = latency.FirstAudioTokenMs,
                    FirstAudioFrameMs = latency.FirstAudioFrameMs,
                    TotalMs = latency.TotalMs,
                };
                break;
            case SessionEventKind.Error:
                _metrics.Error(Transport, e.Code ?? "engine");
                message = ServerEvent.Failure(e.Code ?? "engine_error", e.Text ?? "The engine reported an error.", fatal: false, e.TurnId);
                break;
        }

        if (message is not null && !Outgoing.TryEnqueueEvent(message))
        {
            // The client has stopped reading altogether: its queue of events is full. Close rather than buffer more.
            _metrics.Error(Transport, ErrorCodes.ClientTooSlow);
            Outgoing.Abort(CloseCodes.ClientTooSlow, ErrorCodes.ClientTooSlow);
            _stop.Cancel();
        }
    }

    private void Release(ReplyAudioFrame frame, ref int startedTurn)
    {
        if (frame.TurnId != startedTurn)
        {
            startedTurn = frame.TurnId;
            Outgoing.TryEnqueueEvent(new ServerEvent
            {
                Type = MessageTypes.ReplyAudioStart,
                Turn = frame.TurnId,
                OutputSampleRate = frame.SampleRate,
                OutputFrameMs = _outputFrameMs,
            });
        }

        var samples = frame.Samples.Span;
        var bytes = ArrayPool<byte>.Shared.Rent(samples.Length * 2);
        for (var i = 0; i < samples.Length; i++)
        {
            var value = (short)Math.Clamp(MathF.Round(samples[i] * 32767f), short.MinValue, short.MaxValue);
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), value);
        }

        if (_guard is { } guard)
        {
            lock (_inputLock)
            {
                guard.AddReference(samples);
            }
        }

        Outgoing.EnqueueAudio(bytes, samples.Length * 2, frame.TurnId);
        frame.Dispose();
    }

    /// <summary>The configured end-of-turn settings, with the client's on/off choice from its hello when it made one.</summary>
    private static SemanticEndOfTurnOptions WithEnabled(SemanticEndOfTurnOptions configured, bool? requested)
    {
        var copy = configured.Clone();
        copy.Enabled = requested ?? configured.Enabled;
        return copy;
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _stop.Cancel();
        try
        {
            await _pump.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // expected
        }

        if (_session is { } session)
        {
            // Disposing waits for the reply workers to stop (they are cancelled first): keep it off the caller's thread.
            await Task.Run(session.Dispose).ConfigureAwait(false);
            _logger.LogInformation("Session {Session} on {Transport} closed after {Turns} turns", session.Id, Transport, session.TurnCount);
        }

        Outgoing.Dispose();
        _lease.Dispose();
        _stop.Dispose();
    }
}
