using System.Diagnostics.CodeAnalysis;
using BenchmarkDotNet.Attributes;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.Vocoder;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// Cost of the reply-audio stages on the demo pack (single-threaded sessions, the loader's default):
/// one Euler step of the DiT over a full 44-frame window (8 codes + 3 look-ahead) attending to a 100-frame prefix
/// cache, with pre-allocated tensors as <see cref="DetokenizerStream"/> runs it; the first chunk end to end
/// (F + LA = 7 codes → 6 Euler calls over 28 frames + the cache write over 16 → vocoder over 16 frames → 10 frames of
/// PCM): the audio share of the first-packet latency; the first two chunks (15 codes; the difference to the first chunk
/// is a steady-state chunk: 7 DiT calls over 44/32 frames + a 46-frame vocoder call for 640 ms of audio); and one
/// vocoder call on a 30-frame window.
/// </summary>
[MemoryDiagnoser]
[SuppressMessage("Design", "CA1001", Justification = "BenchmarkDotNet owns the lifetime: [GlobalCleanup] disposes every field.")]
public class VocoderBenchmarks
{
    private const int WindowFrames = 44;
    private const int CacheFrames = 100;

    private ModelPack? _pack;
    private OnnxTensor[] _stepInputs = [];
    private OnnxTensor?[] _stepOutputs = [];
    private ReplyAudioPipeline? _pipeline;
    private VocoderWorkspace? _workspace;
    private float[] _mel30 = [];
    private int[] _codes = [];
    private PcmHandler _sink = (_, _) => { };
    private int _samples;

    private static readonly string[] StepInputNames = ["x_t", "tokens", "t", "start_frame", "cache_k", "cache_v"];
    private static readonly string[] StepOutputNames = ["velocity"];

    [GlobalSetup]
    public void Setup()
    {
        _pack = ModelPackLoader.LoadDemo();
        var detokenizer = _pack.Detokenizer ?? throw new InvalidOperationException("The demo pack has no detokenizer.");
        var vocoder = _pack.Vocoder ?? throw new InvalidOperationException("The demo pack has no vocoder.");
        var s = detokenizer.Settings;
        var random = new Random(1);

        var x = new float[WindowFrames * s.MelBins];
        DeterministicNoise.Fill(0, CacheFrames, WindowFrames, s.MelBins, x);
        var tokens = new long[WindowFrames];
        for (var i = 0; i < tokens.Length; i++)
        {
            tokens[i] = (i / s.Upsample * 37) % s.CodebookSize;
        }

        var cacheK = new float[s.CacheFloatsPerFrame * CacheFrames];
        var cacheV = new float[cacheK.Length];
        for (var i = 0; i < cacheK.Length; i++)
        {
            cacheK[i] = (float)(random.NextDouble() - 0.5);
            cacheV[i] = (float)(random.NextDouble() - 0.5);
        }

        long[] cacheShape = [s.NumLayers, s.NumHeads, CacheFrames, s.HeadDim];
        _stepInputs =
        [
            OnnxTensor.FromArray(x, 1, WindowFrames, s.MelBins),
            OnnxTensor.FromArray(tokens, 1, WindowFrames),
            OnnxTensor.FromArray([0.5f], 1),
            OnnxTensor.FromArray([(long)CacheFrames], 1),
            OnnxTensor.FromArray(cacheK, cacheShape),
            OnnxTensor.FromArray(cacheV, cacheShape),
        ];
        _stepOutputs = [OnnxTensor.FromArray(new float[WindowFrames * s.MelBins], 1, WindowFrames, s.MelBins)];

        _codes = [.. Enumerable.Range(0, 15).Select(_ => random.Next(s.CodebookSize))];
        _pipeline = new ReplyAudioPipeline(detokenizer, vocoder);
        _sink = (pcm, _) => _samples += pcm.Length;

        _workspace = vocoder.CreateWorkspace();
        _mel30 = new float[30 * vocoder.Settings.MelBins];
        for (var i = 0; i < _mel30.Length; i++)
        {
            _mel30[i] = (float)((random.NextDouble() * 2) - 1);
        }

        // Warm every path past its first-run allocations (tensors per frame count, ORT arenas).
        for (var i = 0; i < 5; i++)
        {
            EulerStep();
            FirstTwoChunks();
            VocoderCall();
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var t in _stepInputs)
        {
            t.Dispose();
        }

        foreach (var t in _stepOutputs)
        {
            t?.Dispose();
        }

        _pipeline?.Dispose();
        _workspace?.Dispose();
        _pack?.Dispose();
    }

    [Benchmark(Description = "DiT Euler step (window 44 frames, cache 100 frames)")]
    public float EulerStep()
    {
        _pack!.Detokenizer!.Session.Run(StepInputNames, _stepInputs, StepOutputNames, _stepOutputs);
        return _stepOutputs[0]!.GetReadOnlySpan<float>()[0];
    }

    [Benchmark(Description = "First chunk end to end (7 codes: 6+1 DiT calls, vocoder 16 frames)")]
    public int FirstChunk()
    {
        _pipeline!.Reset();
        _samples = 0;
        _pipeline.PushCodes(_codes.AsSpan(0, 7), _sink);
        return _samples;
    }

    [Benchmark(Description = "First two chunks end to end (15 codes)")]
    public int FirstTwoChunks()
    {
        _pipeline!.Reset();
        _samples = 0;
        _pipeline.PushCodes(_codes, _sink);
        return _samples;
    }

    [Benchmark(Description = "Vocoder call (30 frames)")]
    public float VocoderCall() => _pack!.Vocoder!.Vocode(_workspace!, _mel30)[0];
}
