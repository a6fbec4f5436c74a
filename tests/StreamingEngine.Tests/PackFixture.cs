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

/// <summary>Golden tensors: <c>{"dtype", "shape", "data_b64"}</c> little-endian.</summary>
internal static class GoldenTensor
{
    public static float[] F32(JsonElement t)
    {
        Assert.Equal("float32", t.GetProperty("dtype").GetString());
        var bytes = Convert.FromBase64String(t.GetProperty("data_b64").GetString()!);
        var result = new float[bytes.Length / 4];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BitConverter.ToSingle(bytes, i * 4);
        }

        return result;
    }

    public static long[] I64(JsonElement t)
    {
        Assert.Equal("int64", t.GetProperty("dtype").GetString());
        var bytes = Convert.FromBase64String(t.GetProperty("data_b64").GetString()!);
        var result = new long[bytes.Length / 8];
        for (var i = 0; i < result.Length; i++)
        {
            result[i] = BitConverter.ToInt64(bytes, i * 8);
        }

        return result;
    }

    public static int[] Shape(JsonElement t) => t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>Asserts |a − b| ≤ tol element-wise (and equal lengths), reporting the worst element.</summary>
    public static void Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}.");
        var worst = 0.0;
        var at = -1;
        for (var i = 0; i < expected.Length; i++)
        {
            var d = Math.Abs((double)expected[i] - actual[i]);
            if (!(d <= worst))
            {
                worst = d;
                at = i;
            }
        }

        Assert.True(worst <= tol, $"{what}: max |diff| {worst:g4} at {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)}) > tolerance {tol:g4}.");
    }
}
