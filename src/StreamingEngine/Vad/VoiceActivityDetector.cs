using VoiceAgent.Core.Audio;

namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>
/// One caller's complete VAD: optional resampling (Core <see cref="Resampler"/>) from the input rate to the model
/// rate <see cref="VadOptions.SampleRate"/>, a <see cref="SileroVadStream"/> and a <see cref="VadSegmenter"/>. Feed
/// audio in chunks of any size with <see cref="Process"/>; <see cref="SpeechStarted"/> and <see cref="SpeechEnded"/>
/// are raised synchronously, inside that call, as soon as they are known. Event positions count samples at the model
/// rate; the resampler is delay-compensated, so they line up with the input in time. Allocation-free in steady state.
/// Not thread-safe. For whole files use <see cref="DetectSegments(SileroVadModel, ReadOnlySpan{float}, int, VadOptions)"/>.
/// </summary>
public sealed class VoiceActivityDetector : IDisposable
{
    // Input is handled in blocks of at most this many samples so the scratch buffers have a fixed size.
    private const int BlockSamples = 4096;

    private readonly SileroVadStream _stream;
    private readonly VadSegmenter _segmenter;
    private readonly Resampler? _resampler;
    private readonly VadEvent[] _events = new VadEvent[VadSegmenter.MaxEventsPerCall];
    private readonly float[] _probabilities;
    private float[] _resampled;
    private bool _flushed;

    /// <summary>
    /// Creates a detector for audio at <paramref name="inputSampleRate"/>. The model runs at
    /// <see cref="VadOptions.SampleRate"/>; other input rates are resampled to it.
    /// (<see cref="PreferredModelRate"/> gives the rate to choose for an input rate.)
    /// </summary>
    /// <exception cref="ArgumentException">The options are invalid (the message lists why).</exception>
    public VoiceActivityDetector(SileroVadModel model, VadOptions options, int inputSampleRate)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputSampleRate);
        _segmenter = new VadSegmenter(options);
        InputSampleRate = inputSampleRate;
        if (inputSampleRate != _segmenter.SampleRate)
        {
            _resampler = new Resampler(inputSampleRate, _segmenter.SampleRate);
        }

        var blockOut = _resampler?.GetMaxOutputLength(BlockSamples) ?? BlockSamples;
        _resampled = _resampler is null ? [] : new float[blockOut];
        _stream = model.CreateStream(_segmenter.SampleRate);
        _probabilities = new float[(blockOut / _stream.WindowSamples) + 2];
    }

    /// <summary>Raised when a speech segment has started (and is long enough to be kept): barge-in.</summary>
    public event EventHandler<VadEvent>? SpeechStarted;

    /// <summary>Raised when the segment has ended (after the silence hangover, or at <see cref="Flush"/>): end of turn.</summary>
    public event EventHandler<VadEvent>? SpeechEnded;

    /// <summary>The rate <see cref="Process"/> expects.</summary>
    public int InputSampleRate { get; }

    /// <summary>The model rate; event positions count samples at this rate.</summary>
    public int ModelSampleRate => _segmenter.SampleRate;

    /// <summary>Whether input is resampled before the model.</summary>
    public bool Resamples => _resampler is not null;

    /// <summary>A copy of the options in effect.</summary>
    public VadOptions Options => _segmenter.Options;

    /// <summary>The underlying stream (probabilities, window counts).</summary>
    public SileroVadStream Stream => _stream;

    /// <summary>Whether speech has started and not yet ended.</summary>
    public bool IsSpeechActive => _segmenter.IsSpeechActive;

    /// <summary>The probability of the latest window.</summary>
    public float LastProbability => _stream.LastProbability;

    /// <summary>
    /// The model rate to use for input at <paramref name="inputSampleRate"/>: 8000 for 8 kHz input (Silero has a native
    /// 8 kHz mode, so telephone audio is not upsampled; see docs/vad.md), 16000 for everything else.
    /// </summary>
    public static int PreferredModelRate(int inputSampleRate) => inputSampleRate == 8000 ? 8000 : 16000;

    /// <summary>Model-rate sample where the silence that may end the current speech began, or -1 while speech goes on.</summary>
    public long PendingEndSample => _segmenter.PendingEndSample;

    /// <summary>Milliseconds of silence heard since <see cref="PendingEndSample"/> (0 while speech goes on).</summary>
    public double PendingSilenceMs => _segmenter.PendingSilenceSamples * 1000.0 / _segmenter.SampleRate;

    /// <summary>Ends the current speech at its pending end now, raising <see cref="SpeechEnded"/>; false when there is none.</summary>
    public bool EndSpeechNow()
    {
        var count = _segmenter.EndPendingSegment(_events);
        Raise(count);
        return count > 0;
    }

    /// <summary>Consumes <paramref name="samples"/> at <see cref="InputSampleRate"/>, raising events as they become known.</summary>
    public void Process(ReadOnlySpan<float> samples)
    {
        if (_flushed)
        {
            throw new InvalidOperationException("The detector was flushed; call Reset to start a new stream.");
        }

        while (!samples.IsEmpty)
        {
            var n = Math.Min(samples.Length, BlockSamples);
            if (_resampler is null)
            {
                Run(samples[..n]);
            }
            else
            {
                var produced = _resampler.Process(samples[..n], _resampled);
                Run(_resampled.AsSpan(0, produced));
            }

            samples = samples[n..];
        }
    }

    /// <summary>Ends the stream: scores the last partial window and closes an open segment (raising its events).</summary>
    public void Flush()
    {
        if (_flushed)
        {
            return;
        }

        _flushed = true;
        if (_resampler is not null)
        {
            var tail = _resampler.GetFlushLength();
            if (tail > _resampled.Length)
            {
                _resampled = new float[tail];
            }

            var produced = _resampler.Flush(_resampled);
            Run(_resampled.AsSpan(0, produced));
        }

        var partial = _stream.Flush(_probabilities) == 1 ? _probabilities[0] : (float?)null;
        Raise(_segmenter.Flush(_stream.SampleCount, _events, partial));
    }

    /// <summary>Starts a new stream (model state, buffers, resampler history and segmenter all reset).</summary>
    public void Reset()
    {
        _stream.Reset();
        _segmenter.Reset();
        _resampler?.Reset();
        _flushed = false;
    }

    /// <summary>Releases the stream's tensors.</summary>
    public void Dispose() => _stream.Dispose();

    /// <summary>
    /// Whole-signal helper: runs <paramref name="samples"/> at <paramref name="sampleRate"/> through a fresh detector
    /// (model at <see cref="VadOptions.SampleRate"/>), flushes, and returns the segments in order.
    /// </summary>
    public static IReadOnlyList<SpeechSegment> DetectSegments(SileroVadModel model, ReadOnlySpan<float> samples, int sampleRate, VadOptions options)
    {
        using var detector = new VoiceActivityDetector(model, options, sampleRate);
        var segments = new List<SpeechSegment>();
        long start = -1;
        detector.SpeechStarted += (_, e) => start = e.Sample;
        detector.SpeechEnded += (_, e) => segments.Add(new SpeechSegment(start, e.Sample, e.SampleRate));
        detector.Process(samples);
        detector.Flush();
        return segments;
    }

    /// <summary>Whole-clip helper: <see cref="DetectSegments(SileroVadModel, ReadOnlySpan{float}, int, VadOptions)"/> on <paramref name="clip"/>.</summary>
    public static IReadOnlyList<SpeechSegment> DetectSegments(SileroVadModel model, AudioClip clip, VadOptions options)
    {
        ArgumentNullException.ThrowIfNull(clip);
        return DetectSegments(model, clip.Samples, clip.SampleRate, options);
    }

    private void Run(ReadOnlySpan<float> samples)
    {
        // Slices small enough that their windows fit _probabilities whatever is buffered.
        var slice = (_probabilities.Length - 1) * _stream.WindowSamples;
        while (!samples.IsEmpty)
        {
            var n = Math.Min(samples.Length, slice);
            var windows = _stream.Process(samples[..n], _probabilities);
            for (var i = 0; i < windows; i++)
            {
                Raise(_segmenter.Push(_probabilities[i], _events));
            }

            samples = samples[n..];
        }
    }

    private void Raise(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var e = _events[i];
            (e.Kind == VadEventKind.SpeechStart ? SpeechStarted : SpeechEnded)?.Invoke(this, e);
        }
    }
}
