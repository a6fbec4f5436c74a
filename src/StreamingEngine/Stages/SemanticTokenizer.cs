using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// The streaming semantic tokenizer graph (<c>encoder_step.onnx</c>, docs/model-pack.md §2): 8 mel frames plus the
/// turn's caches in; one semantic token, a continuous feature, CTC ids and the grown caches out. This wrapper is
/// shared by every caller (it holds only the session and the layout read from the manifest); each user turn runs in
/// its own <see cref="SemanticTokenizerStream"/>.
/// </summary>
public sealed class SemanticTokenizer
{
    private const string MelInput = "mel";
    private const string TokenOutput = "token";
    private const string FeatureOutput = "feature";

    /// <summary>Wraps the tokenizer graph of a loaded pack (its <c>tokenizer.mode</c> must be <c>streaming_step</c>).</summary>
    public SemanticTokenizer(ModelPack pack, KvCacheStrategy cacheStrategy = KvCacheStrategy.PingPong)
    {
        ArgumentNullException.ThrowIfNull(pack);
        var t = pack.Manifest.Tokenizer!;
        if (t.Mode != "streaming_step")
        {
            throw new NotSupportedException($"{pack.DisplayPath}: tokenizer.mode is '{t.Mode}'; SemanticTokenizer runs streaming_step tokenizers only.");
        }

        Pack = pack;
        Session = pack.TokenizerGraph;
        CacheStrategy = cacheStrategy;
        FramesPerStep = t.FramesPerStep!.Value;
        MelBins = pack.Manifest.Mel!.NMels!.Value;
        FeatureDim = t.FeatureDim!.Value;
        CodebookSize = t.CodebookSize!.Value;
        var cache = t.Cache!;
        CacheGrowPerStep = cache.GrowPerStep!.Value;
        MaxCacheLength = cache.MaxLength!.Value;
        CacheAxis = cache.GrowAxis!.Value;

        MelIndex = Session.GetInputIndex(MelInput);
        TokenIndex = Session.GetOutputIndex(TokenOutput);
        FeatureIndex = Session.GetOutputIndex(FeatureOutput);
        CacheInputIndices = cache.Inputs!.Select(Session.GetInputIndex).ToArray();
        CacheOutputIndices = cache.Outputs!.Select(Session.GetOutputIndex).ToArray();
        CacheDims = new long[CacheInputIndices.Length][];
        CacheTypes = new OnnxTensorElementType[CacheInputIndices.Length];
        for (var i = 0; i < CacheInputIndices.Length; i++)
        {
            var meta = Session.Inputs[CacheInputIndices[i]];
            var dims = meta.Dimensions.ToArray();
            for (var d = 0; d < dims.Length; d++)
            {
                if (d != CacheAxis && dims[d] < 0)
                {
                    throw new NotSupportedException($"{pack.DisplayPath}: tokenizer cache '{meta.Name}' has a symbolic dim {d} besides the grow axis; only the grow axis may vary.");
                }
            }

            CacheDims[i] = dims;
            CacheTypes[i] = meta.ElementType;
        }

        if (t.Ctc is { } ctc)
        {
            Ctc = CtcDecoder.From(ctc);
            CtcIndex = Session.GetOutputIndex(ctc.Output!);
            var ctcDims = Session.Outputs[CtcIndex].Dimensions;
            var count = 1L;
            foreach (var d in ctcDims)
            {
                count = d < 0 ? throw new NotSupportedException($"{pack.DisplayPath}: the CTC output '{ctc.Output}' must have fixed dims.") : count * d;
            }

            CtcIdsPerStep = (int)count;
        }
        else
        {
            CtcIndex = -1;
        }
    }

    /// <summary>The pack this tokenizer belongs to.</summary>
    public ModelPack Pack { get; }

    /// <summary>The shared session.</summary>
    public OnnxSession Session { get; }

    /// <summary>Cache strategy of new streams.</summary>
    public KvCacheStrategy CacheStrategy { get; }

    /// <summary>Mel frames per step (8 = 80 ms).</summary>
    public int FramesPerStep { get; }

    /// <summary>Mel bins per frame.</summary>
    public int MelBins { get; }

    /// <summary>Width of the continuous feature.</summary>
    public int FeatureDim { get; }

    /// <summary>Number of semantic codes.</summary>
    public int CodebookSize { get; }

    /// <summary>CTC ids per step (0 without a CTC head).</summary>
    public int CtcIdsPerStep { get; }

    /// <summary>Cache positions added per step.</summary>
    public int CacheGrowPerStep { get; }

    /// <summary>The supported maximum cache length (<c>tokenizer.cache.max_length</c>).</summary>
    public int MaxCacheLength { get; }

    /// <summary>The most steps one turn can take.</summary>
    public int MaxStepsPerTurn => MaxCacheLength / CacheGrowPerStep;

    /// <summary>The CTC transcript decoder (null without a CTC head).</summary>
    public CtcDecoder? Ctc { get; }

    internal int CacheAxis { get; }
    internal int MelIndex { get; }
    internal int TokenIndex { get; }
    internal int FeatureIndex { get; }
    internal int CtcIndex { get; }
    internal int[] CacheInputIndices { get; }
    internal int[] CacheOutputIndices { get; }
    internal long[][] CacheDims { get; }
    internal OnnxTensorElementType[] CacheTypes { get; }

    /// <summary>A new per-turn stream (one per caller; <see cref="SemanticTokenizerStream.Reset"/> between turns).</summary>
    public SemanticTokenizerStream CreateStream() => new(this);
}
