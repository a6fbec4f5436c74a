using System.Diagnostics;
using System.Text.Json;
using VoiceAgent.Core.Onnx;
using VoiceAgent.Perf.Load;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.Perf.Scale;

/// <summary>Decoder cost of one pack size at one thread count.</summary>
internal sealed record ScalePoint(
    string Pack,
    long Parameters,
    int Hidden,
    int Layers,
    int AudioLayers,
    int Heads,
    int KvHeads,
    int Threads,
    Distribution StepAt100Ms,
    Distribution StepAt1000Ms,
    Distribution Prefill36Ms,
    int StepsBeforeFirstChunk)
{
    /// <summary>Decoder share of the first packet: the user turn's prefill plus the steps before the first audio chunk.</summary>
    public double? DecoderFirstPacketMs => Prefill36Ms.P50 is { } p && StepAt100Ms.P50 is { } s ? Math.Round(p + (StepsBeforeFirstChunk * s), 1) : null;

    /// <summary>Concurrent replies one core can keep at 12.5 steps/s (decoder only): 80 ms / step.</summary>
    public double? RealTimeStreamsPerCore => StepAt100Ms.P50 is > 0 and var s ? Math.Round(80.0 / s, 1) : null;
}

/// <summary>
/// Times the dual-head decoder of each pack through the engine's own classes (<see cref="DualHeadDecoder"/>,
/// <see cref="DecoderState"/>, the ORT binding): one step at ~100 and ~1000 cached positions (kept in a 10-position
/// window by truncating the end) and the prefill of a 36-position user turn (≈ 2.2 s of speech) from an empty cache.
/// </summary>
internal static class DecoderScaleStudy
{
    private const int TurnPositions = 36;
    private static readonly TimeSpan TargetTime = TimeSpan.FromSeconds(3);

    public static ScalePoint Measure(string packDirectory, int threads, TextWriter log, CancellationToken cancellationToken)
    {
        var sessionOptions = new OnnxSessionOptions { IntraOpThreads = threads, InterOpThreads = 1 };
        using var pack = ModelPackLoader.Load(packDirectory, new ModelPackLoadOptions { VerifySha256 = false, SessionOptions = sessionOptions });
        var decoder = new DualHeadDecoder(pack);
        var d = pack.Manifest.Decoder!;
        var t = pack.Tokens;
        var name = Path.GetFileName(Path.TrimEndingDirectorySeparator(packDirectory));
        var random = new Random(5);
        var steps = t.AudioDelay + (pack.DetokenizerSettings is { } ds ? ds.FirstChunkTokens + ds.LookaheadTokens : 0);

        using var state = decoder.CreateState();
        var (text, audio, features, mask) = Prompt(decoder, t, TurnPositions, random);
        var prefill = Time(() =>
        {
            state.Clear();
            state.Prefill(text, audio, features, mask, cancellationToken);
        }, cancellationToken);

        var step100 = TimeSteps(state, decoder, t, 100, random, cancellationToken);
        var step1000 = TimeSteps(state, decoder, t, 1000, random, cancellationToken);
        var point = new ScalePoint(name, Parameters(pack, packDirectory), d.HiddenSize ?? 0, d.NumLayers ?? 0, d.NumAudioLayers ?? 0,
            d.NumAttentionHeads ?? 0, d.NumKvHeads ?? 0, threads, step100, step1000, prefill, steps);
        log.WriteLine($"scale: {name} ({point.Parameters / 1e6:F0} M params, {threads} thread(s)): step p50 {step100.P50} ms at 100 positions, {step1000.P50} ms at 1000, prefill {prefill.P50} ms");
        return point;
    }

    private static Distribution TimeSteps(DecoderState state, DualHeadDecoder decoder, PackTokens t, int context, Random random, CancellationToken cancellationToken)
    {
        state.Clear();
        var (text, audio, features, mask) = Prompt(decoder, t, context, random);
        state.Prefill(text, audio, features, mask, cancellationToken);
        var audioId = t.AudioTokenOffset + 17;
        return Time(() =>
        {
            if (state.Length >= context + 10)
            {
                state.Truncate(context);
            }

            state.Step(t.TextBlank, audioId, cancellationToken);
        }, cancellationToken);
    }

    /// <summary>A user-turn-shaped prompt: framing ids around random audio codes with random features.</summary>
    private static (long[] Text, long[] Audio, float[] Features, float[] Mask) Prompt(DualHeadDecoder decoder, PackTokens t, int length, Random random)
    {
        var text = new long[length];
        var audio = new long[length];
        var mask = new float[length];
        var features = new float[length * decoder.FeatureDim];
        for (var i = 0; i < length; i++)
        {
            text[i] = t.TextBlank;
            audio[i] = t.AudioTokenOffset + random.Next(512);
            mask[i] = i is > 1 && i < length - 4 ? 1f : 0f;
        }

        audio[0] = t.UserMsgStart;
        audio[1] = t.MediaBegin;
        audio[^1] = t.AssistantMsgStart;
        for (var i = 0; i < features.Length; i++)
        {
            features[i] = (float)(random.NextDouble() - 0.5);
        }

        return (text, audio, features, mask);
    }

    /// <summary>Runs <paramref name="action"/> 3 times to warm up, then for about 3 s (at least 8 and at most 400 times).</summary>
    private static Distribution Time(Action action, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 3; i++)
        {
            action();
        }

        var samples = new List<double>();
        var started = Stopwatch.GetTimestamp();
        while (samples.Count < 8 || (samples.Count < 400 && Stopwatch.GetElapsedTime(started) < TargetTime))
        {
            cancellationToken.ThrowIfCancellationRequested();
            var t0 = Stopwatch.GetTimestamp();
            action();
            samples.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }

        return Percentiles.Summarize(samples);
    }

    /// <summary>Decoder parameters: the manifest's record when it has one, else float32 weight bytes / 4.</summary>
    private static long Parameters(ModelPack pack, string directory)
    {
        if (pack.Manifest.Training is { ValueKind: JsonValueKind.Object } training)
        {
            if (training.TryGetProperty("scale_study", out var scale) && scale.TryGetProperty("decoder_params", out var p1) && p1.TryGetInt64(out var v1))
            {
                return v1;
            }

            if (training.TryGetProperty("decoder_params", out var p2) && p2.TryGetInt64(out var v2))
            {
                return v2;
            }
        }

        var graph = Path.Combine(directory, pack.Manifest.Graphs![pack.Manifest.Decoder!.Graph!].File!);
        var bytes = new FileInfo(graph).Length + (File.Exists(graph + ".data") ? new FileInfo(graph + ".data").Length : 0);
        return bytes / 4;
    }
}
