using System.Diagnostics;
using VoiceAgent.Perf.Corpus;

namespace VoiceAgent.Perf.Load;

/// <summary>How a simulated caller behaves.</summary>
internal sealed record CallerOptions
{
    /// <summary>Audio frame length; the caller sends one frame per period, on an absolute real-time schedule.</summary>
    public int FrameMs { get; init; } = 20;

    /// <summary>
    /// Playout (jitter) buffer of the simulated caller: reply audio later than this behind schedule is an underrun.
    /// 80 ms, as the browser client's playback worklet (<c>startMs</c> in web-client/playback-worklet.js).
    /// </summary>
    public double PlayoutBufferMs { get; init; } = 80;

    /// <summary>A frame sent later than this behind its capture time counts as dropped (a real capture buffer would overflow).</summary>
    public double DropAfterMs { get; init; } = 100;

    /// <summary>Give up on a reply this long after the last voiced sample.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Callers start at uniform random offsets within this window (a ramp): about one turn cycle (question, reply,
    /// pause), so a run measures steady state rather than N callers committing their first turn in the same second.
    /// </summary>
    public TimeSpan Ramp { get; init; } = TimeSpan.FromSeconds(6);

    /// <summary>Silence between hearing a reply end and speaking again (uniform in this range, ms).</summary>
    public (int Min, int Max) ThinkMs { get; init; } = (400, 900);
}

/// <summary>One simulated caller's outcome.</summary>
internal sealed record SessionResult(int Session, IReadOnlyList<TurnRecord> Turns, IReadOnlyList<double> SendLagMs, int DroppedFrames, int StraySignals, string? Failure);

/// <summary>
/// Drives one caller: streams each turn's clip in real time (then silence, as a live microphone would), listens to the
/// reply as if playing it, waits a moment, speaks the next turn. A sender task paces the frames against the clock; a
/// receiver task timestamps every signal on arrival and files it under the current turn.
/// </summary>
internal sealed class SessionDriver(int session, IVoiceConnection connection, IReadOnlyList<(BenchClip Clip, short[] Pcm)> turns, CallerOptions options, int seed)
{
    private readonly List<TurnRecord> _records = new(turns.Count);
    private readonly List<double> _sendLagMs = new(4096);
    private TurnRecord? _current;
    private int _stray;
    private int _dropped;
    private long _next;

    public async Task<SessionResult> RunAsync(TimeSpan startDelay, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var receiver = Task.Run(() => ReceiveAsync(stop.Token), CancellationToken.None);
        string? failure = null;
        try
        {
            await Task.Delay(startDelay, cancellationToken).ConfigureAwait(false);
            await SpeakAllTurnsAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            failure = ex.Message;
        }
        finally
        {
            Volatile.Write(ref _current, null);
            await stop.CancelAsync().ConfigureAwait(false);
            await receiver.ConfigureAwait(false);
        }

        return new SessionResult(session, _records, _sendLagMs, _dropped, _stray, failure);
    }

    private async Task SpeakAllTurnsAsync(CancellationToken cancellationToken)
    {
        var rate = connection.InputSampleRate;
        if (rate != BenchCorpus.SampleRate)
        {
            throw new InvalidOperationException($"the corpus is {BenchCorpus.SampleRate} Hz but the connection takes {rate} Hz.");
        }

        var frameSamples = rate * options.FrameMs / 1000;
        var frame = new short[frameSamples];
        var random = new Random(seed);
        _next = Stopwatch.GetTimestamp();
        for (var t = 0; t < turns.Count; t++)
        {
            var (clip, pcm) = turns[t];
            var record = new TurnRecord { Session = session, Turn = t, ClipId = clip.Id, ClipSource = clip.Source, SpeechMs = clip.SpeechMs, Intent = clip.Intent };
            _records.Add(record);
            Volatile.Write(ref _current, record);

            // The frame holding sample SpeechEndSample - 1 is the last one with voice in it.
            var lastVoicedFrame = (clip.SpeechEndSample - 1) / frameSamples;
            var frames = (pcm.Length + frameSamples - 1) / frameSamples;
            for (var f = 0; f < frames; f++)
            {
                var offset = f * frameSamples;
                var count = Math.Min(frameSamples, pcm.Length - offset);
                pcm.AsSpan(offset, count).CopyTo(frame);
                frame.AsSpan(count).Clear();
                await SendOnScheduleAsync(frame, f == lastVoicedFrame ? record : null, cancellationToken).ConfigureAwait(false);
            }

            // Keep the microphone open (silence) while the reply is heard, or until the reply never comes.
            frame.AsSpan().Clear();
            var giveUp = record.LastVoicedSent + (long)(options.ReplyTimeout.TotalSeconds * Stopwatch.Frequency);
            while (!record.PlayoutDone(Stopwatch.GetTimestamp(), connection.OutputSampleRate, options.PlayoutBufferMs) && Stopwatch.GetTimestamp() < giveUp)
            {
                await SendOnScheduleAsync(frame, null, cancellationToken).ConfigureAwait(false);
            }

            record.Completed = record.PlayoutDone(Stopwatch.GetTimestamp(), connection.OutputSampleRate, options.PlayoutBufferMs);
            var think = random.Next(options.ThinkMs.Min, options.ThinkMs.Max + 1) / options.FrameMs;
            for (var i = 0; i < think; i++)
            {
                await SendOnScheduleAsync(frame, null, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Waits for the frame's capture time (absolute schedule, no drift), sends it, and records how late it went out. A
    /// caller that fell behind catches up by sending the due frames back to back, like a buffered capture device.
    /// </summary>
    private async ValueTask SendOnScheduleAsync(short[] frame, TurnRecord? lastVoicedOf, CancellationToken cancellationToken)
    {
        var now = Stopwatch.GetTimestamp();
        var wait = Stopwatch.GetElapsedTime(now, _next);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
            now = Stopwatch.GetTimestamp();
        }

        var lagMs = Stopwatch.GetElapsedTime(_next, now).TotalMilliseconds;
        _sendLagMs.Add(lagMs);
        if (lagMs > options.DropAfterMs)
        {
            _dropped++;
        }

        if (lastVoicedOf is not null)
        {
            lastVoicedOf.LastVoicedSent = now;
        }

        await connection.SendAsync(frame, cancellationToken).ConfigureAwait(false);
        _next += (long)(options.FrameMs * Stopwatch.Frequency / 1000.0);
    }

    private async Task ReceiveAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var signal in connection.Signals.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (Volatile.Read(ref _current) is { } turn)
                {
                    turn.OnSignal(signal, connection.OutputSampleRate, options.PlayoutBufferMs);
                }
                else if (signal.Kind != SignalKind.Closed)
                {
                    _stray++;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The session is over.
        }
    }
}
