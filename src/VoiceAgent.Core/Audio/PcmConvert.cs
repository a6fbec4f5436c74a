using System.Runtime.CompilerServices;

namespace VoiceAgent.Core.Audio;

/// <summary>Conversions between float samples in [-1, 1] and signed 16-bit PCM.</summary>
public static class PcmConvert
{
    /// <summary>Scale between PCM16 and float: <c>float = pcm / 32768</c>.</summary>
    public const float Pcm16Scale = 32768f;

    /// <summary>Converts one float to PCM16: <c>round(x * 32768)</c> (midpoints away from zero), clipped to [-32768, 32767]; NaN maps to 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short ToPcm16(float sample)
    {
        var scaled = sample * Pcm16Scale;
        if (!(scaled < 32767f))
        {
            return float.IsNaN(scaled) ? (short)0 : short.MaxValue;
        }

        if (scaled <= -32768f)
        {
            return short.MinValue;
        }

        return (short)MathF.Round(scaled, MidpointRounding.AwayFromZero);
    }

    /// <summary>Converts one PCM16 sample to float: <c>pcm / 32768</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ToFloat(short sample) => sample * (1f / Pcm16Scale);

    /// <summary>Converts floats to PCM16 (see <see cref="ToPcm16(float)"/>); <paramref name="destination"/> must be at least as long as <paramref name="source"/>.</summary>
    public static void ToPcm16(ReadOnlySpan<float> source, Span<short> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = ToPcm16(source[i]);
        }
    }

    /// <summary>Converts PCM16 to floats (<c>pcm / 32768</c>); <paramref name="destination"/> must be at least as long as <paramref name="source"/>.</summary>
    public static void ToFloat(ReadOnlySpan<short> source, Span<float> destination)
    {
        if (destination.Length < source.Length)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }

        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = source[i] * (1f / Pcm16Scale);
        }
    }
}
