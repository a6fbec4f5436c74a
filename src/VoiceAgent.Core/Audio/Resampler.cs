using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VoiceAgent.Core.Audio;

/// <summary>
/// Streaming polyphase windowed-sinc sample-rate converter for any rational ratio L/M (in lowest terms, L ≤ 4096),
/// e.g. among 8000, 16000, 22050, 24000, 44100 and 48000 Hz.
/// <para>
/// Design: a Kaiser-windowed (β = <see cref="KaiserBeta"/>, ≈ 90 dB stop band) sinc low-pass with its −6 dB cut-off at
/// <see cref="CutoffFraction"/> of the lower Nyquist frequency and a transition band from <see cref="PassbandFraction"/>
/// to 1.0 of the lower Nyquist frequency (so nothing aliases into, or images out of, the lower band). The filter is
/// zero-phase in the index sense: output sample <c>n</c> is the band-limited input evaluated at input time
/// <c>n·M/L</c> (input samples before the stream start are zeros), so output is aligned with input like SoX's
/// delay-compensated <c>rate</c>. Each output uses the <c>2·HalfWidth</c> input samples around that instant; the
/// coefficients of each of the L phases are normalised to unit DC gain.
/// </para>
/// <para>
/// Streaming: <see cref="Process"/> accepts any chunking and emits each output as soon as the input it needs has
/// arrived (<see cref="DelayInputSamples"/> input samples of look-ahead); <see cref="Flush"/> pads zeros and emits
/// the tail, so a stream of N inputs yields exactly <c>ceil(N·L/M)</c> outputs. Every output is computed from the
/// same samples with the same arithmetic whatever the chunking, so chunked output is bit-identical to whole-buffer
/// output. Steady-state processing allocates nothing. Not thread-safe.
/// </para>
/// </summary>
public sealed class Resampler
{
    /// <summary>Pass band edge as a fraction of the lower of the two Nyquist frequencies.</summary>
    public const double PassbandFraction = 0.91;

    /// <summary>−6 dB cut-off as a fraction of the lower of the two Nyquist frequencies (the transition ends at 1.0).</summary>
    public const double CutoffFraction = 0.955;

    /// <summary>Design stop-band attenuation in dB.</summary>
    public const double StopbandAttenuationDb = 90;

    /// <summary>Kaiser window β for <see cref="StopbandAttenuationDb"/> (0.1102·(A − 8.7)).</summary>
    public const double KaiserBeta = 0.1102 * (StopbandAttenuationDb - 8.7);

    private const int MaxPhases = 4096;
    private const int BlockSize = 4096;

    private readonly int _up;
    private readonly int _down;
    private readonly int _downQuotient;
    private readonly int _downRemainder;
    private readonly int _halfWidth;
    private readonly int _taps;
    private readonly float[] _coefficients;
    private readonly float[] _buffer;
    private readonly bool _passThrough;

    private long _bufferStart;
    private int _bufferCount;
    private long _inputCount;
    private long _outputCount;
    private long _nextBase;
    private int _nextPhase;
    private bool _flushed;

    /// <summary>Creates a converter from <paramref name="inputRate"/> to <paramref name="outputRate"/> Hz.</summary>
    public Resampler(int inputRate, int outputRate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inputRate);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outputRate);
        InputRate = inputRate;
        OutputRate = outputRate;
        var gcd = Gcd(inputRate, outputRate);
        _up = outputRate / gcd;
        _down = inputRate / gcd;
        if (_up > MaxPhases)
        {
            throw new ArgumentException($"The ratio {outputRate}/{inputRate} needs {_up} filter phases; at most {MaxPhases} are supported.", nameof(outputRate));
        }

        _downQuotient = _down / _up;
        _downRemainder = _down % _up;
        _passThrough = _up == _down;
        if (_passThrough)
        {
            _coefficients = [];
            _buffer = [];
            return;
        }

        var lowerNyquist = Math.Min(inputRate, outputRate) / 2.0;

        // Kaiser's estimate of the length for the transition (1 − PassbandFraction)·lowerNyquist, in input samples.
        var transition = (1 - PassbandFraction) * lowerNyquist / inputRate;
        var length = (StopbandAttenuationDb - 7.95) / (14.36 * transition);

        // Round the half width up to a multiple of 8 so the tap count is a multiple of 16 (whole SIMD vectors).
        _halfWidth = ((int)Math.Ceiling(length / 2) + 7) / 8 * 8;
        _taps = 2 * _halfWidth;
        _coefficients = BuildCoefficients(_up, _halfWidth, CutoffFraction * lowerNyquist / inputRate);
        _buffer = new float[_taps + BlockSize];
        Reset();
    }

    /// <summary>Input sample rate in Hz.</summary>
    public int InputRate { get; }

    /// <summary>Output sample rate in Hz.</summary>
    public int OutputRate { get; }

    /// <summary>Half the filter span in input samples (the filter has <c>2·HalfWidth</c> taps per phase).</summary>
    public int HalfWidth => _halfWidth;

    /// <summary>Look-ahead in input samples: output for input time t is emitted once input sample <c>floor(t) + DelayInputSamples</c> has arrived.</summary>
    public int DelayInputSamples => _halfWidth;

    /// <summary>Interpolation factor L (output rate / gcd).</summary>
    public int UpFactor => _up;

    /// <summary>Decimation factor M (input rate / gcd).</summary>
    public int DownFactor => _down;

    /// <summary>Total outputs a whole stream of <paramref name="inputLength"/> samples produces (Process + Flush): <c>ceil(N·L/M)</c>.</summary>
    public long GetTotalOutputLength(long inputLength) => (inputLength * _up + _down - 1) / _down;

    /// <summary>An upper bound on what one <see cref="Process"/> call with <paramref name="inputLength"/> samples writes.</summary>
    public int GetMaxOutputLength(int inputLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(inputLength);
        return (int)Math.Min(int.MaxValue, ((long)inputLength * _up / _down) + 1);
    }

    /// <summary>Exactly what <see cref="Flush"/> will write now.</summary>
    public int GetFlushLength() => _passThrough || _flushed ? 0 : (int)(GetTotalOutputLength(_inputCount) - _outputCount);

    /// <summary>Starts a new stream (history cleared to zeros).</summary>
    public void Reset()
    {
        _inputCount = 0;
        _outputCount = 0;
        _nextBase = 0;
        _nextPhase = 0;
        _flushed = false;
        if (_passThrough)
        {
            return;
        }

        // Samples before the stream start are zeros: output 0 reads input indices [1 − H, H].
        Array.Clear(_buffer);
        _bufferStart = -_halfWidth;
        _bufferCount = _halfWidth;
    }

    /// <summary>
    /// Consumes <paramref name="input"/> and writes the outputs that are now complete; returns how many were written.
    /// <paramref name="output"/> must hold at least <see cref="GetMaxOutputLength"/>(input.Length) samples.
    /// </summary>
    public int Process(ReadOnlySpan<float> input, Span<float> output)
    {
        if (_flushed)
        {
            throw new InvalidOperationException("The resampler was flushed; call Reset to start a new stream.");
        }

        if (input.IsEmpty)
        {
            return 0;
        }

        if (output.Length < GetMaxOutputLength(input.Length))
        {
            throw new ArgumentException($"The output span must hold at least GetMaxOutputLength({input.Length}) = {GetMaxOutputLength(input.Length)} samples.", nameof(output));
        }

        if (_passThrough)
        {
            input.CopyTo(output);
            _inputCount += input.Length;
            _outputCount += input.Length;
            return input.Length;
        }

        var written = 0;
        while (!input.IsEmpty)
        {
            var n = Math.Min(_buffer.Length - _bufferCount, input.Length);
            input[..n].CopyTo(_buffer.AsSpan(_bufferCount));
            _bufferCount += n;
            _inputCount += n;
            input = input[n..];
            written += Produce(output[written..], long.MaxValue);
            Compact();
        }

        return written;
    }

    /// <summary>
    /// Ends the stream: pads zeros and writes the remaining <see cref="GetFlushLength"/> outputs, so the stream's total is
    /// <c>ceil(N·L/M)</c>. Call <see cref="Reset"/> before processing another stream.
    /// </summary>
    public int Flush(Span<float> output)
    {
        if (_flushed)
        {
            return 0;
        }

        var remaining = GetFlushLength();
        if (output.Length < remaining)
        {
            throw new ArgumentException($"The output span must hold at least GetFlushLength() = {remaining} samples.", nameof(output));
        }

        _flushed = true;
        if (_passThrough)
        {
            return 0;
        }

        var target = GetTotalOutputLength(_inputCount);
        var written = 0;
        while (_outputCount < target)
        {
            var n = _buffer.Length - _bufferCount;
            _buffer.AsSpan(_bufferCount, n).Clear();
            _bufferCount += n;
            written += Produce(output[written..], target);
            Compact();
        }

        return written;
    }

    /// <summary>Resamples a whole signal (Process then Flush); the result has <c>ceil(N·L/M)</c> samples.</summary>
    public static float[] Resample(ReadOnlySpan<float> input, int inputRate, int outputRate)
    {
        var resampler = new Resampler(inputRate, outputRate);
        var total = (int)resampler.GetTotalOutputLength(input.Length);
        var output = new float[Math.Max(total, resampler.GetMaxOutputLength(input.Length))];
        var written = resampler.Process(input, output);
        written += resampler.Flush(output.AsSpan(written));
        return written == output.Length ? output : output[..written];
    }

    private int Produce(Span<float> output, long target)
    {
        var end = _bufferStart + _bufferCount;
        var written = 0;
        var taps = _taps;
        ref var coefficients = ref MemoryMarshal.GetArrayDataReference(_coefficients);
        ref var buffer = ref MemoryMarshal.GetArrayDataReference(_buffer);
        while (_nextBase + _halfWidth < end && _outputCount < target)
        {
            var offset = (int)(_nextBase - _halfWidth + 1 - _bufferStart);
            output[written++] = Dot(ref Unsafe.Add(ref buffer, offset), ref Unsafe.Add(ref coefficients, _nextPhase * taps), taps);
            _outputCount++;
            _nextBase += _downQuotient;
            _nextPhase += _downRemainder;
            if (_nextPhase >= _up)
            {
                _nextPhase -= _up;
                _nextBase++;
            }
        }

        return written;
    }

    private void Compact()
    {
        // Keep input from the first sample the next output needs.
        var keepFrom = (int)Math.Min(_bufferCount, _nextBase - _halfWidth + 1 - _bufferStart);
        if (keepFrom <= 0)
        {
            return;
        }

        var keep = _bufferCount - keepFrom;
        Array.Copy(_buffer, keepFrom, _buffer, 0, keep);
        _bufferStart += keepFrom;
        _bufferCount = keep;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(ref float x, ref float h, int count)
    {
        // count is a multiple of 16, hence of Vector<float>.Count; the summation order depends only on count.
        var width = Vector<float>.Count;
        var acc0 = Vector<float>.Zero;
        var acc1 = Vector<float>.Zero;
        var i = 0;
        for (; i + 2 * width <= count; i += 2 * width)
        {
            acc0 += Vector.LoadUnsafe(ref x, (nuint)i) * Vector.LoadUnsafe(ref h, (nuint)i);
            acc1 += Vector.LoadUnsafe(ref x, (nuint)(i + width)) * Vector.LoadUnsafe(ref h, (nuint)(i + width));
        }

        for (; i < count; i += width)
        {
            acc0 += Vector.LoadUnsafe(ref x, (nuint)i) * Vector.LoadUnsafe(ref h, (nuint)i);
        }

        return Vector.Sum(acc0 + acc1);
    }

    private static float[] BuildCoefficients(int phases, int halfWidth, double cutoff)
    {
        // Row p holds g((H − 1 − k) + p/L) for k in [0, 2H): the weights of input samples base − H + 1 + k for the
        // output at input time base + p/L, where g(d) = 2fc·sinc(2fc·d)·kaiser(d/H).
        var taps = 2 * halfWidth;
        var coefficients = new float[phases * taps];
        var row = new double[taps];
        var i0Beta = BesselI0(KaiserBeta);
        for (var p = 0; p < phases; p++)
        {
            var sum = 0.0;
            for (var k = 0; k < taps; k++)
            {
                var d = halfWidth - 1 - k + (double)p / phases;
                var r = d / halfWidth;
                var window = r * r >= 1 ? 0 : BesselI0(KaiserBeta * Math.Sqrt(1 - (r * r))) / i0Beta;
                var x = 2 * cutoff * d;
                var sinc = x == 0 ? 1 : Math.Sin(Math.PI * x) / (Math.PI * x);
                row[k] = 2 * cutoff * sinc * window;
                sum += row[k];
            }

            for (var k = 0; k < taps; k++)
            {
                coefficients[(p * taps) + k] = (float)(row[k] / sum);
            }
        }

        return coefficients;
    }

    private static double BesselI0(double x)
    {
        // Power series; converges quickly for the β used here.
        var sum = 1.0;
        var term = 1.0;
        var y = x * x / 4;
        for (var k = 1; k < 200; k++)
        {
            term *= y / ((double)k * k);
            sum += term;
            if (term < sum * 1e-17)
            {
                break;
            }
        }

        return sum;
    }

    private static int Gcd(int a, int b)
    {
        while (b != 0)
        {
            (a, b) = (b, a % b);
        }

        return a;
    }
}
