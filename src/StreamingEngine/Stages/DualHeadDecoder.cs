using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// The dual-head decoder graph (<c>decoder.onnx</c>, docs/model-pack.md §3): new positions' text ids, audio ids,
/// features and feature mask plus the per-layer KV cache in; text-head and audio-head logits of the last new
/// position and the grown caches out. One graph does prefill (many positions) and steps (one position). This wrapper
/// is shared by every conversation (it holds only the session and the layout); each conversation's caches, history
/// and buffers live in its <see cref="DecoderState"/>.
/// </summary>
public sealed class DualHeadDecoder
{
    /// <summary>Wraps the decoder graph of a loaded pack.</summary>
    /// <param name="pack">A pack loaded with its graphs.</param>
    /// <param name="cacheStrategy">How states created by <see cref="CreateState"/> keep their KV caches by default.</param>
    public DualHeadDecoder(ModelPack pack, KvCacheStrategy cacheStrategy = KvCacheStrategy.PingPong)
    {
        ArgumentNullException.ThrowIfNull(pack);
        Pack = pack;
        Session = pack.DecoderGraph;
        CacheStrategy = cacheStrategy;
        Tokens = pack.Tokens;
        var d = pack.Manifest.Decoder!;
        var kv = d.KvCache!;
        NumEntries = kv.NumEntries!.Value;
        FeatureDim = d.FeatureDim!.Value;
        MaxPositions = d.MaxPositions ?? int.MaxValue;
        TextIdsIndex = Session.GetInputIndex("text_ids");
        AudioIdsIndex = Session.GetInputIndex("audio_ids");
        FeaturesIndex = Session.GetInputIndex("features");
        FeatureMaskIndex = Session.GetInputIndex("feature_mask");
        TextLogitsIndex = Session.GetOutputIndex("text_logits");
        AudioLogitsIndex = Session.GetOutputIndex("audio_logits");
        VocabSize = checked((int)Session.Outputs[TextLogitsIndex].Dimensions[^1]);
        if (VocabSize <= 0)
        {
            throw new NotSupportedException($"{pack.DisplayPath}: text_logits must have a fixed last dim (vocab.size).");
        }

        // Cache tensors in entry order, key then value: PastIndices[2i] = past_key_i, [2i+1] = past_value_i.
        PastIndices = new int[2 * NumEntries];
        PresentIndices = new int[2 * NumEntries];
        for (var i = 0; i < NumEntries; i++)
        {
            PastIndices[2 * i] = Session.GetInputIndex(KvCacheSection.Expand(kv.PastKey!, i));
            PastIndices[(2 * i) + 1] = Session.GetInputIndex(KvCacheSection.Expand(kv.PastValue!, i));
            PresentIndices[2 * i] = Session.GetOutputIndex(KvCacheSection.Expand(kv.PresentKey!, i));
            PresentIndices[(2 * i) + 1] = Session.GetOutputIndex(KvCacheSection.Expand(kv.PresentValue!, i));
        }

        var meta = Session.Inputs[PastIndices[0]];
        CacheDims = meta.Dimensions.ToArray();
        CacheType = meta.ElementType;
        CacheAxis = 2;
        for (var i = 0; i < CacheDims.Length; i++)
        {
            if (i != CacheAxis && CacheDims[i] < 0)
            {
                throw new NotSupportedException($"{pack.DisplayPath}: KV cache '{meta.Name}' has a symbolic dim {i} besides the sequence axis; batch, kv_heads and head_dim must be fixed.");
            }
        }
    }

    /// <summary>The pack this decoder belongs to.</summary>
    public ModelPack Pack { get; }

    /// <summary>The shared session.</summary>
    public OnnxSession Session { get; }

    /// <summary>Default cache strategy of new states.</summary>
    public KvCacheStrategy CacheStrategy { get; }

    /// <summary>Resolved token ids and stream rules.</summary>
    public PackTokens Tokens { get; }

    /// <summary>KV cache entries (layers with a cache: shared/text layers, then audio layers).</summary>
    public int NumEntries { get; }

    /// <summary>Width of the <c>features</c> input.</summary>
    public int FeatureDim { get; }

    /// <summary>Width of a logits row.</summary>
    public int VocabSize { get; }

    /// <summary>The most positions a conversation's cache may hold (<c>decoder.max_positions</c>).</summary>
    public int MaxPositions { get; }

    internal int TextIdsIndex { get; }
    internal int AudioIdsIndex { get; }
    internal int FeaturesIndex { get; }
    internal int FeatureMaskIndex { get; }
    internal int TextLogitsIndex { get; }
    internal int AudioLogitsIndex { get; }
    internal int[] PastIndices { get; }
    internal int[] PresentIndices { get; }
    internal long[] CacheDims { get; }
    internal OnnxTensorElementType CacheType { get; }
    internal int CacheAxis { get; }

    /// <summary>A new, empty conversation state.</summary>
    /// <param name="cacheStrategy">Overrides <see cref="CacheStrategy"/>.</param>
    /// <param name="blockPositions">Capacity granularity of ping-pong caches in positions (default 128).</param>
    public DecoderState CreateState(KvCacheStrategy? cacheStrategy = null, int blockPositions = 128) =>
        new(this, cacheStrategy ?? CacheStrategy, blockPositions);
}
