using VoiceAgent.Core.Onnx;
using VoiceAgent.Vocoder;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// A loaded model pack: the validated manifest, the resolved token ids, the word table and one shared
/// <see cref="OnnxSession"/> per graph (ORT runs on one session are thread-safe, so every caller uses the same
/// sessions; per-caller state lives in the stage state objects). Created by <see cref="ModelPackLoader"/>.
/// Disposing releases the sessions (no stage may be running then).
/// </summary>
public sealed class ModelPack : IDisposable
{
    private readonly Dictionary<string, OnnxSession> _graphs;

    internal ModelPack(
        string directory,
        string manifestPath,
        string displayPath,
        ModelPackManifest manifest,
        TextVocabulary? vocabulary,
        Dictionary<string, OnnxSession> graphs)
    {
        Directory = directory;
        ManifestPath = manifestPath;
        DisplayPath = displayPath;
        Manifest = manifest;
        Tokens = PackTokens.From(manifest);
        TextVocabulary = vocabulary;
        _graphs = graphs;
        DetokenizerSettings = PackSpeech.Detokenizer(manifest);
        VocoderSettings = PackSpeech.Vocoder(manifest);
        if (graphs.Count > 0 && DetokenizerSettings is { } detokenizer && VocoderSettings is { } vocoder)
        {
            try
            {
                Detokenizer = new FlowMatchingDetokenizer(GetGraph(manifest.Detokenizer!.Graph!), detokenizer);
                Vocoder = new BigVganVocoder(GetGraph(manifest.Vocoder!.Graph!), vocoder);
            }
            catch (ArgumentException e)
            {
                throw new ModelPackException(displayPath, "detokenizer", $"the detokenizer or vocoder graph does not fit its section: {e.Message}", e);
            }
        }
    }

    /// <summary>The pack folder.</summary>
    public string Directory { get; }

    /// <summary>Full path of the manifest.</summary>
    public string ManifestPath { get; }

    /// <summary>The manifest path as error messages show it (relative to the repository root when inside it).</summary>
    public string DisplayPath { get; }

    /// <summary>The validated manifest.</summary>
    public ModelPackManifest Manifest { get; }

    /// <summary>Resolved special ids, audio offset, delay, stop tokens and caps.</summary>
    public PackTokens Tokens { get; }

    /// <summary>The word table (null for a manifest-only load, or a pack whose text tokens are not a word table).</summary>
    public TextVocabulary? TextVocabulary { get; }

    /// <summary>Whether the graphs were opened (false for a manifest-only load).</summary>
    public bool HasGraphs => _graphs.Count > 0;

    /// <summary>The opened graphs by manifest key (empty for a manifest-only load).</summary>
    public IReadOnlyDictionary<string, OnnxSession> Graphs => _graphs;

    /// <summary>The tokenizer graph's session.</summary>
    public OnnxSession TokenizerGraph => GetGraph(Manifest.Tokenizer!.Graph!);

    /// <summary>The decoder graph's session.</summary>
    public OnnxSession DecoderGraph => GetGraph(Manifest.Decoder!.Graph!);

    /// <summary>Absolute tolerance for graph outputs in parity checks (<c>golden.tolerance.float_abs</c>, default 1e-3).</summary>
    public double GraphTolerance => Manifest.Golden?.Tolerance?.GetValueOrDefault("float_abs") is > 0 and var t ? t : 1e-3;

    /// <summary>Absolute tolerance for the mel front end (<c>golden.tolerance.mel_abs</c>, default 1e-4).</summary>
    public double MelTolerance => Manifest.Golden?.Tolerance?.GetValueOrDefault("mel_abs") is > 0 and var t ? t : 1e-4;

    /// <summary>The golden-vector folder (<c>golden.dir</c>), or null when the manifest names none.</summary>
    public string? GoldenDirectory => Manifest.Golden?.Dir is { } dir ? Path.Combine(Directory, dir) : null;

    /// <summary>Whether the pack has the part-2 sections (reply audio); a text-only pack has neither.</summary>
    public bool HasSpeechOutput => DetokenizerSettings is not null;

    /// <summary>The detokenizer's schedule and shapes (<c>detokenizer</c>), or null for a text-only pack.</summary>
    public DetokenizerSettings? DetokenizerSettings { get; }

    /// <summary>The vocoder's hop, overlap and left context (<c>vocoder</c>), or null for a text-only pack.</summary>
    public VocoderSettings? VocoderSettings { get; }

    /// <summary>The shared detokenizer over its session; null for a text-only pack or a manifest-only load.</summary>
    public FlowMatchingDetokenizer? Detokenizer { get; }

    /// <summary>The shared vocoder over its session; null for a text-only pack or a manifest-only load.</summary>
    public BigVganVocoder? Vocoder { get; }

    /// <summary>Absolute tolerance for audio in parity checks (<c>golden.tolerance.audio_abs</c>, default 2e-3).</summary>
    public double AudioTolerance => Manifest.Golden?.Tolerance?.GetValueOrDefault("audio_abs") is > 0 and var t ? t : 2e-3;

    /// <summary>The session of graph <paramref name="key"/> (a key of <c>graphs</c>).</summary>
    public OnnxSession GetGraph(string key)
    {
        if (_graphs.TryGetValue(key, out var session))
        {
            return session;
        }

        throw new InvalidOperationException(_graphs.Count == 0
            ? $"{DisplayPath} was loaded manifest-only; its graphs are not open."
            : $"{DisplayPath} has no graph '{key}' (graphs: {string.Join(", ", _graphs.Keys)}).");
    }

    /// <summary>Releases every session.</summary>
    public void Dispose()
    {
        foreach (var session in _graphs.Values)
        {
            session.Dispose();
        }
    }
}
