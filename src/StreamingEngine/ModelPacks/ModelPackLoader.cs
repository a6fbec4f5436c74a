using System.Security.Cryptography;
using System.Text.Json;
using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// Loads a model pack folder (docs/model-pack.md): reads <c>manifest.json</c> into <see cref="ModelPackManifest"/>,
/// validates it, opens every graph as a shared <see cref="OnnxSession"/> and checks each graph's inputs and outputs
/// against the manifest, verifies checksums, and reads the word table. Every failure is a
/// <see cref="ModelPackException"/> whose message starts with the file and names the field.
/// </summary>
public static class ModelPackLoader
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        AllowTrailingCommas = false,
    };

    /// <summary>
    /// Loads the pack in <paramref name="directory"/> (or, when <paramref name="directory"/> is a file, the manifest at
    /// that path).
    /// </summary>
    /// <exception cref="ModelPackException">The manifest, a graph, a checksum or the vocabulary is wrong.</exception>
    public static ModelPack Load(string directory, ModelPackLoadOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        options ??= ModelPackLoadOptions.Default;
        var manifestPath = File.Exists(directory) ? Path.GetFullPath(directory) : Path.GetFullPath(Path.Combine(directory, options.ManifestFileName));
        var packDir = Path.GetDirectoryName(manifestPath)!;
        var display = DisplayPath(manifestPath);
        var manifest = ReadManifest(manifestPath, display);
        ManifestValidator.Validate(manifest, display);
        if (options.ManifestOnly)
        {
            return new ModelPack(packDir, manifestPath, display, manifest, null, []);
        }

        var graphs = new Dictionary<string, OnnxSession>(StringComparer.Ordinal);
        try
        {
            var vocabulary = LoadVocabulary(manifest, packDir, display);
            foreach (var (key, spec) in manifest.Graphs!)
            {
                graphs[key] = OpenGraph(display, packDir, key, spec, options);
            }

            return new ModelPack(packDir, manifestPath, display, manifest, vocabulary, graphs);
        }
        catch
        {
            foreach (var session in graphs.Values)
            {
                session.Dispose();
            }

            throw;
        }
    }

    /// <summary>Reads and validates a manifest file without opening graphs (same as <see cref="Load"/> with <see cref="ModelPackLoadOptions.ManifestOnly"/>).</summary>
    public static ModelPack LoadManifestOnly(string manifestPath) =>
        Load(manifestPath, ModelPackLoadOptions.Default with { ManifestOnly = true });

    /// <summary>Loads the committed demo pack (<c>models/demo</c>).</summary>
    public static ModelPack LoadDemo(ModelPackLoadOptions? options = null) =>
        Load(VoiceAgentPaths.DemoPackDirectory ?? throw new DirectoryNotFoundException("No checkout was found, so models/demo cannot be located; set VOICEAGENT_ROOT."), options);

    /// <summary><paramref name="path"/> relative to the repository root when inside it (forward slashes), else as given.</summary>
    internal static string DisplayPath(string path)
    {
        var root = VoiceAgentPaths.Root;
        if (root is not null)
        {
            var relative = Path.GetRelativePath(root, path);
            if (!relative.StartsWith("..", StringComparison.Ordinal) && !Path.IsPathRooted(relative))
            {
                return relative.Replace('\\', '/');
            }
        }

        return path;
    }

    private static ModelPackManifest ReadManifest(string path, string display)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ModelPackException(display, null, $"the manifest cannot be read: {e.Message}", e);
        }

        try
        {
            return JsonSerializer.Deserialize<ModelPackManifest>(bytes, JsonOptions)
                ?? throw new ModelPackException(display, null, "the manifest is JSON null but must be an object.");
        }
        catch (JsonException e)
        {
            var field = FieldOf(e.Path);
            var where = field is null ? string.Empty : $" (field {field})";
            var line = $"line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1}";
            if (field is not null && e.Message.StartsWith("The JSON value could not be converted to ", StringComparison.Ordinal))
            {
                throw new ModelPackException(display, field, $"{field} has the wrong JSON type at {line}: expected {Expected(e.Message)}.", e);
            }

            throw new ModelPackException(display, field, $"invalid JSON at {line}{where}: {e.Message}", e);
        }
    }

    /// <summary>A readable name of the .NET type a System.Text.Json conversion message mentions.</summary>
    private static string Expected(string message)
    {
        var type = message["The JSON value could not be converted to ".Length..];
        return type switch
        {
            _ when type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) => "an integer",
            _ when type.Contains("Double", StringComparison.Ordinal) => "a number",
            _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
            _ when type.StartsWith("System.String", StringComparison.Ordinal) => "a string",
            _ when type.Contains("IReadOnlyList", StringComparison.Ordinal) => "an array",
            _ => "an object",
        };
    }

    /// <summary>"$.graphs.decoder.inputs[3].dtype" → "graphs.decoder.inputs[3].dtype" (null for the root).</summary>
    private static string? FieldOf(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$")
        {
            return null;
        }

        return jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath.TrimStart('$');
    }

    private static TextVocabulary? LoadVocabulary(ModelPackManifest manifest, string packDir, string display)
    {
        var textTokens = manifest.Vocab!.TextTokens!;
        if (textTokens.Type != "word")
        {
            // Sub-word tokenizers (tiktoken, BPE, SentencePiece) are not decoded by this engine; ids still flow.
            return null;
        }

        var path = Path.Combine(packDir, textTokens.File!);
        if (!File.Exists(path))
        {
            throw new ModelPackException(display, "vocab.text_tokens.file", $"vocab.text_tokens.file is '{textTokens.File}' but that file does not exist in {DisplayPath(packDir)}.");
        }

        var tokens = PackTokens.From(manifest);
        return TextVocabulary.Load(path, DisplayPath(path), tokens.TextVocabSize, tokens.SpecialIds, textTokens.Join ?? " ");
    }

    private static OnnxSession OpenGraph(string display, string packDir, string key, GraphSpec spec, ModelPackLoadOptions options)
    {
        var field = $"graphs.{key}.file";
        var path = Path.Combine(packDir, spec.File!);
        if (!File.Exists(path))
        {
            throw new ModelPackException(display, field, $"{field} is '{spec.File}' but that file does not exist in {DisplayPath(packDir)}.");
        }

        if (options.VerifySha256)
        {
            // Through a stream, so a symbolic link reports its target's size.
            using var stream = File.OpenRead(path);
            if (spec.Bytes is { } bytes && bytes != stream.Length)
            {
                throw new ModelPackException(display, $"graphs.{key}.bytes", $"graphs.{key}.bytes is {bytes} but {spec.File} has {stream.Length} bytes.");
            }

            if (spec.Sha256 is { } expected)
            {
                var actual = Convert.ToHexStringLower(SHA256.HashData(stream));
                if (!string.Equals(actual, expected, StringComparison.OrdinalIgnoreCase))
                {
                    throw new ModelPackException(display, $"graphs.{key}.sha256", $"graphs.{key}.sha256 is {expected} but {spec.File} hashes to {actual}.");
                }
            }
        }

        OnnxSession session;
        try
        {
            session = new OnnxSession(path, options.SessionOptions);
        }
        catch (OrtException e)
        {
            throw new ModelPackException(display, field, $"{field} '{spec.File}' could not be loaded by ONNX Runtime: {e.OrtMessage}", e);
        }

        try
        {
            GraphSignatureValidator.Validate(display, key, spec, session);
            return session;
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }
}
