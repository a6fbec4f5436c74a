namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>
/// Turns per-window speech probabilities into speech start and end events, online, with the rules of Silero's
/// <c>get_speech_timestamps</c> (without its max-speech splitting):
/// <list type="bullet">
/// <item>a segment is triggered by the first window with probability ≥ <see cref="VadOptions.Threshold"/> and starts
/// at that window's first sample;</item>
/// <item>the first later window below the negative threshold marks a tentative end (its first sample); a window at
/// or above the threshold cancels it, windows between the two thresholds neither cancel nor move it; when a window
/// below the negative threshold arrives <see cref="VadOptions.MinSilenceMs"/> or more after the tentative end, the
/// segment ends there;</item>
/// <item>segments not longer than <see cref="VadOptions.MinSpeechMs"/> are dropped; at the end of the stream an open
/// segment ends at the last sample;</item>
/// <item><see cref="VadOptions.SpeechPadMs"/> is taken off each start (never below 0, never before the previous
/// segment's padded end) and added to each end (never past what has been heard).</item>
/// </list>
/// Events are emitted as soon as they are certain: the start once the segment can no longer be dropped as too short
/// (so a start is always followed by an end), the end once the hangover has elapsed. Offline results therefore equal
/// <c>get_speech_timestamps</c> whenever <c>SpeechPadMs ≤ MinSilenceMs / 2</c> (as with the defaults); with larger pads
/// the reference splits the gap between close segments in half, which an online detector cannot know in time, and this
/// class clamps the next start to the previous end instead. Not thread-safe; allocation-free.
/// </summary>
public sealed class VadSegmenter
{
    /// <summary>The most events one <see cref="Push"/> or <see cref="Flush"/> writes.</summary>
    public const int MaxEventsPerCall = 2;

    private readonly float _threshold;
    private readonly float _negativeThreshold;
    private readonly long _minSpeech;
    private readonly long _minSilence;
    private readonly long _pad;
    private long _window;
    private bool _triggered;
    private bool _confirmed;
    private long _start;
    private long _tentativeEnd = -1;
    private long _previousEnd;

    /// <summary>Creates a segmenter for windows of the Silero model at <see cref="VadOptions.SampleRate"/>.</summary>
    /// <exception cref="ArgumentException">The options are invalid (the message lists why).</exception>
    public VadSegmenter(VadOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options.Clone();
        SampleRate = options.SampleRate;
        WindowSamples = SileroVadModel.WindowSamples(SampleRate);
        _threshold = options.Threshold;
        _negativeThreshold = options.EffectiveNegativeThreshold;
        _minSpeech = MsToSamples(options.MinSpeechMs);
        _minSilence = MsToSamples(options.MinSilenceMs);
        _pad = MsToSamples(options.SpeechPadMs);
    }

    /// <summary>A copy of the options in effect.</summary>
    public VadOptions Options { get; }

    /// <summary>The rate sample positions count at.</summary>
    public int SampleRate { get; }

    /// <summary>Samples per window (512 at 16 kHz, 256 at 8 kHz).</summary>
    public int WindowSamples { get; }

    /// <summary>Windows pushed since creation or <see cref="Reset"/>.</summary>
    public long WindowCount => _window;

    /// <summary>Whether a speech start has been emitted and its end has not.</summary>
    public bool IsSpeechActive => _triggered && _confirmed;

    /// <summary>Whether a segment is open, confirmed or not yet long enough to be reported.</summary>
    public bool IsSegmentOpen => _triggered;

    /// <summary>
    /// Where the silence that may end the confirmed segment began (the tentative end, a window's first sample), or -1
    /// while the caller is speaking. Read by the semantic end-of-turn check before the hangover has elapsed.
    /// </summary>
    public long PendingEndSample => _triggered && _confirmed ? _tentativeEnd : -1;

    /// <summary>Samples of silence heard since <see cref="PendingEndSample"/> (0 while the caller is speaking).</summary>
    public long PendingSilenceSamples => PendingEndSample < 0 ? 0 : (_window * WindowSamples) - _tentativeEnd;

    /// <summary>
    /// Feeds the probability of the next window; writes the events it causes (at most <see cref="MaxEventsPerCall"/>)
    /// to <paramref name="events"/> and returns how many.
    /// </summary>
    public int Push(float probability, Span<VadEvent> events)
    {
        CheckRoom(events);
        return Step(probability, events, endOfStream: long.MaxValue);
    }

    /// <summary>
    /// Ends the stream of <paramref name="totalSamples"/> samples. When the last window was only partly filled, pass its
    /// probability as <paramref name="partialWindowProbability"/> (it is scored but cannot by itself make a segment long
    /// enough). An open segment then ends at <paramref name="totalSamples"/> and is reported if it is long enough.
    /// Returns the number of events written (at most <see cref="MaxEventsPerCall"/>). Call <see cref="Reset"/> before reuse.
    /// </summary>
    public int Flush(long totalSamples, Span<VadEvent> events, float? partialWindowProbability = null)
    {
        CheckRoom(events);
        var full = _window * WindowSamples;
        var valid = partialWindowProbability.HasValue
            ? totalSamples > full && totalSamples < full + WindowSamples
            : totalSamples == full;
        if (!valid)
        {
            throw new ArgumentOutOfRangeException(
                nameof(totalSamples),
                totalSamples,
                partialWindowProbability.HasValue
                    ? $"After {_window} full windows and a partial one the stream has from {full + 1} to {full + WindowSamples - 1} samples."
                    : $"After {_window} full windows the stream has {full} samples.");
        }

        var count = 0;
        if (partialWindowProbability is { } p)
        {
            count = Step(p, events, endOfStream: totalSamples);
        }

        if (_triggered)
        {
            count += Close(totalSamples, totalSamples, events[count..]);
        }

        return count;
    }

    /// <summary>
    /// Ends the confirmed segment at its pending end without waiting for <see cref="VadOptions.MinSilenceMs"/> (the
    /// turn was judged complete by other means): writes the end event and returns 1, or 0 when no confirmed segment has
    /// a pending end. Speech after it starts a new segment, so a caller who was not done is heard as a barge-in.
    /// </summary>
    public int EndPendingSegment(Span<VadEvent> events)
    {
        CheckRoom(events);
        if (PendingEndSample < 0)
        {
            return 0;
        }

        var heard = _window * WindowSamples;
        return Close(_tentativeEnd, Math.Min(_tentativeEnd + _pad, heard), events);
    }

    /// <summary>Starts over for a new stream.</summary>
    public void Reset()
    {
        _window = 0;
        _triggered = false;
        _confirmed = false;
        _start = 0;
        _tentativeEnd = -1;
        _previousEnd = 0;
    }

    private static void CheckRoom(Span<VadEvent> events)
    {
        if (events.Length < MaxEventsPerCall)
        {
            throw new ArgumentException($"The event span must hold {MaxEventsPerCall} events.", nameof(events));
        }
    }

    private long MsToSamples(int ms) => (long)SampleRate * ms / 1000;

    private int Step(float probability, Span<VadEvent> events, long endOfStream)
    {
        var position = _window * WindowSamples;
        _window++;
        var heard = Math.Min(_window * WindowSamples, endOfStream);
        var final = endOfStream != long.MaxValue;

        if (probability >= _threshold && _tentativeEnd >= 0)
        {
            _tentativeEnd = -1;
        }

        if (probability >= _threshold && !_triggered)
        {
            _triggered = true;
            _confirmed = false;
            _start = position;
            return final ? 0 : TryConfirm(position + WindowSamples, events);
        }

        if (probability < _negativeThreshold && _triggered)
        {
            if (_tentativeEnd < 0)
            {
                _tentativeEnd = position;
            }

            if (position - _tentativeEnd >= _minSilence)
            {
                return Close(_tentativeEnd, Math.Min(_tentativeEnd + _pad, heard), events);
            }
        }

        if (_triggered && !_confirmed && !final)
        {
            // The earliest the segment can still end: the pending tentative end, else the next window.
            return TryConfirm(_tentativeEnd >= 0 ? _tentativeEnd : position + WindowSamples, events);
        }

        return 0;
    }

    private int TryConfirm(long earliestEnd, Span<VadEvent> events)
    {
        if (earliestEnd - _start <= _minSpeech)
        {
            return 0;
        }

        _confirmed = true;
        events[0] = new VadEvent(VadEventKind.SpeechStart, Math.Max(Math.Max(_start - _pad, 0), _previousEnd), SampleRate);
        return 1;
    }

    private int Close(long end, long paddedEnd, Span<VadEvent> events)
    {
        var count = 0;
        if (end - _start > _minSpeech)
        {
            if (!_confirmed)
            {
                count = TryConfirm(end, events);
            }

            events[count++] = new VadEvent(VadEventKind.SpeechEnd, paddedEnd, SampleRate);
            _previousEnd = paddedEnd;
        }

        _triggered = false;
        _confirmed = false;
        _tentativeEnd = -1;
        return count;
    }
}
