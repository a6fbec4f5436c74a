using VoiceAgent.Core.Audio;
using VoiceAgent.Core.Tests.Onnx;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Core.Tests.Vad;

/// <summary>The shared model, the real recordings, and the test signals (silence, noise, compositions, energy truth).</summary>
internal static class VadTestSupport
{
    /// <summary>Debian's pocketsphinx-testdata: human read speech, 16 kHz PCM16 mono.</summary>
    public const string PocketsphinxData = "/usr/share/pocketsphinx/test/data";

    /// <summary>Where the test signals put the clip: 1.5 s of digital silence, then 1 s of noise.</summary>
    public const double LeadSilenceSeconds = 1.5;

    public const double LeadNoiseSeconds = 1.0;

    public const double TailSilenceSeconds = 1.0;

    public const double TailNoiseSeconds = 1.0;

    /// <summary>Noise level relative to the clip's active speech level (a quiet room: 35 dB SNR).</summary>
    public const double NoiseBelowSpeechDb = 35;

    /// <summary>Energy truth: a 10 ms frame is active when its speech-band energy is within this many dB of the loudest frame...</summary>
    public const double TruthBelowPeakDb = 35;

    /// <summary>...and at least this many dB above the clip's own noise floor (10th-percentile frame energy).</summary>
    public const double TruthAboveFloorDb = 6;

    private static readonly Lazy<SileroVadModel> LazyModel = new(() =>
    {
        _ = OnnxTestSupport.Runtime;
        return new SileroVadModel(TestPaths.SileroModel);
    });

    /// <summary>One model for every VAD test (as the engine shares one across sessions); never disposed.</summary>
    public static SileroVadModel Model => LazyModel.Value;

    /// <summary>The ten recordings: five LibriVox sentences and five "cards" utterances.</summary>
    public static IReadOnlyList<string> ClipNames { get; } =
    [
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
        "cards/001.wav",
        "cards/002.wav",
        "cards/003.wav",
        "cards/004.wav",
        "cards/005.wav",
    ];

    /// <summary><see cref="ClipNames"/> as theory data.</summary>
    public static TheoryData<string> Clips => [.. ClipNames];

    /// <summary>Reads a recording; fails with the package name when the Debian test data is not installed.</summary>
    public static AudioClip ReadClip(string name)
    {
        var path = Path.Combine(PocketsphinxData, name);
        Assert.True(
            File.Exists(path),
            $"The recording {path} is missing: install the Debian package pocketsphinx-testdata (./voiceagent setup does it when run as root).");
        var clip = WavFile.Read(path);
        Assert.Equal(16000, clip.SampleRate);
        return clip;
    }

    /// <summary>
    /// Speech boundaries of a clean clip from its short-time energy, independent of the VAD: the clip is band-limited to
    /// the speech band (2nd-order Butterworth high-pass at 300 Hz and low-pass at 4 kHz, so low-frequency rumble and
    /// hiss do not count), cut into 10 ms frames, and a frame is active when its energy is within
    /// <see cref="TruthBelowPeakDb"/> of the loudest frame and at least <see cref="TruthAboveFloorDb"/> above the clip's
    /// noise floor (10th percentile of frame energies). Runs of fewer than 3 active frames (30 ms: clicks) are ignored,
    /// and so is a run that touches the clip's first frame (the cut-off tail of the previous sentence of the audiobook).
    /// The truth is [start of the first run, end of the last run), in seconds.
    /// </summary>
    public static (double Start, double End) EnergyTruth(ReadOnlySpan<float> clip, int sampleRate)
    {
        var band = Biquad(Biquad(clip.ToArray(), sampleRate, 300, highPass: true), sampleRate, 4000, highPass: false);
        var frame = sampleRate / 100;
        var count = band.Length / frame;
        var db = new double[count];
        for (var f = 0; f < count; f++)
        {
            double sum = 0;
            for (var i = f * frame; i < (f + 1) * frame; i++)
            {
                sum += band[i] * band[i];
            }

            db[f] = 10 * Math.Log10((sum / frame) + 1e-12);
        }

        var sorted = db.Order().ToArray();
        var threshold = Math.Max(sorted[^1] - TruthBelowPeakDb, sorted[count / 10] + TruthAboveFloorDb);
        var runs = new List<(int First, int Last)>();
        for (var f = 0; f < count;)
        {
            if (db[f] < threshold)
            {
                f++;
                continue;
            }

            var first = f;
            while (f < count && db[f] >= threshold)
            {
                f++;
            }

            if (f - first >= 3 && first > 0)
            {
                runs.Add((first, f - 1));
            }
        }

        Assert.True(runs.Count > 0, "the clip has no speech by the energy rule");
        return ((double)runs[0].First * frame / sampleRate, (double)(runs[^1].Last + 1) * frame / sampleRate);
    }

    /// <summary>RMS over the frames the energy truth calls active (the "speech level" the noise is set against).</summary>
    public static double SpeechRms(ReadOnlySpan<float> clip, int sampleRate)
    {
        var (start, end) = EnergyTruth(clip, sampleRate);
        var span = clip[(int)(start * sampleRate)..(int)(end * sampleRate)];
        double sum = 0;
        foreach (var x in span)
        {
            sum += (double)x * x;
        }

        return Math.Sqrt(sum / span.Length);
    }

    /// <summary>RBJ-cookbook 2nd-order Butterworth (Q = 1/√2) high- or low-pass at <paramref name="cutoff"/> Hz.</summary>
    public static double[] Biquad(IReadOnlyList<double> x, int sampleRate, double cutoff, bool highPass)
    {
        var w = 2 * Math.PI * cutoff / sampleRate;
        var alpha = Math.Sin(w) / Math.Sqrt(2);
        var cos = Math.Cos(w);
        var a0 = 1 + alpha;
        var (b0, b1) = highPass ? ((1 + cos) / 2, -(1 + cos)) : ((1 - cos) / 2, 1 - cos);
        double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
        var y = new double[x.Count];
        for (var i = 0; i < y.Length; i++)
        {
            var v = x[i];
            var o = ((b0 * v) + (b1 * x1) + (b0 * x2) - (-2 * cos * y1) - ((1 - alpha) * y2)) / a0;
            (x2, x1, y2, y1) = (x1, v, y1, o);
            y[i] = o;
        }

        return y;
    }

    private static double[] Biquad(float[] x, int sampleRate, double cutoff, bool highPass) =>
        Biquad(Array.ConvertAll(x, v => (double)v), sampleRate, cutoff, highPass);

    /// <summary>Gaussian white noise with RMS <paramref name="rms"/>.</summary>
    public static float[] WhiteNoise(int samples, double rms, int seed)
    {
        var random = new Random(seed);
        var noise = new float[samples];
        for (var i = 0; i < samples; i++)
        {
            // Box–Muller.
            var u1 = 1.0 - random.NextDouble();
            var u2 = random.NextDouble();
            noise[i] = (float)(rms * Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2));
        }

        return noise;
    }

    /// <summary>Pink (1/f) noise with RMS <paramref name="rms"/> (Paul Kellet's refined filter over white noise).</summary>
    public static float[] PinkNoise(int samples, double rms, int seed)
    {
        var white = WhiteNoise(samples, 1, seed);
        var pink = new double[samples];
        double b0 = 0, b1 = 0, b2 = 0, b3 = 0, b4 = 0, b5 = 0, b6 = 0;
        for (var i = 0; i < samples; i++)
        {
            var w = white[i];
            b0 = (0.99886 * b0) + (w * 0.0555179);
            b1 = (0.99332 * b1) + (w * 0.0750759);
            b2 = (0.96900 * b2) + (w * 0.1538520);
            b3 = (0.86650 * b3) + (w * 0.3104856);
            b4 = (0.55000 * b4) + (w * 0.5329522);
            b5 = (-0.7616 * b5) - (w * 0.0168980);
            pink[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + (w * 0.5362);
            b6 = w * 0.115926;
        }

        var actual = Math.Sqrt(pink.Sum(x => x * x) / samples);
        return pink.Select(x => (float)(x * rms / actual)).ToArray();
    }

    /// <summary>
    /// [1.5 s digital silence][1 s noise][clip][1 s digital silence][1 s noise], noise
    /// <see cref="NoiseBelowSpeechDb"/> below the clip's speech level (white for even seeds, pink for odd). Returns the
    /// signal and where the clip begins, in seconds.
    /// </summary>
    public static (float[] Signal, double ClipOffset) Compose(ReadOnlySpan<float> clip, int sampleRate, int seed = 1)
    {
        var noiseRms = SpeechRms(clip, sampleRate) * Math.Pow(10, -NoiseBelowSpeechDb / 20);
        float[] Noise(double seconds, int s) => seed % 2 == 0
            ? WhiteNoise((int)(seconds * sampleRate), noiseRms, s)
            : PinkNoise((int)(seconds * sampleRate), noiseRms, s);
        var parts = new[]
        {
            new float[(int)(LeadSilenceSeconds * sampleRate)],
            Noise(LeadNoiseSeconds, seed),
            clip.ToArray(),
            new float[(int)(TailSilenceSeconds * sampleRate)],
            Noise(TailNoiseSeconds, seed + 1000),
        };
        return ([.. parts.SelectMany(p => p)], LeadSilenceSeconds + LeadNoiseSeconds);
    }

    /// <summary>Options for boundary measurements: defaults, but no padding so segment edges are the detected edges.</summary>
    public static VadOptions Unpadded(int sampleRate = 16000) => new() { SpeechPadMs = 0, SampleRate = sampleRate };

    /// <summary>Splits <paramref name="signal"/> into random chunk sizes from 1 to <paramref name="maxChunk"/>.</summary>
    public static IEnumerable<ReadOnlyMemory<float>> RandomChunks(float[] signal, int seed, int maxChunk = 2000)
    {
        var random = new Random(seed);
        for (var at = 0; at < signal.Length;)
        {
            var n = Math.Min(random.Next(1, maxChunk + 1), signal.Length - at);
            yield return signal.AsMemory(at, n);
            at += n;
        }
    }
}
