namespace VoiceAgent.Core.Audio;

/// <summary>
/// One Whisper analysis frame: 400 samples × periodic Hann → |rfft|² (201 bins) → Slaney mel → log10(max(·, 1e-10)).
/// The 400-point real FFT runs as a 200-point complex FFT of the even/odd-interleaved samples plus a split step.
/// Owns its scratch; allocates only in the constructor.
/// </summary>
internal sealed class MelFrameAnalyzer
{
    public const int SampleRate = 16000;
    public const int FftSize = 400;
    public const int HopLength = 160;
    public const int FrequencyBins = (FftSize / 2) + 1;
    private const int Half = FftSize / 2;

    private readonly ComplexFft _fft = new(Half);
    private readonly double[] _window = new double[FftSize];
    private readonly double[] _splitRe = new double[Half + 1];
    private readonly double[] _splitIm = new double[Half + 1];
    private readonly double[] _re = new double[Half];
    private readonly double[] _im = new double[Half];
    private readonly double[] _power = new double[FrequencyBins];
    private readonly double[] _mel;

    public MelFrameAnalyzer(int melBins)
    {
        Filters = new MelFilterBank(SampleRate, FftSize, melBins);
        _mel = new double[melBins];

        // torch.hann_window(400) (periodic): 0.5 − 0.5·cos(2πn/400).
        for (var n = 0; n < FftSize; n++)
        {
            _window[n] = 0.5 - (0.5 * Math.Cos(2 * Math.PI * n / FftSize));
        }

        for (var k = 0; k <= Half; k++)
        {
            _splitRe[k] = Math.Cos(-2 * Math.PI * k / FftSize);
            _splitIm[k] = Math.Sin(-2 * Math.PI * k / FftSize);
        }
    }

    public MelFilterBank Filters { get; }

    public int MelBins => _mel.Length;

    /// <summary>Writes log10(max(mel, 1e-10)) of <paramref name="frame"/> (400 raw samples) and returns the frame's maximum.</summary>
    public float Analyze(ReadOnlySpan<float> frame, Span<float> logMel)
    {
        var window = _window;
        var re = _re;
        var im = _im;
        for (var n = 0; n < Half; n++)
        {
            re[n] = frame[2 * n] * window[2 * n];
            im[n] = frame[(2 * n) + 1] * window[(2 * n) + 1];
        }

        _fft.Forward(re, im);

        // X[k] = E[k] + e^(−2πik/N)·O[k], E = (Z[k] + conj Z[N/2−k]) / 2, O = (Z[k] − conj Z[N/2−k]) / 2i.
        var power = _power;
        for (var k = 0; k <= Half; k++)
        {
            var a = k == Half ? 0 : k;
            var b = k == 0 ? 0 : Half - k;
            double zRe = re[a], zIm = im[a], cRe = re[b], cIm = -im[b];
            var eRe = 0.5 * (zRe + cRe);
            var eIm = 0.5 * (zIm + cIm);
            var dRe = zRe - cRe;
            var dIm = zIm - cIm;

            // (d / 2i) = (dIm − i·dRe) / 2.
            var oRe = 0.5 * dIm;
            var oIm = -0.5 * dRe;
            var tRe = (_splitRe[k] * oRe) - (_splitIm[k] * oIm);
            var tIm = (_splitRe[k] * oIm) + (_splitIm[k] * oRe);
            var xRe = eRe + tRe;
            var xIm = eIm + tIm;
            power[k] = (xRe * xRe) + (xIm * xIm);
        }

        Filters.Apply(power, _mel);
        var max = float.NegativeInfinity;
        for (var m = 0; m < _mel.Length; m++)
        {
            var v = (float)Math.Log10(Math.Max(_mel[m], 1e-10));
            logMel[m] = v;
            max = Math.Max(max, v);
        }

        return max;
    }
}
