namespace VoiceAgent.Vocoder;

/// <summary>
/// What the streaming detokenizer needs from a model pack (docs/model-pack-part2.md §2–§3; the manifest's
/// <c>detokenizer</c> section). The defaults are the contract's demo values; a pack loader sets every property from
/// its manifest. <see cref="Validate"/> checks the ranges the algorithm relies on.
/// </summary>
public sealed record DetokenizerSettings
{
    /// <summary>Codes are 0..CodebookSize−1 (<c>detokenizer.codebook_size</c>).</summary>
    public int CodebookSize { get; init; } = 512;

    /// <summary>Mel frames per code (<c>detokenizer.upsample</c>: 12.5 Hz → 50 Hz).</summary>
    public int Upsample { get; init; } = 4;

    /// <summary>Mel bins per frame (<c>detokenizer.n_mels</c>).</summary>
    public int MelBins { get; init; } = 80;

    /// <summary>Cache layers (<c>detokenizer.num_layers</c>).</summary>
    public int NumLayers { get; init; } = 6;

    /// <summary>Cache heads (<c>detokenizer.num_heads</c>).</summary>
    public int NumHeads { get; init; } = 4;

    /// <summary>Cache head size (<c>detokenizer.head_dim</c>).</summary>
    public int HeadDim { get; init; } = 48;

    /// <summary>Euler steps per chunk (<c>detokenizer.flow.steps</c>), 1..50.</summary>
    public int EulerSteps { get; init; } = 6;

    /// <summary>Flow time of the cache-writing call (<c>detokenizer.flow.t_clean</c>), in (0, 1].</summary>
    public double TClean { get; init; } = 0.999;

    /// <summary>Codes emitted by chunk 0 (<c>detokenizer.chunking.first_chunk_tokens</c>, F).</summary>
    public int FirstChunkTokens { get; init; } = 4;

    /// <summary>Codes emitted by later chunks (<c>detokenizer.chunking.chunk_tokens</c>, C).</summary>
    public int ChunkTokens { get; init; } = 8;

    /// <summary>Look-ahead codes decoded but not emitted (<c>detokenizer.chunking.lookahead_tokens</c>, LA).</summary>
    public int LookaheadTokens { get; init; } = 3;

    /// <summary>Prefix-cache cap in frames (<c>detokenizer.cache.max_frames</c>); the oldest frames are dropped beyond it.</summary>
    public int MaxCacheFrames { get; init; } = 750;

    /// <summary>Euler start-noise seed of a reply when the caller gives none (<c>detokenizer.noise.default_seed</c>).</summary>
    public uint DefaultSeed { get; init; }

    /// <summary>Largest window in codes: <c>max(F, C) + LA</c>.</summary>
    public int MaxWindowTokens => Math.Max(FirstChunkTokens, ChunkTokens) + LookaheadTokens;

    /// <summary>Largest window in frames (44 for the demo).</summary>
    public int MaxWindowFrames => MaxWindowTokens * Upsample;

    /// <summary>Floats per cache frame: layers × heads × head_dim.</summary>
    public int CacheFloatsPerFrame => NumLayers * NumHeads * HeadDim;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first property out of range.</summary>
    public void Validate()
    {
        Positive(CodebookSize, nameof(CodebookSize));
        Positive(Upsample, nameof(Upsample));
        Positive(MelBins, nameof(MelBins));
        Positive(NumLayers, nameof(NumLayers));
        Positive(NumHeads, nameof(NumHeads));
        Positive(HeadDim, nameof(HeadDim));
        if (EulerSteps is < 1 or > 50)
        {
            throw new ArgumentException($"{nameof(EulerSteps)} is {EulerSteps} but must be in 1..50.", nameof(EulerSteps));
        }

        if (!(TClean > 0 && TClean <= 1))
        {
            throw new ArgumentException($"{nameof(TClean)} is {TClean} but must be in (0, 1].", nameof(TClean));
        }

        Positive(FirstChunkTokens, nameof(FirstChunkTokens));
        Positive(ChunkTokens, nameof(ChunkTokens));
        if (LookaheadTokens < 0)
        {
            throw new ArgumentException($"{nameof(LookaheadTokens)} is {LookaheadTokens} but must be >= 0.", nameof(LookaheadTokens));
        }

        Positive(MaxCacheFrames, nameof(MaxCacheFrames));
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
        {
            throw new ArgumentException($"{name} is {value} but must be >= 1.", name);
        }
    }
}
