using VoiceAgent.Gateway.Metrics;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Calls;

/// <summary>
/// Connects one telephone leg (8 kHz, 20 ms frames) to an engine session like any other caller: the session
/// resamples 8 kHz to the model rate and back, so both directions stay 8 kHz here. It counts what the call sends and
/// turns session events into call statistics, gateway metrics and <see cref="CallRegistry.SessionEvent"/>.
/// </summary>
public sealed class EngineCallBridge : IDisposable
{
    public const int SampleRate = 8000;
    public const int FrameMs = 20;

    /// <summary>Reply audio the engine may generate ahead of the RTP clock (as <c>Gateway:GenerationLeadMs</c> for WebSocket callers).</summary>
    public const int GenerationLeadMs = 1000;
    public const int FrameSamples = SampleRate * FrameMs / 1000;

    private readonly CallRecord _record;
    private readonly CallRegistry _registry;
    private readonly GatewayMetrics _metrics;
    private readonly string _transport;
    private readonly ILogger _logger;
    private int _disposed;

    private EngineCallBridge(VoiceSession session, CallRecord record, CallRegistry registry, GatewayMetrics metrics, string transport, ILogger logger)
    {
        Session = session;
        _record = record;
        _registry = registry;
        _metrics = metrics;
        _transport = transport;
        _logger = logger;
    }

    public VoiceSession Session { get; }

    /// <summary>Opens the engine session for a call (a few milliseconds; never called on the SIP thread).</summary>
    public static EngineCallBridge Open(
        VoiceAgentEngine engine,
        TelephonyOptions options,
        CallRecord record,
        CallRegistry registry,
        GatewayMetrics metrics,
        string transport,
        ILogger logger)
    {
        var session = engine.OpenSession(new VoiceSessionOptions
        {
            InputSampleRate = SampleRate,
            OutputSampleRate = SampleRate,
            OutputFrameMs = FrameMs,
            BargeInEnabled = options.BargeInEnabled,
            SemanticEndOfTurn = options.SemanticEndOfTurn.Clone(),
            AudioQueueFrames = GenerationLeadMs / FrameMs, // generation waits when a second ahead of the RTP clock (see GatewayOptions.GenerationLeadMs)
        });
        return new EngineCallBridge(session, record, registry, metrics, transport, logger);
    }

    /// <summary>Caller audio, 16-bit PCM at 8 kHz.</summary>
    public void PushCaller(ReadOnlySpan<short> pcm) => Session.PushPcm16(pcm);

    public void PushDtmf(char digit) => Session.PushDtmf(digit);

    /// <summary>
    /// Takes the next reply frame into <paramref name="destination"/> (160 samples; a short last frame is padded
    /// with silence) and returns true, or returns false when no reply audio is waiting.
    /// </summary>
    public bool TryReadReply(Span<float> destination, out int turnId)
    {
        turnId = 0;
        if (!Session.Audio.TryRead(out var frame))
        {
            return false;
        }

        using (frame)
        {
            var samples = frame.Samples.Span;
            var n = Math.Min(samples.Length, destination.Length);
            samples[..n].CopyTo(destination);
            destination[n..].Clear();
            turnId = frame.TurnId;
            _record.ReplyFrame(destination);
        }

        return true;
    }

    /// <summary>Reads the session's events until it closes; <paramref name="onEvent"/> sees each one after the bookkeeping.</summary>
    public async Task RunEventsAsync(Action<SessionEvent>? onEvent, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var e in Session.Events.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                switch (e.Kind)
                {
                    case SessionEventKind.BargeIn:
                        _record.BargeIn();
                        _logger.LogInformation("Call {Call}: barge-in after {Ms} ms of reply", _record.Id, e.AudioMs);
                        break;
                    case SessionEventKind.Dtmf:
                        _record.Digit(e.Text is { Length: > 0 } d ? d[0] : '?');
                        _logger.LogInformation("Call {Call}: DTMF {Digit}", _record.Id, e.Text);
                        break;
                    case SessionEventKind.TurnLatency when e.Latency?.FirstAudioFrameMs is { } first:
                        _metrics.ObserveFirstPacket(_transport, first);
                        break;
                    case SessionEventKind.ReplyDone:
                        _record.TurnDone();
                        _metrics.TurnCompleted(_transport);
                        break;
                    case SessionEventKind.Error:
                        _metrics.Error(_transport, e.Code ?? "session_error");
                        break;
                }

                _registry.Publish(_record, e);
                onEvent?.Invoke(e);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The call ended.
        }
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Session.Dispose();
        }
    }
}
