using System.Diagnostics;
using System.Text.Json;
using VoiceAgent.Core.Audio;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Perf.Corpus;

/// <summary>
/// Builds and loads the bench's input speech: the demo bank's questions (held-out paraphrases, one or two per intent)
/// spoken by voices the demo pack never trained on (flite <c>rms</c>, espeak-ng <c>en-gb-x-gbcwmd</c> and the
/// held-out variants; training/REPORT.md), plus real human recordings from Debian's pocketsphinx-testdata, cut to their
/// first spoken phrase so that each clip is one user turn. Generated data lives in a git-ignored folder.
/// </summary>
internal static class BenchCorpus
{
    public const int SampleRate = 16000;
    private const int IndexVersion = 2;
    private const string IndexFile = "corpus.json";
    private const int LeadSilenceMs = 300;
    private const string TestData = "/usr/share/pocketsphinx/test/data";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    /// <summary>Held-out paraphrases per demo intent (training/corpus_text.py HELDOUT_EXTRA, evaluation only).</summary>
    private static readonly (string Intent, string Text)[] Questions =
    [
        ("greeting", "hi there good evening"),
        ("greeting", "hey is someone on the line"),
        ("opening_hours", "what hours does the bank keep"),
        ("opening_hours", "are your doors open on a sunday"),
        ("check_balance", "how much cash is sitting in my account"),
        ("check_balance", "tell me what my balance is"),
        ("lost_card", "my bank card disappeared"),
        ("lost_card", "i think somebody took my credit card"),
        ("speak_to_agent", "can you get me a representative"),
        ("speak_to_agent", "please put me through to an operator"),
        ("branch_location", "where exactly is your bank"),
        ("branch_location", "what street is your main office on"),
        ("recent_transactions", "what were my last few payments"),
        ("recent_transactions", "tell me about my latest purchases"),
        ("transfer_money", "i would like to do a transfer"),
        ("transfer_money", "could you send money for me"),
        ("loan_info", "do you have any loan offers"),
        ("loan_info", "what rates do you charge for a personal loan"),
        ("thanks_goodbye", "thanks so much have a good day"),
        ("thanks_goodbye", "that was everything goodbye"),
        ("confirm", "yes that is correct"),
        ("confirm", "sure please do that"),
        ("cancel", "no i changed my mind"),
        ("cancel", "cancel it please"),
        ("fallback", "what will the weather be like on friday"),
        ("fallback", "how do i make fried rice"),
    ];

    /// <summary>Held-out voices: (tool, voice). None of them is a training voice of the demo pack.</summary>
    private static readonly (string Tool, string Voice)[] Voices =
    [
        ("flite", "rms"),
        ("espeak-ng", "en-gb-x-gbcwmd"),
        ("espeak-ng", "en-us+f4"),
        ("espeak-ng", "en+m3"),
    ];

    private static readonly string[] HumanWavs =
    [
        "librivox/sense_and_sensibility_01_austen_64kb-0870.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0880.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0890.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0920.wav",
        "librivox/sense_and_sensibility_01_austen_64kb-0930.wav",
        "cards/001.wav", "cards/002.wav", "cards/003.wav", "cards/004.wav", "cards/005.wav",
    ];

    private static readonly string[] HumanRaws = ["goforward.raw", "numbers.raw", "something.raw", "tidigits/dhd.2934z.raw"];

    /// <summary>Loads the corpus index, building the corpus first when it is missing or from an older version.</summary>
    public static IReadOnlyList<BenchClip> LoadOrBuild(string directory, VadOptions turnVad, TextWriter log, CancellationToken cancellationToken)
    {
        var index = Path.Combine(directory, IndexFile);
        if (File.Exists(index))
        {
            var existing = JsonSerializer.Deserialize<BenchCorpusIndex>(File.ReadAllText(index), Json);
            if (existing is { Version: IndexVersion, Clips.Count: > 0 } && existing.Clips.All(c => File.Exists(Path.Combine(directory, c.File))))
            {
                return existing.Clips;
            }
        }

        return Build(directory, turnVad, log, cancellationToken);
    }

    /// <summary>Synthesizes and cuts every clip into <paramref name="directory"/> and writes the index.</summary>
    public static IReadOnlyList<BenchClip> Build(string directory, VadOptions turnVad, TextWriter log, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(directory);
        var clips = new List<BenchClip>();
        var scratch = Path.Combine(directory, "scratch.wav");
        log.WriteLine($"bench: building the speech corpus in {directory}");
        OrtRuntime.Initialize();
        using var vad = new SileroVadModel();
        foreach (var (tool, voice) in Voices)
        {
            for (var q = 0; q < Questions.Length; q++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var (intent, text) = Questions[q];
                Synthesize(tool, voice, text, scratch);
                var clip = WavFile.Read(scratch);
                var id = $"{tool}-{voice.Replace('+', '-')}-{q:D2}";
                clips.Add(Store(directory, vad, id, "synthetic", $"{tool}:{voice}", text, intent, clip.Samples, clip.SampleRate));
            }
        }

        File.Delete(scratch);
        foreach (var wav in HumanWavs)
        {
            var path = Path.Combine(TestData, wav);
            if (File.Exists(path))
            {
                var clip = WavFile.Read(path);
                clips.Add(StoreHuman(directory, vad, turnVad, wav, clip.Samples, clip.SampleRate));
            }
        }

        foreach (var raw in HumanRaws)
        {
            var path = Path.Combine(TestData, raw);
            if (File.Exists(path))
            {
                var bytes = File.ReadAllBytes(path);
                var samples = new float[bytes.Length / 2];
                for (var i = 0; i < samples.Length; i++)
                {
                    samples[i] = PcmConvert.ToFloat(BitConverter.ToInt16(bytes, 2 * i));
                }

                clips.Add(StoreHuman(directory, vad, turnVad, raw, samples, SampleRate));
            }
        }

        var human = clips.Count(c => c.Source == "human");
        if (human == 0)
        {
            log.WriteLine("bench: pocketsphinx-testdata is not installed; the corpus has synthetic voices only");
        }

        File.WriteAllText(Path.Combine(directory, IndexFile), JsonSerializer.Serialize(new BenchCorpusIndex(IndexVersion, clips), Json));
        log.WriteLine($"bench: corpus ready: {clips.Count - human} synthetic and {human} human clips");
        return clips;
    }

    /// <summary>Reads a clip's samples as PCM16 at <see cref="SampleRate"/>.</summary>
    public static short[] ReadPcm16(string directory, BenchClip clip)
    {
        var audio = WavFile.Read(Path.Combine(directory, clip.File));
        var pcm = new short[audio.Samples.Length];
        PcmConvert.ToPcm16(audio.Samples, pcm);
        return pcm;
    }

    private static BenchClip StoreHuman(string directory, SileroVadModel vad, VadOptions turnVad, string name, float[] samples, int rate)
    {
        // A reading or a digit string pauses longer than the turn-taking hangover: keep the first phrase, which is what
        // a caller says before the agent would answer.
        var segments = VoiceActivityDetector.DetectSegments(vad, samples, rate, turnVad);
        if (segments.Count > 1)
        {
            var end = (int)Math.Min(samples.Length, segments[0].EndSample * rate / segments[0].SampleRate);
            samples = samples[..end];
        }

        var id = "human-" + Path.ChangeExtension(name, null).Replace('/', '-').Replace('.', '-');
        return Store(directory, vad, id, "human", Path.GetDirectoryName(name) is { Length: > 0 } d ? d : "pocketsphinx-testdata", null, null, samples, rate);
    }

    private static BenchClip Store(string directory, SileroVadModel vad, string id, string source, string voice, string? text, string? intent, float[] samples, int rate)
    {
        var at16k = rate == SampleRate ? samples : Resampler.Resample(samples, rate, SampleRate);
        var (first, last) = VoicedBounds(at16k);
        var lead = SampleRate * LeadSilenceMs / 1000;
        var output = new float[lead + (last - first)];
        at16k.AsSpan(first, last - first).CopyTo(output.AsSpan(lead));
        var file = id + ".wav";
        WavFile.WritePcm16(Path.Combine(directory, file), output, SampleRate);
        return new BenchClip
        {
            Id = id,
            File = file,
            Source = source,
            Voice = voice,
            Text = text,
            Intent = intent,
            SampleRate = SampleRate,
            Samples = output.Length,
            SpeechStartSample = lead,
            SpeechEndSample = LastVoicedSample(vad, output),
        };
    }

    /// <summary>
    /// One past the last Silero window (32 ms) whose speech probability reaches 0.5: where the voice ends, not the
    /// breath or room noise after it that the energy trim keeps. Falls back to the end of the clip.
    /// </summary>
    private static int LastVoicedSample(SileroVadModel vad, ReadOnlySpan<float> samples)
    {
        using var stream = vad.CreateStream(SampleRate);
        var window = stream.WindowSamples;
        var end = 0;
        for (var w = 0; (w + 1) * window <= samples.Length; w++)
        {
            if (stream.ProcessWindow(samples.Slice(w * window, window)) >= 0.5f)
            {
                end = (w + 1) * window;
            }
        }

        return end > 0 ? end : samples.Length;
    }

    /// <summary>First and one-past-last sample of the 10 ms frames louder than −40 dB relative to the loudest frame.</summary>
    internal static (int First, int Last) VoicedBounds(ReadOnlySpan<float> samples)
    {
        const int Frame = SampleRate / 100;
        var frames = samples.Length / Frame;
        if (frames == 0)
        {
            return (0, samples.Length);
        }

        var rms = new double[frames];
        var peak = 0.0;
        for (var f = 0; f < frames; f++)
        {
            double sum = 0;
            foreach (var s in samples.Slice(f * Frame, Frame))
            {
                sum += s * s;
            }

            rms[f] = Math.Sqrt(sum / Frame);
            peak = Math.Max(peak, rms[f]);
        }

        var threshold = Math.Max(peak * 0.01, 1e-4);
        var firstFrame = Array.FindIndex(rms, r => r > threshold);
        var lastFrame = Array.FindLastIndex(rms, r => r > threshold);
        return firstFrame < 0 ? (0, samples.Length) : (firstFrame * Frame, (lastFrame + 1) * Frame);
    }

    private static void Synthesize(string tool, string voice, string text, string output)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
        if (tool == "flite")
        {
            foreach (var a in new[] { "-voice", voice, "-t", text, "-o", output })
            {
                start.ArgumentList.Add(a);
            }
        }
        else
        {
            foreach (var a in new[] { "-v", voice, "-w", output, text })
            {
                start.ArgumentList.Add(a);
            }
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{tool} could not be started.");
        process.WaitForExit();
        if (process.ExitCode != 0 || !File.Exists(output))
        {
            throw new InvalidOperationException($"{tool} failed to synthesize '{text}' with voice {voice}; install the Debian package {tool}.");
        }
    }
}
