using VoiceAgent.Core.Audio;
using Xunit.Abstractions;

namespace VoiceAgent.Core.Tests.Audio;

public sealed class ResamplerTests(ITestOutputHelper output)
{
    public static TheoryData<int, int> RatePairs => new()
    {
        { 48000, 16000 },
        { 16000, 8000 },
        { 8000, 16000 },
        { 44100, 16000 },
        { 22050, 16000 },
        { 16000, 24000 },
        { 24000, 16000 },
        { 16000, 48000 },
        { 48000, 8000 },
        { 8000, 44100 },
        { 44100, 48000 },
    };

    [Theory]
    [MemberData(nameof(RatePairs))]
    public void Matches_sox_rate_on_speech_and_sweep(int inputRate, int outputRate)
    {
        var dir = TestPaths.Scratch("resampler");

        // Speech: espeak-ng output brought to the input rate by sox (this only makes the test input).
        var speech = AudioTestTools.Speech(inputRate);

        // Sweep 50 Hz → 0.9 × the lower Nyquist frequency. Above that, the two designs legitimately differ: sox's default
        // (`rate -h`) keeps 95 % of the band, ours rolls off from 91 % to 100 % (−6 dB at 95.5 %), and everything above
        // the lower Nyquist is rejected by both (see Rejects_aliases for that band).
        var top = 0.9 * Math.Min(inputRate, outputRate) / 2;
        var sweep = Path.Combine(dir, $"sweep-{inputRate}-{outputRate}.wav");
        AudioTestTools.Run("sox", "-D", "-n", "-r", AudioTestTools.Invariant(inputRate), "-e", "floating-point", "-b", "32", sweep,
            "synth", "3", "sine", $"50-{AudioTestTools.Invariant(Math.Floor(top))}", "gain", "-1");

        var inputs = new List<(string Name, string Path)> { ("speech", speech), ("sweep", sweep) };
        if (inputRate == 16000 && AudioTestTools.Recording() is { } recording)
        {
            // A human recording (pocketsphinx test data, 16 kHz) as well, where installed.
            inputs.Add(("recording", recording));
        }

        var results = new List<string>();
        foreach (var (name, path) in inputs)
        {
            var reference = Path.Combine(dir, $"{name}-{inputRate}-{outputRate}-sox.wav");
            AudioTestTools.Run("sox", "-D", path, "-e", "floating-point", "-b", "32", reference, "rate", AudioTestTools.Invariant(outputRate));
            var expected = WavFile.Read(reference).Samples;
            var input = WavFile.Read(path);
            Assert.Equal(inputRate, input.SampleRate);
            var actual = Resampler.Resample(input.Samples, inputRate, outputRate);
            Assert.Equal(new Resampler(inputRate, outputRate).GetTotalOutputLength(input.Samples.Length), actual.Length);
            Assert.InRange(actual.Length - expected.Length, -2, 2);

            // Trim 50 ms at both ends (start-up and tail of both filters); the comparison is at lag 0, so any delay
            // left uncompensated would ruin it.
            var trim = outputRate / 20;
            var length = Math.Min(actual.Length, expected.Length) - (2 * trim);
            var snr = AudioTestTools.Snr(expected.AsSpan(trim, length), actual.AsSpan(trim, length));
            results.Add($"{name} {snr:F1} dB");
            Assert.True(snr >= 40, $"{inputRate}→{outputRate} {name}: SNR vs sox {snr:F1} dB < 40 dB.");
        }

        var design = new Resampler(inputRate, outputRate);
        output.WriteLine($"SNR vs sox {inputRate}→{outputRate}: {string.Join(", ", results)} ({2 * design.HalfWidth} taps × {design.UpFactor} phases, look-ahead {design.DelayInputSamples} input samples)");
    }

    [Theory]
    [InlineData(48000, 16000)]
    [InlineData(44100, 16000)]
    [InlineData(16000, 8000)]
    [InlineData(8000, 16000)]
    [InlineData(22050, 16000)]
    [InlineData(16000, 24000)]
    [InlineData(44100, 48000)]
    public void Chunked_processing_is_bit_identical_to_whole_buffer(int inputRate, int outputRate)
    {
        var rng = new Random(inputRate + outputRate);
        var input = new float[inputRate / 2 + 37];
        for (var i = 0; i < input.Length; i++)
        {
            input[i] = (float)(Math.Sin(i * 0.01) * 0.5 + ((rng.NextDouble() - 0.5) * 0.3));
        }

        var whole = Resampler.Resample(input, inputRate, outputRate);
        var resampler = new Resampler(inputRate, outputRate);
        for (var round = 0; round < 3; round++)
        {
            var chunked = new List<float>();
            var buffer = new float[resampler.GetMaxOutputLength(5000)];
            var position = 0;
            while (position < input.Length)
            {
                var size = round switch
                {
                    0 => 1,
                    1 => rng.Next(1, 700),
                    _ => rng.Next(0, 3) == 0 ? 1 : rng.Next(1, 5000),
                };
                size = Math.Min(size, input.Length - position);
                var n = resampler.Process(input.AsSpan(position, size), buffer);
                Assert.True(n <= resampler.GetMaxOutputLength(size));
                chunked.AddRange(buffer.AsSpan(0, n));
                position += size;
            }

            var tail = new float[resampler.GetFlushLength()];
            Assert.Equal(tail.Length, resampler.Flush(tail));
            chunked.AddRange(tail);
            Assert.Equal(whole.Length, chunked.Count);
            for (var i = 0; i < whole.Length; i++)
            {
                Assert.True(BitConverter.SingleToInt32Bits(whole[i]) == BitConverter.SingleToInt32Bits(chunked[i]), $"Round {round}: sample {i} differs.");
            }

            resampler.Reset();
        }
    }

    [Theory]
    [InlineData(48000, 16000, 12000)]
    [InlineData(48000, 16000, 8400)]
    [InlineData(16000, 8000, 4300)]
    [InlineData(44100, 16000, 9000)]
    [InlineData(8000, 16000, 4000 + 400)]
    public void Rejects_aliases_and_images(int inputRate, int outputRate, double toneHz)
    {
        // A tone above the lower Nyquist frequency must vanish (downsampling: would alias; upsampling: the tone is the
        // image of 8000 − f, which we synthesise as the original and look for it at f).
        double Rms(ReadOnlySpan<float> x)
        {
            var sum = 0.0;
            foreach (var v in x)
            {
                sum += v * (double)v;
            }

            return Math.Sqrt(sum / x.Length);
        }

        var n = inputRate;
        var input = new float[n];
        var frequency = inputRate < outputRate ? inputRate - toneHz : toneHz;
        for (var i = 0; i < n; i++)
        {
            input[i] = (float)(0.9 * Math.Sin(2 * Math.PI * frequency * i / inputRate));
        }

        var y = Resampler.Resample(input, inputRate, outputRate);
        var body = y.AsSpan(outputRate / 10, y.Length - (outputRate / 5));
        double level;
        if (inputRate > outputRate)
        {
            level = 20 * Math.Log10(Rms(body) / (0.9 / Math.Sqrt(2)));
        }
        else
        {
            // Energy at the image frequency, by correlation.
            double c = 0, s = 0;
            for (var i = 0; i < body.Length; i++)
            {
                var phase = 2 * Math.PI * toneHz * i / outputRate;
                c += body[i] * Math.Cos(phase);
                s += body[i] * Math.Sin(phase);
            }

            level = 20 * Math.Log10(2 * Math.Sqrt((c * c) + (s * s)) / body.Length / 0.9);
        }

        output.WriteLine($"{inputRate}→{outputRate}, {toneHz} Hz: {level:F1} dB");
        Assert.True(level < -80, $"{inputRate}→{outputRate}: {toneHz} Hz leaks at {level:F1} dB.");
    }

    [Fact]
    public void Same_rate_is_pass_through_and_lengths_follow_the_ratio()
    {
        var x = new float[] { 0.1f, -0.2f, 0.3f };
        Assert.Equal(x, Resampler.Resample(x, 16000, 16000));
        Assert.Equal(3, Resampler.Resample(new float[9], 48000, 16000).Length);
        Assert.Equal(4, Resampler.Resample(new float[10], 48000, 16000).Length);
        Assert.Equal(160, Resampler.Resample(new float[441], 44100, 16000).Length);
        Assert.Empty(Resampler.Resample([], 8000, 16000));

        // DC passes with unit gain in the steady state.
        var dc = new float[8000];
        Array.Fill(dc, 0.5f);
        var y = Resampler.Resample(dc, 8000, 22050);
        for (var i = 2000; i < 20000; i++)
        {
            Assert.Equal(0.5f, y[i], 4);
        }

        var resampler = new Resampler(16000, 8000);
        resampler.Flush([]);
        Assert.Throws<InvalidOperationException>(() => resampler.Process(new float[4], new float[8]));
        Assert.Throws<ArgumentException>(() => new Resampler(16000, 8000).Process(new float[100], new float[10]));
    }
}
