using System.Numerics;
using System.Runtime.InteropServices;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Gateway.Echo;

/// <summary>Settings of the server-side echo guard (section <c>Gateway:EchoGuard</c>).</summary>
public sealed class EchoGuardOptions
{
    /// <summary>Default for sessions whose hello does not say (a headset client may turn it off).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Longest echo path searched: send lead + network both ways + client jitter buffer + room + capture.</summary>
    public int MaxDelayMs { get; set; } = 1000;

    /// <summary>Speech over the agent's voice must persist this long before the engine hears it (and may barge in).</summary>
    public int PersistMs { get; set; } = 200;

    /// <summary>Residual quieter than this (dBFS RMS per frame) is never caller speech.</summary>
    public double VoiceFloorDbfs { get; set; } = -42;

    /// <summary>
    /// A frame counts as caller speech only when what the echo model cannot explain has at least this energy relative
    /// to the predicted echo (dB): an echo the guard cancels leaves far less, a second voice far more.
    /// </summary>
    public double ResidualToEchoDb { get; set; } = -3;

    /// <summary>How often the echo delay is re-estimated while the agent speaks.</summary>
    public int EstimateEveryMs { get; set; } = 100;

    public void Validate()
    {
        if (MaxDelayMs is < 100 or > 3000 || PersistMs is < 40 or > 1000 || EstimateEveryMs is < 20 or > 1000)
        {
            throw new ArgumentException("Gateway:EchoGuard: MaxDelayMs must be 100–3000, PersistMs 40–1000, EstimateEveryMs 20–1000.");
        }
    }
}

/// <summary>
/// Keeps the agent's own voice, coming back through the caller's loudspeaker and microphone, from reaching the engine
/// as if the caller had spoken (which would barge in on the reply, or start a turn that answers the agent itself).
/// <para>
/// The guard holds a copy of the reply audio as it was sent (the reference, placed on the caller's audio clock).
/// While that reference can still be echoing it (a window of <see cref="EchoGuardOptions.MaxDelayMs"/> after the last
/// audible reference), every caller frame is compared with it: the echo delay is found by normalised
/// cross-correlation on a 4 kHz envelope of the last 200 ms, refined to the sample, and the best-fitting scaled copy of
/// the reference is subtracted. What remains decides: caller speech is a residual above a floor that also carries a
/// good part of the predicted echo's energy, and it must persist for <see cref="EchoGuardOptions.PersistMs"/>.
/// Until then the frames are held back; confirmed speech is released whole (so the engine's VAD and encoder hear its
/// onset), anything else is replaced by silence. Outside the window, audio passes through untouched, with no delay.
/// </para>
/// <para>
/// This is the server's second line of defence: the browser's own echo canceller (see docs/protocol.md) removes most
/// echo before it is sent; the guard catches what is left, and echo from clients that have none.
/// </para>
/// Not thread-safe by itself: the owner serialises <see cref="Process"/> and <see cref="AddReference"/> with a lock.
/// </summary>
public sealed class EchoGuard
{
    private const int EnvelopeRate = 4000;
    private const int EstimateWindowMs = 200;
    private const int GapMs = 80;           // unvoiced time that ends a candidate before it persisted
    private const int OpenHangoverMs = 400; // after confirmed speech, frames keep passing until this much is unvoiced
    private const double MinCorrelation = 0.35;

    private readonly EchoGuardOptions _options;
    private readonly int _rate;
    private readonly Resampler? _referenceResampler;
    private readonly float[] _reference; // reference on the mic clock: absolute sample p lives at p % length
    private readonly float[] _mic;       // recent mic samples, same indexing
    private readonly int _decimation;
    private readonly int _maxDelay;
    private readonly double _voiceFloor;
    private readonly double _residualRatio;
    private readonly List<HeldFrame> _held = [];
    private readonly float[] _estimateMic;       // envelope of the mic window (allocated once)
    private readonly float[] _estimateReference; // envelope of the reference over the window plus every lag
    private float[] _referenceScratch = new float[4096];
    private short[] _output = new short[4096];
    private long _micPosition;           // mic samples processed so far
    private long _referenceEnd;          // one past the last reference sample written
    private long _lastAudibleReference = -1;
    private long _nextEstimate;
    private long _lastEstimate = long.MinValue / 2;
    private int _delay = -1;             // current echo delay in samples (-1: unknown)
    private State _state = State.Closed;
    private long _unvoicedSince;

    public EchoGuard(EchoGuardOptions options, int inputSampleRate, int referenceSampleRate)
    {
        options.Validate();
        _options = options;
        _rate = inputSampleRate;
        if (referenceSampleRate != inputSampleRate)
        {
            _referenceResampler = new Resampler(referenceSampleRate, inputSampleRate);
        }

        _maxDelay = inputSampleRate * options.MaxDelayMs / 1000;
        _reference = new float[_maxDelay + inputSampleRate * 4];
        _mic = new float[inputSampleRate * 2];
        _decimation = Math.Max(1, (int)Math.Round((double)inputSampleRate / EnvelopeRate));
        _voiceFloor = Math.Pow(10, options.VoiceFloorDbfs / 20);
        _residualRatio = Math.Pow(10, options.ResidualToEchoDb / 10);
        var window = inputSampleRate * EstimateWindowMs / 1000 / _decimation;
        _estimateMic = new float[window];
        _estimateReference = new float[window + _maxDelay / _decimation];
    }

    private enum State
    {
        Closed,  // agent audible, nothing confirmed: frames are held or replaced by silence
        Holding, // a speech candidate is being held until it persists
        Open,    // confirmed caller speech: residual frames pass
    }

    /// <summary>Current echo delay estimate in milliseconds (null until the echo has been found).</summary>
    public double? DelayMs => _delay < 0 ? null : 1000.0 * _delay / _rate;

    /// <summary>Frames the guard replaced by silence so far (echo it kept from the engine).</summary>
    public long SuppressedFrames { get; private set; }

    /// <summary>Speech candidates confirmed over the agent's voice so far.</summary>
    public long ConfirmedCandidates { get; private set; }

    /// <summary>Whether the reference may still be echoing at the current mic position.</summary>
    public bool IsGuarding => _lastAudibleReference >= 0 && _micPosition <= _lastAudibleReference + _maxDelay + _rate / 5;

    /// <summary>
    /// Adds reply audio as it is released to the client (float PCM at the reference rate). It is placed on the mic clock
    /// right after the previous reference, or at the current mic position after a pause.
    /// </summary>
    public void AddReference(ReadOnlySpan<float> samples)
    {
        var input = samples;
        if (_referenceResampler is not null)
        {
            var max = _referenceResampler.GetMaxOutputLength(samples.Length);
            if (_referenceScratch.Length < max)
            {
                _referenceScratch = new float[Math.Max(max, _referenceScratch.Length * 2)];
            }

            input = _referenceScratch.AsSpan(0, _referenceResampler.Process(samples, _referenceScratch));
        }

        var start = Math.Max(_referenceEnd, _micPosition);
        for (var p = _referenceEnd; p < start; p++)
        {
            _reference[p % _reference.Length] = 0; // a pause in the reply: silence on the clock
        }

        var audible = false;
        for (var i = 0; i < input.Length; i++)
        {
            _reference[(start + i) % _reference.Length] = input[i];
            audible |= MathF.Abs(input[i]) > 1e-3f;
        }

        _referenceEnd = start + input.Length;
        if (audible)
        {
            _lastAudibleReference = _referenceEnd;
        }
    }

    /// <summary>The client stopped playing (barge-in, cancel): reference not yet played will not echo.</summary>
    public void StopReference()
    {
        var keepUntil = Math.Min(_referenceEnd, _micPosition);
        for (var p = keepUntil; p < _referenceEnd; p++)
        {
            _reference[p % _reference.Length] = 0;
        }

        _referenceEnd = keepUntil;
        _lastAudibleReference = Math.Min(_lastAudibleReference, keepUntil);
    }

    /// <summary>
    /// Takes one caller frame (PCM16 at the input rate) and returns what the engine should hear now: the frame itself,
    /// echo-free residual, silence, nothing (held) or several frames (a held candidate released). The span is valid
    /// until the next call.
    /// </summary>
    public ReadOnlySpan<short> Process(ReadOnlySpan<short> frame)
    {
        var start = _micPosition;
        for (var i = 0; i < frame.Length; i++)
        {
            _mic[(start + i) % _mic.Length] = frame[i] / 32768f;
        }

        _micPosition += frame.Length;
        if (!IsGuarding && _state != State.Holding)
        {
            _state = State.Closed;
            return frame;
        }

        if (_micPosition >= _nextEstimate)
        {
            EstimateDelay();
            _nextEstimate = _micPosition + _rate * _options.EstimateEveryMs / 1000;
        }

        var analysis = Analyse(start, frame.Length);
        if (analysis.Voiced && _state != State.Open && _micPosition - _lastEstimate >= _rate / 50)
        {
            // Before calling it speech, make sure the echo path has not just moved (client jitter, a burst of late
            // frames): re-estimate now rather than at the next scheduled time, then judge again.
            EstimateDelay();
            analysis = Analyse(start, frame.Length);
        }
        switch (_state)
        {
            case State.Open:
                if (analysis.Voiced)
                {
                    _unvoicedSince = -1;
                }
                else if (_unvoicedSince < 0)
                {
                    _unvoicedSince = start;
                }
                else if ((_micPosition - _unvoicedSince) * 1000 / _rate >= OpenHangoverMs)
                {
                    _state = State.Closed;
                }

                return Residual(start, frame.Length);

            case State.Holding:
                _held.Add(new HeldFrame(start, frame.Length));
                return DecideHeld();

            default:
                if (!analysis.Voiced)
                {
                    SuppressedFrames++;
                    return Silence(frame.Length);
                }

                _held.Clear();
                _held.Add(new HeldFrame(start, frame.Length));
                _state = State.Holding;
                return DecideHeld();
        }
    }

    /// <summary>Re-judges the held candidate with the current echo estimate: release it, drop it, or keep holding.</summary>
    private ReadOnlySpan<short> DecideHeld()
    {
        var voicedSamples = 0L;
        var trailingUnvoiced = 0L;
        var total = 0L;
        foreach (var held in _held)
        {
            var a = Analyse(held.Start, held.Length);
            total += held.Length;
            if (a.Voiced)
            {
                voicedSamples += held.Length;
                trailingUnvoiced = 0;
            }
            else
            {
                trailingUnvoiced += held.Length;
            }
        }

        var persistSamples = (long)_rate * _options.PersistMs / 1000;
        if (voicedSamples >= persistSamples)
        {
            // Confirmed: release everything held (residual, so what echo the model explains stays out).
            ConfirmedCandidates++;
            _state = State.Open;
            _unvoicedSince = -1;
            EnsureOutput((int)total);
            var written = 0;
            foreach (var held in _held)
            {
                WriteResidual(held.Start, held.Length, _output.AsSpan(written, held.Length));
                written += held.Length;
            }

            _held.Clear();
            return _output.AsSpan(0, written);
        }

        if (trailingUnvoiced * 1000 / _rate >= GapMs || total >= persistSamples + _rate * GapMs * 3 / 1000 || !IsGuarding && trailingUnvoiced > 0)
        {
            // It did not persist: it was echo (or a click); the engine hears silence of the same length.
            SuppressedFrames += _held.Count;
            _held.Clear();
            _state = State.Closed;
            return Silence((int)total);
        }

        return [];
    }

    private ReadOnlySpan<short> Silence(int length)
    {
        EnsureOutput(length);
        var span = _output.AsSpan(0, length);
        span.Clear();
        return span;
    }

    private ReadOnlySpan<short> Residual(long start, int length)
    {
        EnsureOutput(length);
        var span = _output.AsSpan(0, length);
        WriteResidual(start, length, span);
        return span;
    }

    private void EnsureOutput(int length)
    {
        if (_output.Length < length)
        {
            _output = new short[Math.Max(length, _output.Length * 2)];
        }
    }

    private void WriteResidual(long start, int length, Span<short> destination)
    {
        var (lag, gain) = Fit(start, length);
        for (var i = 0; i < length; i++)
        {
            var m = Mic(start + i);
            var r = lag < 0 ? 0 : Reference(start + i - lag);
            destination[i] = (short)Math.Clamp((m - gain * r) * 32768f, short.MinValue, short.MaxValue);
        }
    }

    /// <summary>How a frame relates to the reference: residual energy after the best fit, and the verdict.</summary>
    private Analysis Analyse(long start, int length)
    {
        var (lag, gain) = Fit(start, length);
        double mic = 0, residual = 0, echo = 0;
        for (var i = 0; i < length; i++)
        {
            var m = Mic(start + i);
            var r = lag < 0 ? 0 : Reference(start + i - lag);
            var e = m - gain * r;
            mic += m * m;
            residual += e * e;
            echo += gain * r * gain * r;
        }

        var residualRms = Math.Sqrt(residual / length);
        if (lag < 0)
        {
            // No echo estimate yet (the reply only just started echoing): loud audio is only a candidate; holding it
            // buys the time the estimator needs, and the held frames are re-judged once the delay is known.
            return new Analysis(residualRms >= _voiceFloor);
        }

        return new Analysis(residualRms >= _voiceFloor && residual >= _residualRatio * echo);
    }

    /// <summary>Best lag near the current delay estimate (±one envelope sample) and the least-squares gain.</summary>
    private (int Lag, float Gain) Fit(long start, int length)
    {
        if (_delay < 0)
        {
            return (-1, 0);
        }

        var bestLag = _delay;
        double bestScore = -1, bestGain = 0;
        for (var lag = Math.Max(0, _delay - _decimation); lag <= Math.Min(_maxDelay, _delay + _decimation); lag++)
        {
            double mr = 0, rr = 0;
            for (var i = 0; i < length; i++)
            {
                var r = Reference(start + i - lag);
                mr += Mic(start + i) * r;
                rr += r * r;
            }

            if (rr <= 1e-9)
            {
                continue;
            }

            var score = mr * mr / rr; // energy explained by this lag
            if (mr > 0 && score > bestScore)
            {
                bestScore = score;
                bestLag = lag;
                bestGain = mr / rr;
            }
        }

        return (bestLag, (float)Math.Clamp(bestGain, 0, 4));
    }

    /// <summary>
    /// Normalised cross-correlation of the last 200 ms of mic with the reference at every lag up to MaxDelayMs, on a
    /// boxcar-decimated 4 kHz signal (cheap: the refinement to the sample happens per frame in <see cref="Fit"/>).
    /// The estimate changes only on a clear peak, so double talk (low correlation) keeps the last good delay.
    /// </summary>
    private void EstimateDelay()
    {
        _lastEstimate = _micPosition;
        var mic = _estimateMic;
        var reference = _estimateReference;
        var window = mic.Length;
        var lags = reference.Length - window;
        var windowStart = _micPosition - (long)window * _decimation;
        if (windowStart < 0)
        {
            return;
        }

        double micEnergy = 0;
        for (var i = 0; i < window; i++)
        {
            mic[i] = Decimated(windowStart + (long)i * _decimation, isReference: false);
            micEnergy += mic[i] * mic[i];
        }

        if (micEnergy / window < _voiceFloor * _voiceFloor * 0.25)
        {
            return; // nothing audible to correlate
        }

        // reference[j] is the envelope sample at windowStart - lags*D + j*D, so lag k (samples D*k) aligns mic[i] with reference[i + lags - k].
        var referenceStart = windowStart - (long)lags * _decimation;
        for (var j = 0; j < reference.Length; j++)
        {
            reference[j] = Decimated(referenceStart + (long)j * _decimation, isReference: true);
        }

        double windowEnergy = 0;
        for (var i = 0; i < window; i++)
        {
            windowEnergy += reference[lags + i] * reference[lags + i];
        }

        var bestLag = -1;
        var best = MinCorrelation;
        for (var k = 0; k <= lags; k++)
        {
            // Energy of reference[lags - k .. lags - k + window), slid one step per k.
            if (k > 0)
            {
                var enter = reference[lags - k];
                var leave = reference[lags - k + window];
                windowEnergy += enter * enter - leave * leave;
            }

            if (windowEnergy <= 1e-9)
            {
                continue;
            }

            var dot = Dot(mic, reference.AsSpan(lags - k, window));
            var ncc = dot / Math.Sqrt(micEnergy * windowEnergy);
            if (ncc > best)
            {
                best = ncc;
                bestLag = k;
            }
        }

        if (bestLag >= 0)
        {
            _delay = bestLag * _decimation;
        }
    }

    private float Decimated(long position, bool isReference)
    {
        float sum = 0;
        for (var i = 0; i < _decimation; i++)
        {
            sum += isReference ? Reference(position + i) : Mic(position + i);
        }

        return sum / _decimation;
    }

    private float Mic(long position) =>
        position < 0 || position >= _micPosition || _micPosition - position > _mic.Length ? 0 : _mic[position % _mic.Length];

    private float Reference(long position) =>
        position < 0 || position >= _referenceEnd || _referenceEnd - position > _reference.Length ? 0 : _reference[position % _reference.Length];

    private static double Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        var sum = Vector<float>.Zero;
        var i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var va = MemoryMarshal.Cast<float, Vector<float>>(a);
            var vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var n = Math.Min(va.Length, vb.Length);
            for (var v = 0; v < n; v++)
            {
                sum += va[v] * vb[v];
            }

            i = n * Vector<float>.Count;
        }

        double total = Vector.Sum(sum);
        for (; i < a.Length; i++)
        {
            total += a[i] * b[i];
        }

        return total;
    }

    private readonly record struct HeldFrame(long Start, int Length);

    private readonly record struct Analysis(bool Voiced);
}
