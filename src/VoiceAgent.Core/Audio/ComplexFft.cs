using System.Runtime.CompilerServices;

namespace VoiceAgent.Core.Audio;

/// <summary>
/// Forward complex DFT of a fixed length N (any N ≥ 1; radix-2/3/4/5 butterflies, a generic butterfly for other
/// prime factors) in double precision: a self-sorting Stockham decimation-in-frequency FFT with precomputed
/// twiddles, so results come out in natural order without bit reversal. <c>X[k] = Σ x[n]·e^(−2πikn/N)</c>.
/// Allocates only in the constructor; an instance is not thread-safe (it owns its scratch buffers).
/// </summary>
public sealed class ComplexFft
{
    private readonly int[] _radices;
    private readonly double[] _twiddleRe;
    private readonly double[] _twiddleIm;
    private readonly int[] _twiddleOffsets;
    private readonly double[] _scratchRe;
    private readonly double[] _scratchIm;
    private readonly double[] _rootRe;
    private readonly double[] _rootIm;
    private readonly double[] _butterflyRe;
    private readonly double[] _butterflyIm;

    /// <summary>Plans a transform of <paramref name="length"/> points.</summary>
    public ComplexFft(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        Length = length;
        _radices = Factor(length);
        _twiddleOffsets = new int[_radices.Length];
        var total = 0;
        var span = length;
        for (var s = 0; s < _radices.Length; s++)
        {
            _twiddleOffsets[s] = total;
            total += span;
            span /= _radices[s];
        }

        // Stage s with sub-length n_s and radix r stores w^(p·j), w = e^(−2πi/n_s), at offset + p·r + j.
        _twiddleRe = new double[total];
        _twiddleIm = new double[total];
        span = length;
        for (var s = 0; s < _radices.Length; s++)
        {
            var r = _radices[s];
            var m = span / r;
            for (var p = 0; p < m; p++)
            {
                for (var j = 0; j < r; j++)
                {
                    var angle = -2 * Math.PI * ((long)p * j % span) / span;
                    _twiddleRe[_twiddleOffsets[s] + (p * r) + j] = Math.Cos(angle);
                    _twiddleIm[_twiddleOffsets[s] + (p * r) + j] = Math.Sin(angle);
                }
            }

            span = m;
        }

        var maxRadix = 1;
        foreach (var r in _radices)
        {
            maxRadix = Math.Max(maxRadix, r);
        }

        // Roots of unity for the generic butterfly: e^(−2πi·t/r) for every radix r used, packed by r.
        _rootRe = new double[maxRadix * maxRadix];
        _rootIm = new double[maxRadix * maxRadix];
        foreach (var r in _radices)
        {
            for (var t = 0; t < r; t++)
            {
                _rootRe[RootIndex(r, t, maxRadix)] = Math.Cos(-2 * Math.PI * t / r);
                _rootIm[RootIndex(r, t, maxRadix)] = Math.Sin(-2 * Math.PI * t / r);
            }
        }

        _scratchRe = new double[length];
        _scratchIm = new double[length];
        _butterflyRe = new double[maxRadix];
        _butterflyIm = new double[maxRadix];
    }

    /// <summary>The transform length N.</summary>
    public int Length { get; }

    /// <summary>In-place forward transform of (<paramref name="re"/>, <paramref name="im"/>), each of length N.</summary>
    public void Forward(Span<double> re, Span<double> im)
    {
        if (re.Length != Length || im.Length != Length)
        {
            throw new ArgumentException($"Both spans must have exactly {Length} elements.", nameof(re));
        }

        Span<double> xRe = re;
        Span<double> xIm = im;
        Span<double> yRe = _scratchRe;
        Span<double> yIm = _scratchIm;
        var span = Length;
        var stride = 1;
        for (var s = 0; s < _radices.Length; s++)
        {
            var r = _radices[s];
            var tw = _twiddleOffsets[s];
            switch (r)
            {
                case 2:
                    Radix2(xRe, xIm, yRe, yIm, span, stride, tw);
                    break;
                case 4:
                    Radix4(xRe, xIm, yRe, yIm, span, stride, tw);
                    break;
                default:
                    RadixGeneric(xRe, xIm, yRe, yIm, span, stride, tw, r);
                    break;
            }

            span /= r;
            stride *= r;
            var tRe = xRe;
            var tIm = xIm;
            xRe = yRe;
            xIm = yIm;
            yRe = tRe;
            yIm = tIm;
        }

        if ((_radices.Length & 1) == 1)
        {
            xRe.CopyTo(re);
            xIm.CopyTo(im);
        }
    }

    private static int RootIndex(int radix, int t, int maxRadix) => ((radix - 1) * maxRadix) + t;

    private void Radix2(Span<double> xRe, Span<double> xIm, Span<double> yRe, Span<double> yIm, int span, int stride, int tw)
    {
        var m = span / 2;
        for (var p = 0; p < m; p++)
        {
            var wRe = _twiddleRe[tw + (2 * p) + 1];
            var wIm = _twiddleIm[tw + (2 * p) + 1];
            for (var q = 0; q < stride; q++)
            {
                var i0 = q + (stride * p);
                var i1 = i0 + (stride * m);
                double aRe = xRe[i0], aIm = xIm[i0], bRe = xRe[i1], bIm = xIm[i1];
                var o = q + (stride * 2 * p);
                yRe[o] = aRe + bRe;
                yIm[o] = aIm + bIm;
                var dRe = aRe - bRe;
                var dIm = aIm - bIm;
                yRe[o + stride] = (dRe * wRe) - (dIm * wIm);
                yIm[o + stride] = (dRe * wIm) + (dIm * wRe);
            }
        }
    }

    private void Radix4(Span<double> xRe, Span<double> xIm, Span<double> yRe, Span<double> yIm, int span, int stride, int tw)
    {
        var m = span / 4;
        var sm = stride * m;
        for (var p = 0; p < m; p++)
        {
            var t = tw + (4 * p);
            double w1Re = _twiddleRe[t + 1], w1Im = _twiddleIm[t + 1];
            double w2Re = _twiddleRe[t + 2], w2Im = _twiddleIm[t + 2];
            double w3Re = _twiddleRe[t + 3], w3Im = _twiddleIm[t + 3];
            for (var q = 0; q < stride; q++)
            {
                var i0 = q + (stride * p);
                double a0Re = xRe[i0], a0Im = xIm[i0];
                double a1Re = xRe[i0 + sm], a1Im = xIm[i0 + sm];
                double a2Re = xRe[i0 + (2 * sm)], a2Im = xIm[i0 + (2 * sm)];
                double a3Re = xRe[i0 + (3 * sm)], a3Im = xIm[i0 + (3 * sm)];
                double s02Re = a0Re + a2Re, s02Im = a0Im + a2Im;
                double d02Re = a0Re - a2Re, d02Im = a0Im - a2Im;
                double s13Re = a1Re + a3Re, s13Im = a1Im + a3Im;
                double d13Re = a1Re - a3Re, d13Im = a1Im - a3Im;

                // A1 = d02 − i·d13, A3 = d02 + i·d13.
                double b1Re = d02Re + d13Im, b1Im = d02Im - d13Re;
                double b2Re = s02Re - s13Re, b2Im = s02Im - s13Im;
                double b3Re = d02Re - d13Im, b3Im = d02Im + d13Re;
                var o = q + (stride * 4 * p);
                yRe[o] = s02Re + s13Re;
                yIm[o] = s02Im + s13Im;
                yRe[o + stride] = (b1Re * w1Re) - (b1Im * w1Im);
                yIm[o + stride] = (b1Re * w1Im) + (b1Im * w1Re);
                yRe[o + (2 * stride)] = (b2Re * w2Re) - (b2Im * w2Im);
                yIm[o + (2 * stride)] = (b2Re * w2Im) + (b2Im * w2Re);
                yRe[o + (3 * stride)] = (b3Re * w3Re) - (b3Im * w3Im);
                yIm[o + (3 * stride)] = (b3Re * w3Im) + (b3Im * w3Re);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RadixGeneric(Span<double> xRe, Span<double> xIm, Span<double> yRe, Span<double> yIm, int span, int stride, int tw, int r)
    {
        var m = span / r;
        var sm = stride * m;
        var maxRadix = _butterflyRe.Length;
        var rootBase = (r - 1) * maxRadix;
        var aRe = _butterflyRe.AsSpan(0, r);
        var aIm = _butterflyIm.AsSpan(0, r);
        for (var p = 0; p < m; p++)
        {
            var t = tw + (r * p);
            for (var q = 0; q < stride; q++)
            {
                var i0 = q + (stride * p);
                for (var k = 0; k < r; k++)
                {
                    aRe[k] = xRe[i0 + (k * sm)];
                    aIm[k] = xIm[i0 + (k * sm)];
                }

                var o = q + (stride * r * p);
                for (var j = 0; j < r; j++)
                {
                    double sRe = aRe[0], sIm = aIm[0];
                    var e = 0;
                    for (var k = 1; k < r; k++)
                    {
                        e += j;
                        if (e >= r)
                        {
                            e -= r;
                        }

                        var cRe = _rootRe[rootBase + e];
                        var cIm = _rootIm[rootBase + e];
                        sRe += (aRe[k] * cRe) - (aIm[k] * cIm);
                        sIm += (aRe[k] * cIm) + (aIm[k] * cRe);
                    }

                    var wRe = _twiddleRe[t + j];
                    var wIm = _twiddleIm[t + j];
                    yRe[o + (j * stride)] = (sRe * wRe) - (sIm * wIm);
                    yIm[o + (j * stride)] = (sRe * wIm) + (sIm * wRe);
                }
            }
        }
    }

    private static int[] Factor(int n)
    {
        var radices = new List<int>();
        while (n % 4 == 0)
        {
            radices.Add(4);
            n /= 4;
        }

        if (n % 2 == 0)
        {
            radices.Add(2);
            n /= 2;
        }

        for (var f = 3; n > 1; f += 2)
        {
            while (n % f == 0)
            {
                radices.Add(f);
                n /= f;
            }

            if (f * f > n && n > 1)
            {
                radices.Add(n);
                break;
            }
        }

        return [.. radices];
    }
}
