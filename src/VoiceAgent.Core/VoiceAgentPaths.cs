namespace VoiceAgent.Core;

/// <summary>
/// Locates the files <c>./voiceagent setup</c> places in the repository (native library, downloaded models, the
/// committed demo pack) without any machine-specific absolute path: everything is found by walking up from the
/// running assembly (or the current directory) to the folder that holds <c>VoiceAgent.sln</c>.
/// </summary>
public static class VoiceAgentPaths
{
    /// <summary>Environment variable that overrides the native ONNX Runtime library path.</summary>
    public const string OrtLibraryVariable = "VOICEAGENT_ORT_LIB";

    /// <summary>Environment variable that overrides the repository root (for hosts that run from elsewhere).</summary>
    public const string RootVariable = "VOICEAGENT_ROOT";

    private static readonly Lazy<string?> LazyRoot = new(FindRoot);

    /// <summary>The repository root, or null when the process does not run from a checkout.</summary>
    public static string? Root => LazyRoot.Value;

    /// <summary>The git-ignored folder <c>./voiceagent setup</c> fills.</summary>
    public static string? SetupDirectory => Root is null ? null : Path.Combine(Root, ".cache");

    /// <summary>Where setup extracts <c>libonnxruntime.so.1</c> from onnxruntime-node@1.30.0.</summary>
    public static string? DefaultOrtLibrary => SetupDirectory is null ? null : Path.Combine(SetupDirectory, "native", "libonnxruntime.so.1");

    /// <summary>Where setup extracts <c>silero_vad_v5.onnx</c> from @ricky0123/vad-web@0.0.31.</summary>
    public static string? DefaultSileroModel => SetupDirectory is null ? null : Path.Combine(SetupDirectory, "models", "silero_vad_v5.onnx");

    /// <summary>The committed demo model pack.</summary>
    public static string? DemoPackDirectory => Root is null ? null : Path.Combine(Root, "models", "demo");

    /// <summary>Resolves the native library: explicit configuration, then <see cref="OrtLibraryVariable"/>, then the setup folder.</summary>
    public static string ResolveOrtLibrary(string? configured = null)
    {
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        var fromEnv = Environment.GetEnvironmentVariable(OrtLibraryVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv))
        {
            return fromEnv;
        }

        return DefaultOrtLibrary
            ?? throw new FileNotFoundException(
                $"The ONNX Runtime library was not configured and no checkout was found; set {OrtLibraryVariable} or run ./voiceagent setup.");
    }

    private static string? FindRoot()
    {
        var fromEnv = Environment.GetEnvironmentVariable(RootVariable);
        if (!string.IsNullOrWhiteSpace(fromEnv) && File.Exists(Path.Combine(fromEnv, "VoiceAgent.sln")))
        {
            return Path.GetFullPath(fromEnv);
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "VoiceAgent.sln")))
                {
                    return dir.FullName;
                }
            }
        }

        return null;
    }
}
