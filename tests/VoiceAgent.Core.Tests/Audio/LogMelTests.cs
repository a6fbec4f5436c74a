using System.Buffers.Binary;
using VoiceAgent.Core.Audio;
using Xunit.Abstractions;

namespace VoiceAgent.Core.Tests.Audio;

public sealed class LogMelTests(ITestOutputHelper output)
{
    public static TheoryData<string, int> Inputs => new()
    {
        { "espeak", 80 },
        { "espeak", 128 },
        { "recording", 80 },
        { "recording", 128 },
        { "short", 80 },
        { "tiny", 128 },
    };

    [Theory]
    [MemberData(nameof(Inputs))]
    public void Both_modes_match_the_numpy_reference(string input, int melBins)
    {
        var path = InputPath(input);
        var audio = WavFile.Read(path);
        Assert.Equal(16000, audio.SampleRate);

        var (whisperFrames, whisperRef) = RunReference(path, "whisper", melBins);
        var whisper = LogMel.Whisper(audio.Samples, melBins);
        Assert.Equal(LogMel.GetWhisperFrameCount(audio.Samples.Length), whisperFrames);
        Assert.Equal(whisperRef.Length, whisper.Length);
        var whisperDiff = 0.0;
        for (var m = 0; m < melBins; m++)
        {
            for (var t = 0; t < whisperFrames; t++)
            {
                // Ours is Whisper's [mel, frame] layout, the reference file is frame-major.
                whisperDiff = Math.Max(whisperDiff, Math.Abs(whisper[(m * whisperFrames) + t] - whisperRef[(t * melBins) + m]));
            }
        }

        var (streamingFrames, streamingRef) = RunReference(path, "streaming", melBins);
        var streaming = LogMel.Streaming(audio.Samples, melBins);
        Assert.Equal(streamingRef.Length, streaming.Length);
        Assert.Equal(0, streamingFrames % 8);
        var streamingDiff = 0.0;
        for (var i = 0; i < streaming.Length; i++)
        {
            streamingDiff = Math.Max(streamingDiff, Math.Abs(streaming[i] - streamingRef[i]));
        }

        output.WriteLine($"{input} ({audio.Samples.Length} samples), {melBins} bins: whisper {whisperFrames} frames, max |diff| {whisperDiff:E2}; streaming {streamingFrames} frames, max |diff| {streamingDiff:E2}");
        Assert.True(whisperDiff <= 1e-3, $"Whisper mode differs from the reference by {whisperDiff}.");
        Assert.True(streamingDiff <= 1e-3, $"Streaming mode differs from the reference by {streamingDiff}.");
    }

    [Fact]
    public void Whisper_padding_matches_the_reference()
    {
        var path = InputPath("short");
        var audio = WavFile.Read(path);
        var (frames, reference) = RunReference(path, "whisper", 80, "--padding", "4000");
        var ours = LogMel.Whisper(audio.Samples, 80, paddingSamples: 4000);
        Assert.Equal(frames * 80, ours.Length);
        for (var m = 0; m < 80; m++)
        {
            for (var t = 0; t < frames; t++)
            {
                Assert.True(Math.Abs(ours[(m * frames) + t] - reference[(t * 80) + m]) <= 1e-3);
            }
        }
    }

    [Fact]
    public void Reference_script_passes_its_self_test()
    {
        // Filters vs. a scalar hand computation and Whisper's published value, Whisper mode vs. torch.stft (when torch is
        // installed), streaming vs. Whisper mode on interior frames: the reference is not only self-consistent.
        var script = Path.Combine(TestPaths.Root, "scripts", "mel_reference.py");
        var log = AudioTestTools.Run(AudioTestTools.Python, script, "--self-test");
        output.WriteLine(log);
        Assert.Contains("self-test passed", log, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(80)]
    [InlineData(128)]
    public void Chunked_streaming_equals_whole_buffer_streaming(int melBins)
    {
        var audio = WavFile.Read(InputPath("espeak")).Samples;
        var whole = LogMel.Streaming(audio, melBins);
        var rng = new Random(melBins);
        var mel = new StreamingLogMel(melBins);
        for (var round = 0; round < 3; round++)
        {
            var result = new List<float>();
            var position = 0;
            var buffer = new float[StreamingLogMel.GetMaxFrames(4000) * melBins];
            while (position < audio.Length)
            {
                var size = Math.Min(audio.Length - position, round switch
                {
                    0 => 1,
                    1 => rng.Next(1, 400),
                    _ => rng.Next(0, 4) == 0 ? 1 : rng.Next(1, 4000),
                });
                var frames = mel.Process(audio.AsSpan(position, size), buffer);
                result.AddRange(buffer.AsSpan(0, frames * melBins));
                position += size;

                // Frame i is out as soon as sample 160·i + 199 is in, and not before.
                Assert.Equal(position < 200 ? 0 : ((position - 200) / 160) + 1, mel.FramesEmitted);
            }

            var tail = new float[mel.GetFlushFrameCount() * melBins];
            Assert.Equal(tail.Length / melBins, mel.Flush(tail));
            result.AddRange(tail);
            Assert.Equal(whole.Length, result.Count);
            for (var i = 0; i < whole.Length; i++)
            {
                Assert.True(Math.Abs(whole[i] - result[i]) <= 1e-6, $"Round {round}: value {i} differs ({whole[i]} vs {result[i]}).");
            }

            mel.Reset();
        }
    }

    [Fact]
    public void Streaming_frame_counts_follow_the_group_rule()
    {
        var mel = new StreamingLogMel(80, groupFrames: 8);
        Assert.Equal(0, mel.GetTotalFrameCount(0));
        Assert.Equal(8, mel.GetTotalFrameCount(1));
        Assert.Equal(8, mel.GetTotalFrameCount(1280));
        Assert.Equal(16, mel.GetTotalFrameCount(1281));
        Assert.Equal(4, new StreamingLogMel(80, groupFrames: 4).GetTotalFrameCount(481));

        Assert.Empty(LogMel.Streaming([], 80));
        Assert.Equal(8 * 80, LogMel.Streaming(new float[5], 80).Length);
        Assert.Equal(0, mel.Flush([]));
        Assert.Throws<InvalidOperationException>(() => mel.Process(new float[1], new float[80]));
        mel.Reset();
        Assert.Equal(float.NegativeInfinity, mel.RunningMax);

        // Silence clamps to (log10(1e-10) + 4) / 4 = −1.5.
        var silence = LogMel.Streaming(new float[3200], 80);
        Assert.All(silence, v => Assert.Equal(-1.5f, v));
    }

    [Fact]
    public void Fft_matches_a_direct_dft()
    {
        var rng = new Random(7);
        foreach (var n in new[] { 1, 2, 3, 5, 7, 8, 12, 30, 49, 200, 400, 512 })
        {
            var re = new double[n];
            var im = new double[n];
            for (var i = 0; i < n; i++)
            {
                re[i] = rng.NextDouble() - 0.5;
                im[i] = rng.NextDouble() - 0.5;
            }

            var fre = (double[])re.Clone();
            var fim = (double[])im.Clone();
            new ComplexFft(n).Forward(fre, fim);
            for (var k = 0; k < n; k++)
            {
                double sr = 0, si = 0;
                for (var t = 0; t < n; t++)
                {
                    var a = -2 * Math.PI * ((long)k * t % n) / n;
                    sr += (re[t] * Math.Cos(a)) - (im[t] * Math.Sin(a));
                    si += (re[t] * Math.Sin(a)) + (im[t] * Math.Cos(a));
                }

                Assert.True(Math.Abs(sr - fre[k]) < 1e-10 && Math.Abs(si - fim[k]) < 1e-10, $"N={n}, bin {k}.");
            }
        }
    }

    [Fact]
    public void Slaney_filters_match_known_values()
    {
        var bank = new MelFilterBank(16000, 400, 80);
        var dense = bank.ToDense();
        Assert.Equal(80 * 201, dense.Length);

        // Whisper's mel_filters.npz mel_80[0, 1] (librosa) = 0.02486259.
        Assert.Equal(0.02486259, dense[1], 7);

        // Slaney scale: 1 kHz = 15 mel, linear below; 8 kHz = 15 + 27·ln 8 / ln 6.4.
        Assert.Equal(15, MelFilterBank.HzToMel(1000), 12);
        Assert.Equal(15 + (27 * Math.Log(8) / Math.Log(6.4)), MelFilterBank.HzToMel(8000), 12);
        Assert.Equal(8000, MelFilterBank.MelToHz(MelFilterBank.HzToMel(8000)), 9);

        // Slaney normalisation: each triangle has unit area in Hz (Riemann sum over the 40 Hz bins, accurate once a filter spans many bins).
        for (var m = 45; m < 80; m++)
        {
            var area = 0.0;
            for (var k = 0; k < 201; k++)
            {
                area += dense[(m * 201) + k] * 40;
            }

            Assert.True(area is > 0.98 and < 1.02, $"Filter {m}: area {area}.");
        }
    }

    private static string InputPath(string name)
    {
        var dir = TestPaths.Scratch("logmel");
        switch (name)
        {
            case "espeak":
                return AudioTestTools.Speech(16000);
            case "recording":
                return AudioTestTools.Recording() ?? AudioTestTools.Speech(16000);
            case "short":
            case "tiny":
                // 0.7 s and 190 samples (less than the 200-sample reflect padding) of the speech.
                var speech = WavFile.Read(AudioTestTools.Speech(16000)).Samples;
                var length = name == "short" ? 11_213 : 190;
                var path = Path.Combine(dir, name + ".wav");
                WavFile.WriteFloat32(path, speech.AsSpan(8000, length), 16000);
                return path;
            default:
                throw new ArgumentOutOfRangeException(nameof(name));
        }
    }

    private static (int Frames, float[] Values) RunReference(string wav, string mode, int melBins, params string[] extra)
    {
        var script = Path.Combine(TestPaths.Root, "scripts", "mel_reference.py");
        var output = Path.Combine(TestPaths.Scratch("logmel"), $"{Path.GetFileNameWithoutExtension(wav)}-{mode}-{melBins}-{string.Join('_', extra)}.bin");
        AudioTestTools.Run(AudioTestTools.Python, [script, "--mode", mode, "--n-mels", AudioTestTools.Invariant(melBins), .. extra, wav, output]);
        var bytes = File.ReadAllBytes(output);
        var frames = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        Assert.Equal(melBins, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(4)));
        var values = new float[frames * melBins];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + (4 * i)));
        }

        return (frames, values);
    }
}
