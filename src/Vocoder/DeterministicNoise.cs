namespace VoiceAgent.Vocoder;

/// <summary>
/// The Euler start noise of docs/model-pack-part2.md §3.1: counter-based splitmix64 + Box-Muller in double, rounded
/// to float32. Element (frame f, bin b) of a reply depends only on the seed and <c>n = f·bins + b</c>, so frames a
/// chunk decoded as look-ahead get the same noise when the next chunk decodes them again.
/// </summary>
public static class DeterministicNoise
{
    private const double TwoPowMinus53 = 1.0 / 9007199254740992.0;

    /// <summary><c>splitmix64</c>: one output of the generator whose state is <paramref name="x"/> (uint64 wrap-around).</summary>
    public static ulong SplitMix64(ulong x)
    {
        unchecked
        {
            x += 0x9E3779B97F4A7C15UL;
            x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
            x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
            return x ^ (x >> 31);
        }
    }

    /// <summary>The noise value of element <paramref name="n"/> (<c>frame·bins + bin</c>) for <paramref name="seed"/>.</summary>
    public static float Sample(uint seed, ulong n)
    {
        unchecked
        {
            var key = ((ulong)seed << 32) + (2 * n);
            var h1 = SplitMix64(key);
            var h2 = SplitMix64(key + 1);
            var u1 = ((double)(h1 >> 11) + 1.0) * TwoPowMinus53;
            var u2 = (h2 >> 11) * TwoPowMinus53;
            return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
        }
    }

    /// <summary>
    /// Writes the noise of absolute frames <c>[firstFrame, firstFrame + frames)</c>, frame-major
    /// (<c>frames × bins</c> floats), into <paramref name="destination"/>.
    /// </summary>
    public static void Fill(uint seed, long firstFrame, int frames, int bins, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(firstFrame);
        ArgumentOutOfRangeException.ThrowIfNegative(frames);
        ArgumentOutOfRangeException.ThrowIfLessThan(bins, 1);
        var count = frames * bins;
        if (destination.Length < count)
        {
            throw new ArgumentException($"{frames} frames × {bins} bins need {count} floats; the destination holds {destination.Length}.", nameof(destination));
        }

        var n = (ulong)firstFrame * (ulong)bins;
        for (var i = 0; i < count; i++)
        {
            destination[i] = Sample(seed, n + (ulong)i);
        }
    }
}
