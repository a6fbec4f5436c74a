using System.Text.Json;

namespace VoiceAgent.Tests.Shared;

/// <summary>Golden tensors: <c>{"dtype", "shape", "data_b64"}</c> little-endian.</summary>
internal static class GoldenTensor
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
