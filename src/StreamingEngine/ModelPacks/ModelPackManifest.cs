using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace VoiceAgent.StreamingEngine.ModelPacks;

// Typed view of manifest.json (docs/model-pack.md §9, models/demo/manifest.schema.json). Every property is nullable:
// System.Text.Json fills what is present and ManifestValidator reports what is missing or out of range with the
// field's dotted path, which a deserializer's own "required" errors would not.

/// <summary>The whole manifest.</summary>
public sealed record ModelPackManifest
{
    public int? SchemaVersion { get; init; }
    public string? Name { get; init; }
    public string? Description { get; init; }
    public string? License { get; init; }
    public AudioSection? Audio { get; init; }
    public MelSection? Mel { get; init; }
    public TokenizerSection? Tokenizer { get; init; }
    public DecoderSection? Decoder { get; init; }
    public VocabSection? Vocab { get; init; }
    public IReadOnlyDictionary<string, long>? SpecialTokens { get; init; }
    public StreamSection? Stream { get; init; }
    public SamplingSection? Sampling { get; init; }
    public IReadOnlyDictionary<string, GraphSpec>? Graphs { get; init; }
    public GoldenSection? Golden { get; init; }
    public JsonElement? Training { get; init; }

    /// <summary>Part 2: codes → mel (docs/model-pack-part2.md §2–§3); absent in a text-only pack.</summary>
    public DetokenizerSection? Detokenizer { get; init; }

    /// <summary>Part 2: mel → audio (docs/model-pack-part2.md §1, §4); absent in a text-only pack.</summary>
    public VocoderSection? Vocoder { get; init; }
}

public sealed record AudioSection
{
    public int? InputSampleRate { get; init; }
    public int? InputChannels { get; init; }
    public string? InputFormat { get; init; }
    public int? OutputSampleRate { get; init; }
}

public sealed record MelSection
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
    public double? ClampBelowMax { get; init; }
    public string? ClampMode { get; init; }
    public double? Offset { get; init; }
    public double? Divisor { get; init; }
    public string? Framing { get; init; }
    public string? LeftPad { get; init; }
    public int? FrameGroup { get; init; }
    public string? Description { get; init; }
}

public sealed record TokenizerSection
{
    public string? Graph { get; init; }

    /// <summary><c>streaming_step</c> (one chunk per call with a cache) or <c>whole_utterance</c>.</summary>
    public string? Mode { get; init; }

    public int? FramesPerStep { get; init; }
    public double? TokenRateHz { get; init; }
    public int? TokensPerStep { get; init; }
    public int? CodebookSize { get; init; }
    public int? FeatureDim { get; init; }
    public double? FeatureRateHz { get; init; }
    public string? FeatureGraph { get; init; }
    public double? MaxInputSeconds { get; init; }
    public TokenizerCacheSection? Cache { get; init; }
    public CtcSection? Ctc { get; init; }
}

public sealed record TokenizerCacheSection
{
    public IReadOnlyList<string>? Inputs { get; init; }
    public IReadOnlyList<string>? Outputs { get; init; }
    public int? GrowAxis { get; init; }
    public int? GrowPerStep { get; init; }
    public int? InitialLength { get; init; }
    public string? Reset { get; init; }
    public int? MaxLength { get; init; }
}

public sealed record CtcSection
{
    public string? Output { get; init; }
    public double? RateHz { get; init; }
    public long? BlankId { get; init; }
    public IReadOnlyList<string>? Chars { get; init; }
    public long? CharIdOffset { get; init; }
    public string? Decode { get; init; }
}

public sealed record DecoderSection
{
    public string? Graph { get; init; }
    public string? Architecture { get; init; }
    public int? HiddenSize { get; init; }
    public int? NumLayers { get; init; }
    public int? NumAudioLayers { get; init; }
    public int? AudioBranchLayerIndex { get; init; }
    public int? NumAttentionHeads { get; init; }
    public int? NumKvHeads { get; init; }
    public int? HeadDim { get; init; }
    public int? IntermediateSize { get; init; }
    public double? RopeTheta { get; init; }
    public string? Norm { get; init; }
    public int? MaxPositions { get; init; }
    public int? FeatureDim { get; init; }
    public string? Logits { get; init; }
    public string? Dtype { get; init; }
    public KvCacheSection? KvCache { get; init; }
}

public sealed record KvCacheSection
{
    public int? NumEntries { get; init; }
    public IReadOnlyList<string>? Layout { get; init; }
    public string? Dtype { get; init; }
    public string? PastKey { get; init; }
    public string? PastValue { get; init; }
    public string? PresentKey { get; init; }
    public string? PresentValue { get; init; }
    public string? Order { get; init; }
    public string? Positions { get; init; }

    /// <summary>Expands a <c>{i}</c> pattern for entry <paramref name="index"/>.</summary>
    public static string Expand(string pattern, int index) =>
        pattern.Replace("{i}", index.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
}

public sealed record VocabSection
{
    public long? Size { get; init; }
    public long? TextVocabSize { get; init; }
    public long? AudioTokenOffset { get; init; }
    public long? AudioVocabSize { get; init; }
    public TextTokensSection? TextTokens { get; init; }
}

public sealed record TextTokensSection
{
    /// <summary><c>word</c> (a JSON id → token table; the only kind this engine decodes), <c>tiktoken</c>, <c>bpe</c>, <c>sentencepiece</c>.</summary>
    public string? Type { get; init; }
    public string? File { get; init; }
    public string? Join { get; init; }
}

public sealed record StreamSection
{
    public int? AudioDelay { get; init; }
    public string? TextBlank { get; init; }
    public string? TextEos { get; init; }
    public OutputModeTokensSection? OutputModeTokens { get; init; }
    public IReadOnlyList<string>? StopAudioTokens { get; init; }
    public int? MaxNewTokens { get; init; }
    public int? MaxReplyAudioTokens { get; init; }

    /// <summary>
    /// Earlier turns the decoder should see when it answers (what it was trained to use); an engine drops older ones.
    /// Absent: no limit but the context length.
    /// </summary>
    public int? HistoryTurns { get; init; }
}

public sealed record OutputModeTokensSection
{
    public string? Text { get; init; }
    public string? TextAndAudio { get; init; }
}

public sealed record SamplingSection
{
    public bool? DemoGreedy { get; init; }
    public SamplerSection? Text { get; init; }
    public SamplerSection? Audio { get; init; }

    /// <summary>Text id (as a string key) → value added to the text logits before every choice, greedy or sampled.</summary>
    public IReadOnlyDictionary<string, double>? TextLogitBias { get; init; }
}

public sealed record SamplerSection
{
    public double? Temperature { get; init; }
    public int? TopK { get; init; }
    public double? RepetitionPenalty { get; init; }
    public int? RepetitionWindow { get; init; }
}

public sealed record GraphSpec
{
    public string? File { get; init; }
    public int? Opset { get; init; }
    public string? Description { get; init; }
    public IReadOnlyList<TensorSpec>? Inputs { get; init; }
    public IReadOnlyList<TensorSpec>? Outputs { get; init; }
    public string? Sha256 { get; init; }
    public long? Bytes { get; init; }
}

public sealed record TensorSpec
{
    public string? Name { get; init; }

    /// <summary><c>float32</c>, <c>float16</c>, <c>bfloat16</c>, <c>int64</c>, <c>int32</c> or <c>bool</c>.</summary>
    public string? Dtype { get; init; }

    public IReadOnlyList<ManifestDim>? Dims { get; init; }
    public string? Description { get; init; }
}

/// <summary>One declared dimension: a fixed size or a symbolic name (<c>"seq"</c>, <c>"past_seq"</c>).</summary>
[JsonConverter(typeof(ManifestDimConverter))]
public readonly record struct ManifestDim(long? Value, string? Symbol)
{
    /// <summary>Whether the dimension is symbolic.</summary>
    public bool IsSymbolic => Symbol is not null;

    public override string ToString() => Symbol is { } s ? $"\"{s}\"" : Value!.Value.ToString(CultureInfo.InvariantCulture);
}

public sealed record GoldenSection
{
    public string? Dir { get; init; }
    public IReadOnlyList<string>? Files { get; init; }
    public IReadOnlyDictionary<string, double>? Tolerance { get; init; }
}

/// <summary>Reads a dim as an integer or a string.</summary>
internal sealed class ManifestDimConverter : JsonConverter<ManifestDim>
{
    public override ManifestDim Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number when reader.TryGetInt64(out var v) => new ManifestDim(v, null),
        JsonTokenType.String => new ManifestDim(null, reader.GetString()),
        _ => throw new JsonException("a dimension must be an integer or a string"),
    };

    public override void Write(Utf8JsonWriter writer, ManifestDim value, JsonSerializerOptions options)
    {
        if (value.Symbol is { } s)
        {
            writer.WriteStringValue(s);
        }
        else
        {
            writer.WriteNumberValue(value.Value ?? 0);
        }
    }
}
