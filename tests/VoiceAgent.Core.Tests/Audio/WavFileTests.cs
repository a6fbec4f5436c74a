using System.Buffers.Binary;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Core.Tests.Audio;

public sealed class WavFileTests
{
    [Fact]
    public void Pcm16_round_trips_through_file_and_stream()
    {
        var samples = new float[] { 0f, 0.5f, -0.5f, 1f, -1f, 0.25f, 32767f / 32768 };
        var path = Path.Combine(TestPaths.Scratch("wav"), "pcm16.wav");
        WavFile.WritePcm16(path, samples, 16000);
        var clip = WavFile.Read(path);
        Assert.Equal(16000, clip.SampleRate);
        Assert.Equal(new float[] { 0f, 0.5f, -0.5f, 32767f / 32768, -1f, 0.25f, 32767f / 32768 }, clip.Samples);
        Assert.Equal(44 + (2 * samples.Length), new FileInfo(path).Length);

        using var stream = new MemoryStream();
        WavFile.WritePcm16(stream, samples, 8000);
        stream.Position = 0;
        var fromStream = WavFile.Read(stream);
        Assert.Equal(8000, fromStream.SampleRate);
        Assert.Equal(clip.Samples, fromStream.Samples);
    }

    [Fact]
    public void Float32_round_trips_exactly()
    {
        var rng = new Random(3);
        var samples = new float[1001];
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        using var stream = new MemoryStream();
        WavFile.WriteFloat32(stream, samples, 48000);
        stream.Position = 0;
        var clip = WavFile.Read(new NonSeekableStream(stream));
        Assert.Equal(48000, clip.SampleRate);
        Assert.Equal(samples, clip.Samples);
    }

    [Fact]
    public void Reads_files_written_by_sox()
    {
        var dir = TestPaths.Scratch("wav");
        var pcm = Path.Combine(dir, "sox-pcm16.wav");
        var flt = Path.Combine(dir, "sox-float.wav");
        var stereo = Path.Combine(dir, "sox-stereo.wav");
        AudioTestTools.Run("sox", "-D", "-n", "-r", "24000", "-b", "16", "-e", "signed-integer", pcm, "synth", "0.1", "sine", "440", "gain", "-6");
        AudioTestTools.Run("sox", "-D", pcm, "-e", "floating-point", "-b", "32", flt);
        AudioTestTools.Run("sox", "-D", "-n", "-r", "44100", "-c", "2", "-b", "16", stereo, "synth", "0.05", "sine", "440", "sine", "660", "gain", "-6");

        var a = WavFile.Read(pcm);
        var b = WavFile.Read(flt);
        Assert.Equal(24000, a.SampleRate);
        Assert.Equal(2400, a.Samples.Length);
        Assert.Equal(a.Samples, b.Samples);

        // Stereo is averaged: compare with sox's own downmix of the raw channels.
        var s = WavFile.Read(stereo);
        var raw = AudioTestTools.Run("sox", stereo, "-t", "f32", "-").Length; // ensure sox can read it back
        Assert.True(raw > 0);
        var left = Path.Combine(dir, "left.wav");
        var right = Path.Combine(dir, "right.wav");
        AudioTestTools.Run("sox", stereo, left, "remix", "1");
        AudioTestTools.Run("sox", stereo, right, "remix", "2");
        var l = WavFile.Read(left).Samples;
        var r = WavFile.Read(right).Samples;
        Assert.Equal(44100, s.SampleRate);
        for (var i = 0; i < s.Samples.Length; i++)
        {
            Assert.Equal((l[i] + r[i]) / 2, s.Samples[i], 7);
        }
    }

    [Fact]
    public void Walks_chunks_skipping_odd_sized_list_and_reads_extensible_formats()
    {
        var pcm = new byte[] { 0x00, 0x40, 0x00, 0xC0 }; // 0.5, -0.5
        var list = new byte[] { 1, 2, 3, 4, 5 }; // odd size: one pad byte follows
        var bytes = new WavBuilder()
            .Chunk("LIST", list)
            .Fmt(1, 1, 16000, 16)
            .Chunk("junk", new byte[3])
            .Chunk("data", pcm)
            .Chunk("LIST", list)
            .Build();
        Assert.Equal(new[] { 0.5f, -0.5f }, WavFile.Read(new MemoryStream(bytes)).Samples);
        Assert.Equal(new[] { 0.5f, -0.5f }, WavFile.Read(new NonSeekableStream(new MemoryStream(bytes))).Samples);

        var floats = new byte[8];
        BinaryPrimitives.WriteSingleLittleEndian(floats, 0.75f);
        BinaryPrimitives.WriteSingleLittleEndian(floats.AsSpan(4), -0.25f);
        var extensibleFloat = new WavBuilder().FmtExtensible(3, 2, 22050, 32).Chunk("data", floats).Build();
        var clip = WavFile.Read(new MemoryStream(extensibleFloat));
        Assert.Equal(22050, clip.SampleRate);
        Assert.Equal(new[] { 0.25f }, clip.Samples);

        var extensiblePcm = new WavBuilder().FmtExtensible(1, 1, 8000, 16).Chunk("data", pcm).Build();
        Assert.Equal(new[] { 0.5f, -0.5f }, WavFile.Read(new MemoryStream(extensiblePcm)).Samples);
    }

    [Fact]
    public void Errors_are_one_sentence_naming_the_problem()
    {
        var dir = TestPaths.Scratch("wav-errors");
        string Write(string name, byte[] content)
        {
            var path = Path.Combine(dir, name);
            File.WriteAllBytes(path, content);
            return path;
        }

        var pcm = new byte[] { 0x00, 0x40, 0x00, 0xC0 };
        var good = new WavBuilder().Fmt(1, 1, 16000, 16).Chunk("data", pcm).Build();
        var cases = new (string Path, string Expected)[]
        {
            (Path.Combine(dir, "does-not-exist.wav"), "does not exist"),
            (Write("empty.wav", []), "is empty"),
            (Write("text.wav", "hello world, not audio"u8.ToArray()), "is not a RIFF/WAVE file"),
            (Write("riff-avi.wav", [.. "RIFF"u8, 4, 0, 0, 0, .. "AVI "u8]), "is not a RIFF/WAVE file"),
            (Write("short-header.wav", [.. "RIFF"u8, 4, 0]), "truncated"),
            (Write("truncated-fmt.wav", good[..30]), "truncated inside its fmt chunk"),
            (Write("truncated-data.wav", good[..^1]), "truncated: its data chunk declares 4 bytes but only 3 are present"),
            (Write("no-data.wav", new WavBuilder().Fmt(1, 1, 16000, 16).Build()), "has no data chunk"),
            (Write("data-first.wav", new WavBuilder().Chunk("data", pcm).Fmt(1, 1, 16000, 16).Build()), "data chunk before its fmt chunk"),
            (Write("pcm24.wav", new WavBuilder().Fmt(1, 1, 16000, 24).Chunk("data", new byte[6]).Build()), "uses 24-bit PCM"),
            (Write("pcm24-ext.wav", new WavBuilder().FmtExtensible(1, 1, 16000, 24).Chunk("data", new byte[6]).Build()), "uses 24-bit PCM"),
            (Write("float64.wav", new WavBuilder().Fmt(3, 1, 16000, 64).Chunk("data", new byte[8]).Build()), "uses 64-bit IEEE float"),
            (Write("alaw.wav", new WavBuilder().Fmt(6, 1, 8000, 8).Chunk("data", new byte[2]).Build()), "uses A-law encoding"),
            (Write("ulaw.wav", new WavBuilder().Fmt(7, 1, 8000, 8).Chunk("data", new byte[2]).Build()), "uses mu-law encoding"),
            (Write("adpcm.wav", new WavBuilder().Fmt(2, 1, 8000, 4).Chunk("data", new byte[2]).Build()), "uses WAVE format tag 0x0002"),
            (Write("6ch.wav", new WavBuilder().Fmt(1, 6, 16000, 16).Chunk("data", new byte[12]).Build()), "has 6 channels, but only mono and stereo are supported"),
            (Write("11025.wav", new WavBuilder().Fmt(1, 1, 11025, 16).Chunk("data", pcm).Build()), "has a sample rate of 11025 Hz"),
            (Write("truncated-list.wav", new WavBuilder().Fmt(1, 1, 16000, 16).Build().Concat("LIST"u8.ToArray()).Concat(new byte[] { 100, 0, 0, 0, 1 }).ToArray()), "truncated inside its 'LIST' chunk"),
        };

        foreach (var (path, expected) in cases)
        {
            var e = Assert.Throws<AudioFormatException>(() => WavFile.Read(path));
            Assert.Contains(expected, e.Message, StringComparison.Ordinal);
            Assert.Contains(Path.GetFileName(path), e.Message, StringComparison.Ordinal);
            Assert.EndsWith(".", e.Message, StringComparison.Ordinal);
            Assert.Contains($"'{path}'", e.Message, StringComparison.Ordinal);
            var sentence = e.Message.Replace(path, string.Empty, StringComparison.Ordinal);
            Assert.Equal(1, sentence.Count(c => c == '.'));
        }

        // sox's own 24-bit output (WAVE_FORMAT_EXTENSIBLE) is rejected the same way.
        var sox24 = Path.Combine(dir, "sox-24.wav");
        AudioTestTools.Run("sox", "-n", "-r", "16000", "-b", "24", sox24, "synth", "0.01", "sine", "440");
        Assert.Contains("uses 24-bit PCM", Assert.Throws<AudioFormatException>(() => WavFile.Read(sox24)).Message, StringComparison.Ordinal);

        Assert.Contains("The WAV stream is empty", Assert.Throws<AudioFormatException>(() => WavFile.Read(new MemoryStream())).Message, StringComparison.Ordinal);
    }

    /// <summary>Builds RIFF/WAVE byte images chunk by chunk (pad bytes added after odd-sized chunks).</summary>
    private sealed class WavBuilder
    {
        private readonly List<byte> _body = [];

        public WavBuilder Chunk(string id, byte[] content)
        {
            _body.AddRange(System.Text.Encoding.ASCII.GetBytes(id));
            var size = new byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(size, content.Length);
            _body.AddRange(size);
            _body.AddRange(content);
            if ((content.Length & 1) == 1)
            {
                _body.Add(0);
            }

            return this;
        }

        public WavBuilder Fmt(ushort tag, ushort channels, int rate, ushort bits)
        {
            var fmt = new byte[16];
            BinaryPrimitives.WriteUInt16LittleEndian(fmt, tag);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), channels);
            BinaryPrimitives.WriteInt32LittleEndian(fmt.AsSpan(4), rate);
            BinaryPrimitives.WriteInt32LittleEndian(fmt.AsSpan(8), rate * channels * bits / 8);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), (ushort)(channels * bits / 8));
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), bits);
            return Chunk("fmt ", fmt);
        }

        public WavBuilder FmtExtensible(ushort subFormat, ushort channels, int rate, ushort bits)
        {
            var fmt = new byte[40];
            BinaryPrimitives.WriteUInt16LittleEndian(fmt, 0xFFFE);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(2), channels);
            BinaryPrimitives.WriteInt32LittleEndian(fmt.AsSpan(4), rate);
            BinaryPrimitives.WriteInt32LittleEndian(fmt.AsSpan(8), rate * channels * bits / 8);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(12), (ushort)(channels * bits / 8));
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(14), bits);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(16), 22);
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(18), bits);
            BinaryPrimitives.WriteUInt32LittleEndian(fmt.AsSpan(20), channels == 1 ? 4u : 3u);
            byte[] tail = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71];
            BinaryPrimitives.WriteUInt16LittleEndian(fmt.AsSpan(24), subFormat);
            tail.CopyTo(fmt.AsSpan(26));
            return Chunk("fmt ", fmt);
        }

        public byte[] Build()
        {
            var header = new byte[12];
            "RIFF"u8.CopyTo(header);
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(4), _body.Count + 4);
            "WAVE"u8.CopyTo(header.AsSpan(8));
            return [.. header, .. _body];
        }
    }

    /// <summary>Hides CanSeek, as a network or pipe stream would.</summary>
    private sealed class NonSeekableStream(Stream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, 7));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
