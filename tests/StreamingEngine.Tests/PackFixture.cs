using System.Text.Json;
using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

/// <summary>The demo pack, loaded once for every test class in <see cref="PackCollection"/>.</summary>
public sealed class PackFixture : IDisposable
{
    public PackFixture()
    {
        OrtRuntime.Initialize(new OrtRuntimeOptions { LibraryPath = VoiceAgentPaths.ResolveOrtLibrary() });
        Pack = ModelPackLoader.LoadDemo();
        Tokenizer = new SemanticTokenizer(Pack);
        Decoder = new DualHeadDecoder(Pack);
        Generator = new ReplyGenerator(Decoder);
    }

    public ModelPack Pack { get; }

    public SemanticTokenizer Tokenizer { get; }

    public DualHeadDecoder Decoder { get; }

    public ReplyGenerator Generator { get; }

    /// <summary>Graph-output tolerance from the manifest (golden.tolerance.float_abs).</summary>
    public double Tol => Pack.GraphTolerance;

    /// <summary>Reads a golden file of the pack (at test time: the weights may be re-exported).</summary>
    public JsonElement Golden(string file)
    {
        var path = Path.Combine(Pack.GoldenDirectory!, file);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        return doc.RootElement.Clone();
    }

    public void Dispose() => Pack.Dispose();
}

[CollectionDefinition(Name)]
public sealed class PackCollection : ICollectionFixture<PackFixture>
{
    public const string Name = "demo pack";
}
