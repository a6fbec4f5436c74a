using VoiceAgent.Core.Audio;

namespace VoiceAgent.Core.Tests.Audio;

public sealed class G711Tests
{
    [Theory]
    [InlineData("u-law")]
    [InlineData("a-law")]
    public void Encoding_speech_is_byte_identical_to_sox(string encoding)
    {
        // 8 kHz PCM16 speech plus a full-scale sweep, so every segment and the clipping codes are exercised.
        var dir = TestPaths.Scratch("g711");
        var speech = AudioTestTools.Speech(8000);
        var sweep = Path.Combine(dir, "sweep-8000.wav");
        AudioTestTools.Run("sox", "-D", "-n", "-r", "8000", "-b", "16", "-e", "signed-integer", sweep, "synth", "1", "sine", "50-3900");
        foreach (var input in new[] { speech, sweep })
        {
            var coded = Path.Combine(dir, Path.GetFileNameWithoutExtension(input) + "." + encoding);

            // -D: no dither (sox would otherwise dither when reducing 16 bits to the 13/14 the codec keeps).
            AudioTestTools.Run("sox", "-D", input, "-t", "raw", "-e", encoding, "-b", "8", coded);
            var expected = File.ReadAllBytes(coded);

            var samples = WavFile.Read(input).Samples;
            var pcm = new short[samples.Length];
            PcmConvert.ToPcm16(samples, pcm);
            var actual = new byte[pcm.Length];
            var fromFloat = new byte[pcm.Length];
            if (encoding == "u-law")
            {
                G711.MuLawEncode(pcm, actual);
                G711.MuLawEncode(samples, fromFloat);
            }
            else
            {
                G711.ALawEncode(pcm, actual);
                G711.ALawEncode(samples, fromFloat);
            }

            Assert.Equal(expected.Length, actual.Length);
            Assert.True(expected.AsSpan().SequenceEqual(actual), $"{encoding} of {Path.GetFileName(input)} differs from sox at byte {expected.AsSpan().CommonPrefixLength(actual)}.");
            Assert.Equal(actual, fromFloat);
        }
    }

    [Fact]
    public void Every_pcm16_value_encodes_like_sox()
    {
        // All 65536 PCM16 values through sox's encoders.
        var dir = TestPaths.Scratch("g711");
        var ramp = Path.Combine(dir, "all-values.s16");
        var pcm = new short[65536];
        var bytes = new byte[pcm.Length * 2];
        for (var i = 0; i < pcm.Length; i++)
        {
            pcm[i] = (short)(i - 32768);
            BitConverter.TryWriteBytes(bytes.AsSpan(2 * i), pcm[i]);
        }

        File.WriteAllBytes(ramp, bytes);
        foreach (var encoding in new[] { "u-law", "a-law" })
        {
            var coded = Path.Combine(dir, "all-values." + encoding);
            AudioTestTools.Run("sox", "-D", "-t", "raw", "-r", "8000", "-c", "1", "-e", "signed-integer", "-b", "16", ramp, "-t", "raw", "-e", encoding, "-b", "8", coded);
            var expected = File.ReadAllBytes(coded);
            var actual = new byte[pcm.Length];
            if (encoding == "u-law")
            {
                G711.MuLawEncode(pcm, actual);
            }
            else
            {
                G711.ALawEncode(pcm, actual);
            }

            var at = expected.AsSpan().CommonPrefixLength(actual);
            Assert.True(at == pcm.Length, $"{encoding}: PCM {at - 32768} encodes to {(at < actual.Length ? actual[at] : -1)}, sox gives {(at < expected.Length ? expected[at] : -1)}.");
        }
    }

    [Theory]
    [InlineData("u-law")]
    [InlineData("a-law")]
    public void Decoding_all_256_codes_matches_sox(string encoding)
    {
        var dir = TestPaths.Scratch("g711");
        var codes = Path.Combine(dir, "codes." + encoding);
        var decoded = Path.Combine(dir, "codes-" + encoding + ".s16");
        var all = new byte[256];
        for (var i = 0; i < 256; i++)
        {
            all[i] = (byte)i;
        }

        File.WriteAllBytes(codes, all);
        AudioTestTools.Run("sox", "-D", "-t", "raw", "-r", "8000", "-c", "1", "-e", encoding, "-b", "8", codes, "-t", "raw", "-e", "signed-integer", "-b", "16", decoded);
        var raw = File.ReadAllBytes(decoded);
        Assert.Equal(512, raw.Length);

        var pcm = new short[256];
        var floats = new float[256];
        if (encoding == "u-law")
        {
            G711.MuLawDecode(all, pcm);
            G711.MuLawDecode(all, floats);
        }
        else
        {
            G711.ALawDecode(all, pcm);
            G711.ALawDecode(all, floats);
        }

        for (var i = 0; i < 256; i++)
        {
            var expected = BitConverter.ToInt16(raw, 2 * i);
            Assert.True(expected == pcm[i], $"{encoding} code 0x{i:X2}: sox decodes {expected}, we decode {pcm[i]}.");
            Assert.Equal(pcm[i] / 32768f, floats[i]);
        }

        // Decoding then re-encoding is the identity on every code (except mu-law's negative zero 0x7F → 0xFF).
        var again = new byte[256];
        if (encoding == "u-law")
        {
            G711.MuLawEncode(pcm, again);
            all[0x7F] = 0xFF;
        }
        else
        {
            G711.ALawEncode(pcm, again);
        }

        Assert.Equal(all, again);
    }
}
