namespace VoiceAgent.StreamingEngine.ModelPacks;

// Typed view of the part-2 manifest sections (docs/model-pack-part2.md): the flow-matching detokenizer and the
// vocoder. Nullable like the rest of the manifest; SpeechSectionValidator reports what is missing or out of range.

public sealed record DetokenizerSection
{
    public string? Graph { get; init; }
    public string? Architecture { get; init; }
    public string? Description { get; init; }
    public int? CodebookSize { get; init; }
    public double? TokenRateHz { get; init; }

    /// <summary>Mel frames per code (4: 12.5 Hz → 50 Hz).</summary>
    public int? Upsample { get; init; }

    public double? FrameRateHz { get; init; }
    public int? NMels { get; init; }
    public int? HiddenSize { get; init; }
    public int? NumLayers { get; init; }
    public int? NumHeads { get; init; }
    public int? HeadDim { get; init; }
    public double? RopeTheta { get; init; }
    public DetokenizerFlowSection? Flow { get; init; }
    public DetokenizerNoiseSection? Noise { get; init; }
    public DetokenizerChunkingSection? Chunking { get; init; }
    public DetokenizerCacheSection? Cache { get; init; }
}

public sealed record DetokenizerFlowSection
{
    public string? Path { get; init; }
    public string? Prediction { get; init; }

    /// <summary><c>euler</c> (the only solver this engine runs).</summary>
    public string? Solver { get; init; }

    public int? Steps { get; init; }
    public string? TSchedule { get; init; }
    public double? TClean { get; init; }
}

public sealed record DetokenizerNoiseSection
{
    /// <summary><c>splitmix64_box_muller</c> (the only generator this engine implements).</summary>
    public string? Generator { get; init; }

    public long? DefaultSeed { get; init; }
    public string? SeedRule { get; init; }
    public string? Description { get; init; }
}

public sealed record DetokenizerChunkingSection
{
    public int? FirstChunkTokens { get; init; }
    public int? ChunkTokens { get; init; }
    public int? LookaheadTokens { get; init; }
    public string? FinalChunk { get; init; }
    public string? Description { get; init; }
}

public sealed record DetokenizerCacheSection
{
    public IReadOnlyList<string>? Inputs { get; init; }
    public IReadOnlyList<string>? Outputs { get; init; }
    public IReadOnlyList<string>? Layout { get; init; }
    public int? GrowAxis { get; init; }
    public int? InitialLength { get; init; }
    public string? Append { get; init; }
    public int? MaxFrames { get; init; }
    public string? Trim { get; init; }
    public string? Reset { get; init; }
}

public sealed record VocoderSection
{
    public string? Graph { get; init; }
    public string? Architecture { get; init; }
    public int? SampleRate { get; init; }
    public int? HopLength { get; init; }
    public IReadOnlyList<int>? UpsampleRates { get; init; }
    public IReadOnlyList<int>? ReceptiveFieldFrames { get; init; }
    public VocoderMelSection? Mel { get; init; }
    public VocoderStitchingSection? Stitching { get; init; }
}

/// <summary>The vocoder's mel (what the detokenizer emits; only training computes it from audio).</summary>
public sealed record VocoderMelSection
{
    public int? SampleRate { get; init; }
    public int? NFft { get; init; }
    public int? HopLength { get; init; }
    public int? WinLength { get; init; }
    public string? Window { get; init; }
    public double? Power { get; init; }
    public int? NMels { get; init; }
    public double? Fmin { get; init; }
    public double? Fmax { get; init; }
    public string? MelScale { get; init; }
    public string? MelNorm { get; init; }
    public string? Log { get; init; }
    public double? LogFloor { get; init; }
    public string? Framing { get; init; }
    public string? Normalisation { get; init; }
    public IReadOnlyList<double>? Mean { get; init; }
    public IReadOnlyList<double>? Std { get; init; }
}

public sealed record VocoderStitchingSection
{
    public int? OverlapFrames { get; init; }
    public int? LookaheadFrames { get; init; }
    public int? LeftContextFrames { get; init; }

    /// <summary><c>raised_cosine</c> (the only cross-fade this engine implements).</summary>
    public string? Crossfade { get; init; }

    public string? CrossfadeFormula { get; init; }
    public string? Description { get; init; }
}
