namespace VoiceAgent.Core.Audio;

/// <summary>
/// Causal, incremental Whisper-style log-mel (the "Streaming" mode of docs/audio-frontend.md) for 16 kHz input.
/// <para>
/// Frame i is centred at sample 160·i and covers samples [160·i − 200, 160·i + 200) through the periodic Hann window;
/// negative indices reflect (x[−k] = x[k], as Whisper's left padding), so frames equal Whisper's away from the end.
/// Frame i is emitted as soon as sample 160·i + 199 has arrived (the window's first tap is zero, so x[−200] never
/// matters). <see cref="Flush"/> zero-pads the end (zeros, not reflection) and emits frames until the total count is
/// the smallest multiple of <see cref="GroupFrames"/> that is ≥ ceil(samples / 160). The clamp uses the running
/// maximum (over all bins of all frames emitted so far in this stream, current frame included): value =
/// (max(v, runningMax − 8) + 4) / 4.
/// </para>
/// <para>
/// Output is frame-major: each frame is <see cref="MelBins"/> consecutive floats. Chunking never changes the output.
/// Steady-state processing allocates nothing; not thread-safe; <see cref="Reset"/> starts a new stream (turn).
/// </para>
/// </summary>
public sealed class StreamingLogMel
{
    /// <summary>Default frame group: 8 frames = 80 ms, the incremental encoder's chunk.</summary>
    public const int DefaultGroupFrames = 8;

    private const int Hop = MelFrameAnalyzer.HopLength;
    private const int Window = MelFrameAnalyzer.FftSize;
    private const int HalfWindow = Window / 2;
    private const int BlockSize = 4096;

    private readonly MelFrameAnalyzer _analyzer;
    private readonly float[] _buffer = new float[Window + BlockSize];
    private readonly float[] _frame = new float[Window];
    private long _bufferStart;
    private int _bufferCount;
    private long _samples;
    private long _frames;
    private float _runningMax;
    private bool _flushed;

    /// <summary>Creates a stream with <paramref name="melBins"/> (80 or 128 for Whisper models) bins.</summary>
    public StreamingLogMel(int melBins = 80, int groupFrames = DefaultGroupFrames)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(melBins);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groupFrames);
        _analyzer = new MelFrameAnalyzer(melBins);
        GroupFrames = groupFrames;
        Reset();
    }

    /// <summary>Mel bins per frame.</summary>
    public int MelBins => _analyzer.MelBins;

    /// <summary>Flush pads the frame count to a multiple of this.</summary>
    public int GroupFrames { get; }

    /// <summary>The mel filters in use.</summary>
    public MelFilterBank Filters => _analyzer.Filters;

    /// <summary>Samples received in this stream.</summary>
    public long SamplesReceived => _samples;

    /// <summary>Frames emitted in this stream.</summary>
    public long FramesEmitted => _frames;

    /// <summary>The running maximum of log10(mel) (negative infinity before the first frame).</summary>
    public float RunningMax => _runningMax;

    /// <summary>Frames a whole stream of <paramref name="samples"/> samples yields (Process + Flush).</summary>
    public long GetTotalFrameCount(long samples)
    {
        var frames = (samples + Hop - 1) / Hop;
        return (frames + GroupFrames - 1) / GroupFrames * GroupFrames;
    }

    /// <summary>An upper bound on the frames one <see cref="Process"/> call with <paramref name="samples"/> samples emits.</summary>
    public static int GetMaxFrames(int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        return (samples / Hop) + 1;
    }

    /// <summary>Exactly the frames <see cref="Flush"/> would emit now.</summary>
    public int GetFlushFrameCount() => _flushed ? 0 : (int)(GetTotalFrameCount(_samples) - _frames);

    /// <summary>Starts a new stream: clears samples, frame count and running maximum.</summary>
    public void Reset()
    {
        _bufferStart = 0;
        _bufferCount = 0;
        _samples = 0;
        _frames = 0;
        _runningMax = float.NegativeInfinity;
        _flushed = false;
    }

    /// <summary>
    /// Consumes 16 kHz <paramref name="samples"/> and writes every frame that is now complete into
    /// <paramref name="output"/> (frame-major); returns the number of frames written. <paramref name="output"/> must
    /// hold <see cref="GetMaxFrames"/>(samples.Length) × <see cref="MelBins"/> floats.
    /// </summary>
    public int Process(ReadOnlySpan<float> samples, Span<float> output)
    {
        if (_flushed)
        {
            throw new InvalidOperationException("The stream was flushed; call Reset to start a new one.");
        }

        if (samples.IsEmpty)
        {
            return 0;
        }

        var needed = GetMaxFrames(samples.Length) * MelBins;
        if (output.Length < needed)
        {
            throw new ArgumentException($"The output span must hold at least GetMaxFrames({samples.Length}) × MelBins = {needed} floats.", nameof(output));
        }

        var written = 0;
        while (!samples.IsEmpty)
        {
            var n = Math.Min(_buffer.Length - _bufferCount, samples.Length);
            samples[..n].CopyTo(_buffer.AsSpan(_bufferCount));
            _bufferCount += n;
            _samples += n;
            samples = samples[n..];

            // Frame i is complete once sample 160·i + 199 has arrived.
            while ((_frames * Hop) + HalfWindow <= _samples)
            {
                EmitFrame(output.Slice(written * MelBins, MelBins), _samples);
                written++;
            }

            Compact();
        }

        return written;
    }

    /// <summary>
    /// Ends the stream: zero-pads and writes the remaining <see cref="GetFlushFrameCount"/> frames (frame-major);
    /// returns their number. Call <see cref="Reset"/> before the next stream.
    /// </summary>
    public int Flush(Span<float> output)
    {
        var count = GetFlushFrameCount();
        if (output.Length < count * MelBins)
        {
            throw new ArgumentException($"The output span must hold at least GetFlushFrameCount() × MelBins = {count * MelBins} floats.", nameof(output));
        }

        _flushed = true;
        for (var k = 0; k < count; k++)
        {
            EmitFrame(output.Slice(k * MelBins, MelBins), _samples);
        }

        return count;
    }

    private void EmitFrame(Span<float> destination, long available)
    {
        var start = (_frames * Hop) - HalfWindow;
        var frame = _frame.AsSpan();

        // The periodic Hann window is 0 at tap 0, so that sample (x[−200] for frame 0) never matters.
        frame[0] = 0f;
        for (var j = 1; j < Window; j++)
        {
            var a = start + j;
            if (a < 0)
            {
                a = -a;
            }

            frame[j] = a < available ? _buffer[(int)(a - _bufferStart)] : 0f;
        }

        var frameMax = _analyzer.Analyze(frame, destination);
        _runningMax = Math.Max(_runningMax, frameMax);
        var floor = _runningMax - LogMel.DynamicRange;
        for (var m = 0; m < destination.Length; m++)
        {
            destination[m] = (Math.Max(destination[m], floor) + 4f) / 4f;
        }

        _frames++;
    }

    private void Compact()
    {
        // Keep from the first sample the next frame reads; the first two frames also read x[1..200] (reflection).
        var keepFrom = Math.Max(0, (_frames * Hop) - HalfWindow) - _bufferStart;
        keepFrom = Math.Min(keepFrom, _bufferCount);
        if (keepFrom <= 0)
        {
            return;
        }

        var keep = _bufferCount - (int)keepFrom;
        Array.Copy(_buffer, (int)keepFrom, _buffer, 0, keep);
        _bufferStart += keepFrom;
        _bufferCount = keep;
    }
}
