using System.Runtime.CompilerServices;

namespace VoiceAgent.Core.Audio;

/// <summary>
/// ITU-T G.711 mu-law and A-law companding, bit-compatible with SoX (whose codec is the classic Sun reference
/// implementation): mu-law encodes a PCM16 sample rounded (half up) to 14 bits, A-law rounded to 13 bits, both
/// clipped at the positive end exactly as SoX's sample-to-unsigned conversion does; decoding yields SoX's 16-bit
/// values. Float inputs are first converted with
/// <see cref="PcmConvert.ToPcm16(float)"/>; float outputs are the 16-bit values divided by 32768. Decoding uses
/// 256-entry tables; nothing allocates.
/// </summary>
public static class G711
{
    private const int MuLawBias = 0x84;
    private const int MuLawClip = 8159;

    private static readonly short[] MuLawToPcm = BuildTable(MuLawDecodeSlow);
    private static readonly short[] ALawToPcm = BuildTable(ALawDecodeSlow);

    /// <summary>Encodes one PCM16 sample to mu-law.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte MuLawEncode(short sample)
    {
        // 14-bit two's complement, rounded half up and clipped like SoX's SOX_SAMPLE_TO_UNSIGNED(14, ...) − 0x2000.
        var pcm = Math.Min((sample + 2) >> 2, 8191);
        int mask;
        if (pcm < 0)
        {
            pcm = -pcm;
            mask = 0x7F;
        }
        else
        {
            mask = 0xFF;
        }

        if (pcm > MuLawClip)
        {
            pcm = MuLawClip;
        }

        pcm += MuLawBias >> 2;

        // Segment = position of the highest set bit above bit 5 (pcm is in [33, 8192]).
        var segment = 26 - System.Numerics.BitOperations.LeadingZeroCount((uint)pcm);
        if (segment < 0)
        {
            segment = 0;
        }
        else if (segment >= 8)
        {
            // Only the clipped magnitude 8159 + 33 = 8192 lands here; the reference returns the top code.
            return (byte)(0x7F ^ mask);
        }

        var code = (segment << 4) | ((pcm >> (segment + 1)) & 0xF);
        return (byte)(code ^ mask);
    }

    /// <summary>Decodes one mu-law byte to PCM16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short MuLawDecode(byte code) => MuLawToPcm[code];

    /// <summary>Encodes one PCM16 sample to A-law.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static byte ALawEncode(short sample)
    {
        // 13-bit two's complement, rounded half up and clipped like SoX's SOX_SAMPLE_TO_UNSIGNED(13, ...) − 0x1000.
        var pcm = Math.Min((sample + 4) >> 3, 4095);
        int mask;
        if (pcm >= 0)
        {
            mask = 0xD5;
        }
        else
        {
            mask = 0x55;
            pcm = -pcm - 1;
        }

        // pcm is in [0, 4095]: segment 0 covers [0, 31], segment s >= 1 covers [16 << s, 32 << s).
        var segment = 27 - System.Numerics.BitOperations.LeadingZeroCount((uint)pcm);
        if (segment < 0)
        {
            segment = 0;
        }

        var code = segment << 4;
        code |= segment < 2 ? (pcm >> 1) & 0xF : (pcm >> segment) & 0xF;
        return (byte)(code ^ mask);
    }

    /// <summary>Decodes one A-law byte to PCM16.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static short ALawDecode(byte code) => ALawToPcm[code];

    /// <summary>Encodes PCM16 samples to mu-law; <paramref name="destination"/> must be at least as long as <paramref name="source"/>.</summary>
    public static void MuLawEncode(ReadOnlySpan<short> source, Span<byte> destination)
    {
        CheckLength(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = MuLawEncode(source[i]);
        }
    }

    /// <summary>Encodes float samples (converted to PCM16 first) to mu-law.</summary>
    public static void MuLawEncode(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckLength(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = MuLawEncode(PcmConvert.ToPcm16(source[i]));
        }
    }

    /// <summary>Decodes mu-law bytes to PCM16.</summary>
    public static void MuLawDecode(ReadOnlySpan<byte> source, Span<short> destination)
    {
        CheckLength(source.Length, destination.Length);
        var table = MuLawToPcm;
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = table[source[i]];
        }
    }

    /// <summary>Decodes mu-law bytes to floats (PCM16 / 32768).</summary>
    public static void MuLawDecode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckLength(source.Length, destination.Length);
        var table = MuLawToPcm;
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = table[source[i]] * (1f / PcmConvert.Pcm16Scale);
        }
    }

    /// <summary>Encodes PCM16 samples to A-law.</summary>
    public static void ALawEncode(ReadOnlySpan<short> source, Span<byte> destination)
    {
        CheckLength(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = ALawEncode(source[i]);
        }
    }

    /// <summary>Encodes float samples (converted to PCM16 first) to A-law.</summary>
    public static void ALawEncode(ReadOnlySpan<float> source, Span<byte> destination)
    {
        CheckLength(source.Length, destination.Length);
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = ALawEncode(PcmConvert.ToPcm16(source[i]));
        }
    }

    /// <summary>Decodes A-law bytes to PCM16.</summary>
    public static void ALawDecode(ReadOnlySpan<byte> source, Span<short> destination)
    {
        CheckLength(source.Length, destination.Length);
        var table = ALawToPcm;
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = table[source[i]];
        }
    }

    /// <summary>Decodes A-law bytes to floats (PCM16 / 32768).</summary>
    public static void ALawDecode(ReadOnlySpan<byte> source, Span<float> destination)
    {
        CheckLength(source.Length, destination.Length);
        var table = ALawToPcm;
        for (var i = 0; i < source.Length; i++)
        {
            destination[i] = table[source[i]] * (1f / PcmConvert.Pcm16Scale);
        }
    }

    private static void CheckLength(int source, int destination)
    {
        if (destination < source)
        {
            throw new ArgumentException("The destination is shorter than the source.", nameof(destination));
        }
    }

    private static short MuLawDecodeSlow(byte code)
    {
        int u = (byte)~code;
        var t = ((u & 0x0F) << 3) + MuLawBias;
        t <<= (u & 0x70) >> 4;
        return (short)((u & 0x80) != 0 ? MuLawBias - t : t - MuLawBias);
    }

    private static short ALawDecodeSlow(byte code)
    {
        int a = code ^ 0x55;
        var t = (a & 0x0F) << 4;
        var segment = (a & 0x70) >> 4;
        t = segment switch
        {
            0 => t + 8,
            1 => t + 0x108,
            _ => (t + 0x108) << (segment - 1),
        };
        return (short)((a & 0x80) != 0 ? t : -t);
    }

    private static short[] BuildTable(Func<byte, short> decode)
    {
        var table = new short[256];
        for (var i = 0; i < 256; i++)
        {
            table[i] = decode((byte)i);
        }

        return table;
    }
}
