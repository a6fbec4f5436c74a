namespace VoiceAgent.Core.Tests;

/// <summary>Paths the tests need, all resolved from the checkout (never absolute).</summary>
internal static class TestPaths
{
    public static string Root => VoiceAgentPaths.Root ?? throw new InvalidOperationException("Tests must run from a checkout.");

    public static string OrtLibrary => VoiceAgentPaths.ResolveOrtLibrary();

    public static string SileroModel => VoiceAgentPaths.DefaultSileroModel!;

    /// <summary>A fresh scratch folder under the test output (git-ignored bin/), deleted by nobody: inspect after a failure.</summary>
    public static string Scratch(string name)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "scratch", name);
        Directory.CreateDirectory(dir);
        return dir;
    }
}
