using BenchmarkDotNet.Attributes;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// Steady-state cost of the engine's per-step work on the demo pack (single-threaded sessions, the loader's default):
/// one encoder chunk step (80 ms of audio) mid-turn, one decoder step at ≈ 100 cached positions (a turn's prompt plus
/// part of a reply), and the prefill of a typical user turn. Steps oscillate in a small window (truncating the end
/// every 20 steps) so each operation sees the same cache length; the truncation is amortised into the figures.
/// Target: decoder step ≤ 3 ms.
/// </summary>
[MemoryDiagnoser]
public class EngineBenchmarks
{
    private const int EncoderLow = 40;
    private const int EncoderHigh = 60;
    private const int DecoderLow = 90;
    private const int DecoderHigh = 110;

    private ModelPack? _pack;
    private SemanticTokenizerStream? _encoder;
    private DecoderState? _decoder;
    private DecoderPrompt? _prompt;
    private DecoderState? _prefillState;
    private float[] _chunk = [];
    private long _textId;
    private long _audioId;

    [Params(KvCacheStrategy.PingPong, KvCacheStrategy.OrtAllocated)]
    public KvCacheStrategy Strategy { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pack = ModelPackLoader.LoadDemo();
        var tokenizer = new SemanticTokenizer(_pack, Strategy);
        _encoder = tokenizer.CreateStream();
        _chunk = new float[tokenizer.FramesPerStep * tokenizer.MelBins];
        var random = new Random(1);
        for (var i = 0; i < _chunk.Length; i++)
        {
            _chunk[i] = (float)((random.NextDouble() * 1.5) - 0.5);
        }

        for (var i = 0; i < EncoderLow; i++)
        {
            _encoder.PushChunk(_chunk);
        }

        var decoder = new DualHeadDecoder(_pack, Strategy);
        var generator = new ReplyGenerator(decoder);
        var t = _pack.Tokens;
        var codes = new long[30];
        var features = new float[30 * decoder.FeatureDim];
        for (var i = 0; i < codes.Length; i++)
        {
            codes[i] = random.Next(512);
        }

        for (var i = 0; i < features.Length; i++)
        {
            features[i] = (float)random.NextDouble() - 0.5f;
        }

        var turn = new EncodedTurn(codes, features, decoder.FeatureDim, [], string.Empty);
        _prompt = generator.BuildPrompt(turn, OutputMode.TextAndAudio, includeClosing: false);
        _decoder = decoder.CreateState();
        _decoder.PrefillTurn(_prompt);
        _textId = t.TextBlank;
        _audioId = t.AudioTokenOffset + 17;
        while (_decoder.Length < DecoderLow)
        {
            _decoder.Step(_textId, _audioId);
        }

        _prefillState = decoder.CreateState();

        // Warm both paths past their first-run allocations.
        for (var i = 0; i < 50; i++)
        {
            EncoderChunkStep();
            DecoderStep();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _encoder?.Dispose();
        _decoder?.Dispose();
        _prefillState?.Dispose();
        _pack?.Dispose();
    }

    [Benchmark(Description = "Encoder chunk step (80 ms, cache 80-120 frames)")]
    public long EncoderChunkStep()
    {
        if (_encoder!.StepCount >= EncoderHigh)
        {
            _encoder.TruncateSteps(EncoderLow);
        }

        return _encoder.PushChunk(_chunk).Token;
    }

    [Benchmark(Description = "Decoder step (seq 1, past 90-110)")]
    public float DecoderStep()
    {
        if (_decoder!.Length >= DecoderHigh)
        {
            _decoder.Truncate(DecoderLow);
        }

        return _decoder.Step(_textId, _audioId).Text[0];
    }

    [Benchmark(Description = "Decoder prefill of a 36-position user turn (empty cache)")]
    public float DecoderPrefillTurn()
    {
        _prefillState!.Clear();
        return _prefillState.Prefill(_prompt!.TextIds, _prompt.AudioIds, _prompt.Features, _prompt.FeatureMask).Text[0];
    }
}
