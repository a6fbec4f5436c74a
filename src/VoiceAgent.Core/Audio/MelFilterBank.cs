namespace VoiceAgent.Core.Audio;

/// <summary>
/// Triangular mel filters on the Slaney mel scale with Slaney ("area") normalisation, computed in double precision
/// exactly as <c>librosa.filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')</c> (which is what
/// Whisper's <c>mel_filters.npz</c> holds). Weights are stored sparsely (each filter's non-zero run).
/// </summary>
public sealed class MelFilterBank
{
    private const double SlaneyHzPerMel = 200.0 / 3;
    private const double SlaneyLogStartHz = 1000;
    private const double SlaneyLogStartMel = SlaneyLogStartHz / SlaneyHzPerMel;
    private static readonly double SlaneyLogStep = Math.Log(6.4) / 27;

    private readonly int[] _start;
    private readonly int[] _count;
    private readonly double[] _weights;
    private readonly int[] _offset;

    /// <summary>Builds the filters for an <paramref name="fftSize"/>-point real FFT at <paramref name="sampleRate"/>.</summary>
    public MelFilterBank(int sampleRate, int fftSize, int melBins, double minHz = 0, double? maxHz = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        ArgumentOutOfRangeException.ThrowIfLessThan(fftSize, 2);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(melBins);
        SampleRate = sampleRate;
        FftSize = fftSize;
        MelBins = melBins;
        FrequencyBins = (fftSize / 2) + 1;
        var fMax = maxHz ?? sampleRate / 2.0;

        // Band edges: n_mels + 2 points equally spaced on the mel scale between fmin and fmax.
        var minMel = HzToMel(minHz);
        var maxMel = HzToMel(fMax);
        var edges = new double[melBins + 2];
        for (var i = 0; i < edges.Length; i++)
        {
            edges[i] = MelToHz(minMel + ((maxMel - minMel) * i / (melBins + 1)));
        }

        var dense = new double[melBins * FrequencyBins];
        for (var m = 0; m < melBins; m++)
        {
            var lowerWidth = edges[m + 1] - edges[m];
            var upperWidth = edges[m + 2] - edges[m + 1];
            var norm = 2.0 / (edges[m + 2] - edges[m]);
            for (var k = 0; k < FrequencyBins; k++)
            {
                var f = (double)k * sampleRate / fftSize;
                var lower = (f - edges[m]) / lowerWidth;
                var upper = (edges[m + 2] - f) / upperWidth;
                dense[(m * FrequencyBins) + k] = Math.Max(0, Math.Min(lower, upper)) * norm;
            }
        }

        _start = new int[melBins];
        _count = new int[melBins];
        _offset = new int[melBins];
        var weights = new List<double>();
        for (var m = 0; m < melBins; m++)
        {
            var row = dense.AsSpan(m * FrequencyBins, FrequencyBins);
            var first = row.IndexOfAnyExcept(0.0);
            var last = row.LastIndexOfAnyExcept(0.0);
            _offset[m] = weights.Count;
            if (first < 0)
            {
                continue;
            }

            _start[m] = first;
            _count[m] = last - first + 1;
            for (var k = first; k <= last; k++)
            {
                weights.Add(row[k]);
            }
        }

        _weights = [.. weights];
    }

    /// <summary>Sample rate in Hz.</summary>
    public int SampleRate { get; }

    /// <summary>FFT size.</summary>
    public int FftSize { get; }

    /// <summary>Number of mel filters.</summary>
    public int MelBins { get; }

    /// <summary>Number of FFT bins the filters read (<c>FftSize / 2 + 1</c>).</summary>
    public int FrequencyBins { get; }

    /// <summary>Slaney mel scale: linear (3 mel per 200 Hz) below 1 kHz, logarithmic (27 mel per factor 6.4) above.</summary>
    public static double HzToMel(double hz) =>
        hz >= SlaneyLogStartHz ? SlaneyLogStartMel + (Math.Log(hz / SlaneyLogStartHz) / SlaneyLogStep) : hz / SlaneyHzPerMel;

    /// <summary>Inverse of <see cref="HzToMel"/>.</summary>
    public static double MelToHz(double mel) =>
        mel >= SlaneyLogStartMel ? SlaneyLogStartHz * Math.Exp(SlaneyLogStep * (mel - SlaneyLogStartMel)) : mel * SlaneyHzPerMel;

    /// <summary>The dense weight matrix, row-major [MelBins, FrequencyBins] (librosa's layout).</summary>
    public double[] ToDense()
    {
        var dense = new double[MelBins * FrequencyBins];
        for (var m = 0; m < MelBins; m++)
        {
            _weights.AsSpan(_offset[m], _count[m]).CopyTo(dense.AsSpan((m * FrequencyBins) + _start[m]));
        }

        return dense;
    }

    /// <summary>Applies the filters: <c>mel[m] = Σ_k W[m, k]·power[k]</c>.</summary>
    public void Apply(ReadOnlySpan<double> power, Span<double> mel)
    {
        if (power.Length < FrequencyBins || mel.Length < MelBins)
        {
            throw new ArgumentException($"Expected {FrequencyBins} power bins and room for {MelBins} mel bins.", nameof(power));
        }

        for (var m = 0; m < MelBins; m++)
        {
            var w = _weights.AsSpan(_offset[m], _count[m]);
            var p = power.Slice(_start[m], _count[m]);
            var sum = 0.0;
            for (var k = 0; k < w.Length; k++)
            {
                sum += w[k] * p[k];
            }

            mel[m] = sum;
        }
    }
}
