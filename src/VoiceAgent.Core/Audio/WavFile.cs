using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;

namespace VoiceAgent.Core.Audio;

/// <summary>
/// Reads and writes RIFF/WAVE files. Reading accepts PCM16 and IEEE float32 (format tags 1 and 3, and
/// WAVE_FORMAT_EXTENSIBLE with those sub-formats), mono or stereo (stereo is averaged to mono), at one of
/// <see cref="AudioSampleRates.Supported"/>. Chunks other than <c>fmt </c> and <c>data</c> (LIST, fact, ...) are
/// skipped, honouring the pad byte after odd-sized chunks. Every failure is an <see cref="AudioFormatException"/>.
/// Writing produces mono PCM16 or float32 files.
/// </summary>
public static class WavFile
{
    private const ushort FormatPcm = 1;
    private const ushort FormatFloat = 3;
    private const ushort FormatALaw = 6;
    private const ushort FormatMuLaw = 7;
    private const ushort FormatExtensible = 0xFFFE;
    private const uint UnknownDataSize = 0xFFFFFFFF;
    private const int MaxFmtChunkSize = 1 << 16;

    // The last 14 bytes of KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT ({0000000X-0000-0010-8000-00AA00389B71}).
    private static ReadOnlySpan<byte> SubFormatGuidTail => [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];

    /// <summary>Reads a WAV file as mono float32.</summary>
    /// <exception cref="AudioFormatException">The file is missing, empty, malformed or in an unsupported format.</exception>
    public static AudioClip Read(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var subject = $"The WAV file '{path}'";
        if (!File.Exists(path))
        {
            throw new AudioFormatException($"{subject} does not exist.");
        }

        FileStream stream;
        try
        {
            stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AudioFormatException($"{subject} cannot be opened: {e.Message.TrimEnd('.')}.", e);
        }

        using (stream)
        {
            return ReadCore(stream, subject);
        }
    }

    /// <summary>Reads WAV data from <paramref name="stream"/> (seekable or not), starting at its current position.</summary>
    /// <exception cref="AudioFormatException">The stream is empty, malformed or in an unsupported format.</exception>
    public static AudioClip Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return ReadCore(stream, "The WAV stream");
    }

    /// <summary>Writes mono PCM16 (<see cref="PcmConvert.ToPcm16(float)"/> rounding and clipping).</summary>
    public static void WritePcm16(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        WritePcm16(stream, samples, sampleRate);
    }

    /// <summary>Writes mono PCM16 to <paramref name="stream"/>.</summary>
    public static void WritePcm16(Stream stream, ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteCore(stream, samples, sampleRate, FormatPcm, 2);
    }

    /// <summary>Writes mono IEEE float32.</summary>
    public static void WriteFloat32(string path, ReadOnlySpan<float> samples, int sampleRate)
    {
        using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
        WriteFloat32(stream, samples, sampleRate);
    }

    /// <summary>Writes mono IEEE float32 to <paramref name="stream"/>.</summary>
    public static void WriteFloat32(Stream stream, ReadOnlySpan<float> samples, int sampleRate)
    {
        ArgumentNullException.ThrowIfNull(stream);
        WriteCore(stream, samples, sampleRate, FormatFloat, 4);
    }

    private static void WriteCore(Stream stream, ReadOnlySpan<float> samples, int sampleRate, ushort format, int bytesPerSample)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleRate);
        var dataBytes = (long)samples.Length * bytesPerSample;
        var isFloat = format == FormatFloat;

        // Float files carry cbSize and a fact chunk, as the WAVE specification asks for non-PCM formats.
        var fmtSize = isFloat ? 18 : 16;
        var headerSize = 12 + 8 + fmtSize + (isFloat ? 12 : 0) + 8;
        if (dataBytes + headerSize - 8 > uint.MaxValue)
        {
            throw new ArgumentException("The audio is too long for a WAV file (over 4 GiB of data).", nameof(samples));
        }

        Span<byte> header = stackalloc byte[64];
        var p = 0;
        WriteTag(header, ref p, "RIFF");
        WriteU32(header, ref p, (uint)(dataBytes + headerSize - 8));
        WriteTag(header, ref p, "WAVE");
        WriteTag(header, ref p, "fmt ");
        WriteU32(header, ref p, (uint)fmtSize);
        WriteU16(header, ref p, format);
        WriteU16(header, ref p, 1);
        WriteU32(header, ref p, (uint)sampleRate);
        WriteU32(header, ref p, (uint)(sampleRate * bytesPerSample));
        WriteU16(header, ref p, (ushort)bytesPerSample);
        WriteU16(header, ref p, (ushort)(bytesPerSample * 8));
        if (isFloat)
        {
            WriteU16(header, ref p, 0);
            WriteTag(header, ref p, "fact");
            WriteU32(header, ref p, 4);
            WriteU32(header, ref p, (uint)samples.Length);
        }

        WriteTag(header, ref p, "data");
        WriteU32(header, ref p, (uint)dataBytes);
        stream.Write(header[..p]);

        const int BlockSamples = 4096;
        var block = ArrayPool<byte>.Shared.Rent(BlockSamples * 4);
        try
        {
            for (var start = 0; start < samples.Length; start += BlockSamples)
            {
                var chunk = samples.Slice(start, Math.Min(BlockSamples, samples.Length - start));
                var bytes = block.AsSpan(0, chunk.Length * bytesPerSample);
                for (var i = 0; i < chunk.Length; i++)
                {
                    if (isFloat)
                    {
                        BinaryPrimitives.WriteSingleLittleEndian(bytes[(i * 4)..], chunk[i]);
                    }
                    else
                    {
                        BinaryPrimitives.WriteInt16LittleEndian(bytes[(i * 2)..], PcmConvert.ToPcm16(chunk[i]));
                    }
                }

                stream.Write(bytes);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(block);
        }

        stream.Flush();
    }

    private static void WriteTag(Span<byte> buffer, ref int position, string tag)
    {
        for (var i = 0; i < 4; i++)
        {
            buffer[position + i] = (byte)tag[i];
        }

        position += 4;
    }

    private static void WriteU32(Span<byte> buffer, ref int position, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(buffer[position..], value);
        position += 4;
    }

    private static void WriteU16(Span<byte> buffer, ref int position, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(buffer[position..], value);
        position += 2;
    }

    private static AudioClip ReadCore(Stream stream, string subject)
    {
        Span<byte> riff = stackalloc byte[12];
        var got = stream.ReadAtLeast(riff, 12, throwOnEndOfStream: false);
        if (got == 0)
        {
            throw new AudioFormatException($"{subject} is empty.");
        }

        var looksLikeRiff = got >= 4 && riff[..4].SequenceEqual("RIFF"u8);
        if (got < 4 || !looksLikeRiff || (got == 12 && !riff.Slice(8, 4).SequenceEqual("WAVE"u8)))
        {
            throw new AudioFormatException($"{subject} is not a RIFF/WAVE file.");
        }

        if (got < 12)
        {
            throw new AudioFormatException($"{subject} is truncated inside its RIFF header.");
        }

        WavFormat? format = null;
        Span<byte> chunkHeader = stackalloc byte[8];
        while (true)
        {
            got = stream.ReadAtLeast(chunkHeader, 8, throwOnEndOfStream: false);
            if (got == 0)
            {
                throw new AudioFormatException(format is null
                    ? $"{subject} has neither a fmt chunk nor a data chunk."
                    : $"{subject} has no data chunk.");
            }

            if (got < 8)
            {
                throw new AudioFormatException($"{subject} is truncated inside a chunk header.");
            }

            var id = ChunkId(chunkHeader[..4]);
            var size = BinaryPrimitives.ReadUInt32LittleEndian(chunkHeader[4..]);
            if (id == "fmt ")
            {
                if (size < 16)
                {
                    throw new AudioFormatException($"{subject} has a fmt chunk of {size} bytes, shorter than the 16 bytes a WAVE format needs.");
                }

                if (size > MaxFmtChunkSize)
                {
                    throw new AudioFormatException($"{subject} has an implausibly large fmt chunk of {size} bytes.");
                }

                var fmt = new byte[size + (size & 1)];
                got = stream.ReadAtLeast(fmt, fmt.Length, throwOnEndOfStream: false);
                if (got < size)
                {
                    throw new AudioFormatException($"{subject} is truncated inside its fmt chunk.");
                }

                format = ParseFormat(fmt.AsSpan(0, (int)size), subject);
            }
            else if (id == "data")
            {
                if (format is null)
                {
                    throw new AudioFormatException($"{subject} has its data chunk before its fmt chunk.");
                }

                var data = ReadData(stream, size, subject);
                return new AudioClip(Decode(data.Span, format.Value), format.Value.SampleRate);
            }
            else
            {
                SkipChunk(stream, (long)size + (size & 1), id, subject);
            }
        }
    }

    private static string ChunkId(ReadOnlySpan<byte> id)
    {
        Span<char> chars = stackalloc char[4];
        for (var i = 0; i < 4; i++)
        {
            chars[i] = id[i] is >= 0x20 and < 0x7F ? (char)id[i] : '?';
        }

        return new string(chars);
    }

    private static void SkipChunk(Stream stream, long count, string id, string subject)
    {
        if (stream.CanSeek)
        {
            var remaining = stream.Length - stream.Position;
            if (remaining < count)
            {
                // A missing pad byte after the very last chunk is tolerated; anything shorter is truncation.
                if (remaining == count - 1 && (count & 1) == 1)
                {
                    stream.Position = stream.Length;
                    return;
                }

                throw new AudioFormatException($"{subject} is truncated inside its '{id}' chunk.");
            }

            stream.Position += count;
            return;
        }

        var scratch = ArrayPool<byte>.Shared.Rent(8192);
        try
        {
            while (count > 0)
            {
                var n = stream.Read(scratch, 0, (int)Math.Min(count, scratch.Length));
                if (n == 0)
                {
                    if (count == 1)
                    {
                        return;
                    }

                    throw new AudioFormatException($"{subject} is truncated inside its '{id}' chunk.");
                }

                count -= n;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(scratch);
        }
    }

    private static ReadOnlyMemory<byte> ReadData(Stream stream, uint size, string subject)
    {
        if (size == UnknownDataSize)
        {
            // Writers that stream to a pipe cannot patch the size: the data runs to the end of the stream.
            using var rest = new MemoryStream();
            stream.CopyTo(rest);
            return rest.GetBuffer().AsMemory(0, (int)rest.Length);
        }

        if (stream.CanSeek && stream.Length - stream.Position < size)
        {
            throw new AudioFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{subject} is truncated: its data chunk declares {size} bytes but only {stream.Length - stream.Position} are present."));
        }

        if (size > int.MaxValue)
        {
            throw new AudioFormatException($"{subject} has a data chunk over 2 GiB, which is not supported.");
        }

        var data = new byte[size];
        var got = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (got < size)
        {
            throw new AudioFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{subject} is truncated: its data chunk declares {size} bytes but only {got} are present."));
        }

        return data;
    }

    private static WavFormat ParseFormat(ReadOnlySpan<byte> fmt, string subject)
    {
        var tag = BinaryPrimitives.ReadUInt16LittleEndian(fmt);
        var channels = BinaryPrimitives.ReadUInt16LittleEndian(fmt[2..]);
        var sampleRate = BinaryPrimitives.ReadUInt32LittleEndian(fmt[4..]);
        var bits = BinaryPrimitives.ReadUInt16LittleEndian(fmt[14..]);
        var code = tag;
        if (tag == FormatExtensible)
        {
            if (fmt.Length < 40 || BinaryPrimitives.ReadUInt16LittleEndian(fmt[16..]) < 22)
            {
                throw new AudioFormatException($"{subject} is truncated inside its WAVE_FORMAT_EXTENSIBLE fmt chunk.");
            }

            var guid = fmt.Slice(24, 16);
            code = BinaryPrimitives.ReadUInt16LittleEndian(guid);
            if (!guid[2..].SequenceEqual(SubFormatGuidTail))
            {
                throw new AudioFormatException($"{subject} uses a WAVE_FORMAT_EXTENSIBLE sub-format {new Guid(guid)} that is not supported (only PCM16 and float32 are).");
            }
        }

        var encoding = code switch
        {
            FormatPcm when bits == 16 => WavEncoding.Pcm16,
            FormatFloat when bits == 32 => WavEncoding.Float32,
            FormatPcm => throw new AudioFormatException($"{subject} uses {bits}-bit PCM, but only 16-bit PCM and 32-bit IEEE float are supported."),
            FormatFloat => throw new AudioFormatException($"{subject} uses {bits}-bit IEEE float, but only 16-bit PCM and 32-bit IEEE float are supported."),
            FormatALaw => throw new AudioFormatException($"{subject} uses A-law encoding, but only 16-bit PCM and 32-bit IEEE float are supported."),
            FormatMuLaw => throw new AudioFormatException($"{subject} uses mu-law encoding, but only 16-bit PCM and 32-bit IEEE float are supported."),
            _ => throw new AudioFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{subject} uses WAVE format tag 0x{code:X4}, but only 16-bit PCM and 32-bit IEEE float are supported.")),
        };

        if (channels is 0 or > 2)
        {
            throw new AudioFormatException($"{subject} has {channels} channels, but only mono and stereo are supported.");
        }

        if (sampleRate > int.MaxValue || !AudioSampleRates.IsSupported((int)sampleRate))
        {
            throw new AudioFormatException(string.Create(CultureInfo.InvariantCulture,
                $"{subject} has a sample rate of {sampleRate} Hz, but only 8000, 16000, 22050, 24000, 44100 and 48000 Hz are supported."));
        }

        return new WavFormat(encoding, channels, (int)sampleRate);
    }

    private static float[] Decode(ReadOnlySpan<byte> data, WavFormat format)
    {
        var bytesPerSample = format.Encoding == WavEncoding.Pcm16 ? 2 : 4;
        var blockAlign = bytesPerSample * format.Channels;

        // A trailing partial frame (a writer's bug) is ignored rather than invented.
        var frames = data.Length / blockAlign;
        var samples = new float[frames];
        if (format.Encoding == WavEncoding.Pcm16)
        {
            if (format.Channels == 1)
            {
                for (var i = 0; i < frames; i++)
                {
                    samples[i] = BinaryPrimitives.ReadInt16LittleEndian(data[(2 * i)..]) * (1f / PcmConvert.Pcm16Scale);
                }
            }
            else
            {
                for (var i = 0; i < frames; i++)
                {
                    var l = BinaryPrimitives.ReadInt16LittleEndian(data[(4 * i)..]);
                    var r = BinaryPrimitives.ReadInt16LittleEndian(data[(4 * i + 2)..]);
                    samples[i] = (l + r) * (0.5f / PcmConvert.Pcm16Scale);
                }
            }
        }
        else if (format.Channels == 1)
        {
            for (var i = 0; i < frames; i++)
            {
                samples[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
            }
        }
        else
        {
            for (var i = 0; i < frames; i++)
            {
                var l = BinaryPrimitives.ReadSingleLittleEndian(data[(8 * i)..]);
                var r = BinaryPrimitives.ReadSingleLittleEndian(data[(8 * i + 4)..]);
                samples[i] = 0.5f * (l + r);
            }
        }

        return samples;
    }

    private enum WavEncoding
    {
        Pcm16,
        Float32,
    }

    private readonly record struct WavFormat(WavEncoding Encoding, int Channels, int SampleRate);
}
