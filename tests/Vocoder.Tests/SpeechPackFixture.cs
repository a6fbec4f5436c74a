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

/// <summary>Golden tensors: <c>{"dtype", "shape", "data_b64"}</c> little-endian.</summary>
internal static class Golden
{
    public static float[] F32(JsonElement t)
    {
        Assert.Equal("float32", t.GetProperty("dtype").GetString());
        var bytes = Convert.FromBase64String(t.GetProperty("data_b64").GetString()!);
        var result = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, result, 0, result.Length * 4);
        return result;
    }

    public static long[] I64(JsonElement t)
    {
        Assert.Equal("int64", t.GetProperty("dtype").GetString());
        var bytes = Convert.FromBase64String(t.GetProperty("data_b64").GetString()!);
        var result = new long[bytes.Length / 8];
        Buffer.BlockCopy(bytes, 0, result, 0, result.Length * 8);
        return result;
    }

    public static int[] Shape(JsonElement t) => [.. t.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32())];

    public static int[] Ints(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetInt32())];

    /// <summary>Asserts |a − b| ≤ tol element-wise (and equal lengths), reporting the worst element.</summary>
    public static void Near(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double tol, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}.");
        var (worst, at) = MaxDiff(expected, actual);
        Assert.True(worst <= tol, $"{what}: max |diff| {worst:g4} at {at} (expected {(at >= 0 ? expected[at] : 0)}, got {(at >= 0 ? actual[at] : 0)}) > tolerance {tol:g4}.");
    }

    /// <summary>Asserts bit-identical floats.</summary>
    public static void Exact(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: {actual.Length} values, expected {expected.Length}.");
        for (var i = 0; i < expected.Length; i++)
        {
            if (BitConverter.SingleToInt32Bits(expected[i]) != BitConverter.SingleToInt32Bits(actual[i]))
            {
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected exactly {expected[i]:R}.");
            }
        }
    }

    public static (double Worst, int At) MaxDiff(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
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

        return (worst, at);
    }
}
