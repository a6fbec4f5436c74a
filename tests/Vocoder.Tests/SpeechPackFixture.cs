using System.Text.Json;
using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>The demo pack with its part-2 graphs, loaded once for every test class in <see cref="SpeechPackCollection"/>.</summary>
public sealed class SpeechPackFixture : IDisposable
{
    public SpeechPackFixture()
    {
        OrtRuntime.Initialize(new OrtRuntimeOptions { LibraryPath = VoiceAgentPaths.ResolveOrtLibrary() });
        Pack = ModelPackLoader.LoadDemo();
        Detokenizer = Pack.Detokenizer ?? throw new InvalidOperationException("The demo pack has no detokenizer section.");
        Vocoder = Pack.Vocoder ?? throw new InvalidOperationException("The demo pack has no vocoder section.");
    }

    public ModelPack Pack { get; }

    public FlowMatchingDetokenizer Detokenizer { get; }

    public BigVganVocoder Vocoder { get; }

    /// <summary>Graph outputs and mel (golden.tolerance.float_abs).</summary>
    public double Tol => Pack.GraphTolerance;

    /// <summary>Audio (golden.tolerance.audio_abs).</summary>
    public double AudioTol => Pack.AudioTolerance;

    /// <summary>Reads a golden file at test time (the weights may be re-exported).</summary>
    public JsonElement Golden(string file)
    {
        var path = Path.Combine(Pack.GoldenDirectory!, file);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.Clone();
    }

    public void Dispose() => Pack.Dispose();
}

[CollectionDefinition(Name)]
public sealed class SpeechPackCollection : ICollectionFixture<SpeechPackFixture>
{
    public const string Name = "demo speech pack";
}
