using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>Tensor creation, views and dtype round trips through the committed tiny models.</summary>
public sealed class OnnxTensorTests
{
    public OnnxTensorTests() => _ = OnnxTestSupport.Runtime;

    [Fact]
    public void Float16_round_trips_through_add_one()
    {
        using var session = new OnnxSession(OnnxTestSupport.TestModel("add_one_f16.onnx"));
        Assert.Equal(OnnxTensorElementType.Float16, session.Inputs[0].ElementType);
        Assert.Equal([-1L], session.Inputs[0].Dimensions);
        Assert.Equal(["n"], session.Inputs[0].SymbolicDimensions);
        var data = new[] { (Half)0.5f, (Half)(-2f), (Half)1000f, Half.Zero };

        using var x = OnnxTensor.FromArray(data, data.Length);
        var outputs = session.Run(["x"], [x], ["y"]);
        using var y = outputs[0];

        Assert.Equal(OnnxTensorElementType.Float16, y.ElementType);
        Assert.Equal([(Half)1.5f, (Half)(-1f), (Half)1001f, Half.One], y.ToArray<Half>());
    }

    [Fact]
    public void Int64_round_trips_through_add_one()
    {
        using var session = new OnnxSession(OnnxTestSupport.TestModel("add_one_i64.onnx"));
        var data = new[] { long.MinValue + 1, -1L, 0L, 1L << 40 };

        using var x = OnnxTensor.FromArray(data, data.Length);
        var outputs = session.Run(["x"], [x], ["y"]);
        using var y = outputs[0];

        Assert.Equal(OnnxTensorElementType.Int64, y.ElementType);
        Assert.Equal(data.Select(v => v + 1), y.ToArray<long>());
    }

    [Fact]
    public void Int32_and_bool_round_trip()
    {
        using var add = new OnnxSession(OnnxTestSupport.TestModel("add_one_i32.onnx"));
        using var not = new OnnxSession(OnnxTestSupport.TestModel("not_bool.onnx"));
        using var ints = OnnxTensor.FromArray(new[] { 1, 2, 3 }, 3);
        using var bools = OnnxTensor.FromArray(new[] { true, false, true }, 3);

        var intOut = add.Run(["x"], [ints], ["y"]);
        var boolOut = not.Run(["x"], [bools], ["y"]);

        using var y1 = intOut[0];
        using var y2 = boolOut[0];
        Assert.Equal([2, 3, 4], y1.ToArray<int>());
        Assert.Equal([false, true, false], y2.ToArray<bool>());
    }

    [Fact]
    public void Preallocated_output_is_written_in_place()
    {
        using var session = new OnnxSession(OnnxTestSupport.TestModel("add_one_i64.onnx"));
        var result = new long[3];
        using var x = OnnxTensor.FromArray(new[] { 10L, 20L, 30L }, 3);
        using var y = OnnxTensor.FromArray(result, 3);
        var outputs = new OnnxTensor?[] { y };

        session.Run(["x"], [x], ["y"], outputs);

        Assert.Same(y, outputs[0]);
        Assert.Equal([11L, 21L, 31L], result);
    }

    [Fact]
    public void Wrapped_memory_is_shared_not_copied()
    {
        var data = new float[6];
        using var tensor = OnnxTensor.FromMemory(data.AsMemory(), 2, 3);

        tensor.GetSpan<float>()[4] = 42f;
        data[1] = 7f;

        Assert.Equal(42f, data[4]);
        Assert.Equal(7f, tensor.GetReadOnlySpan<float>()[1]);
        Assert.Equal([2L, 3L], tensor.Shape.ToArray());
        Assert.Equal(6, tensor.ElementCount);
        Assert.Equal(OnnxTensorElementType.Float, tensor.ElementType);
    }

    [Fact]
    public void Scalar_has_rank_zero_and_one_element()
    {
        using var scalar = OnnxTensor.Scalar(16000L);
        using var wrapped = OnnxTensor.FromArray(new[] { 3.5f });

        Assert.Equal(0, scalar.Rank);
        Assert.Equal(1, scalar.ElementCount);
        Assert.Equal(16000L, scalar.GetReadOnlySpan<long>()[0]);
        Assert.Equal(0, wrapped.Rank);
        Assert.Equal(3.5f, wrapped.GetReadOnlySpan<float>()[0]);
    }

    [Fact]
    public void Allocated_tensor_is_zeroed_and_reports_its_shape()
    {
        using var tensor = OnnxTensor.Allocate(OnnxTensorElementType.Float16, 2, 3, 4);

        Assert.Equal([2L, 3L, 4L], tensor.Shape.ToArray());
        Assert.Equal(24, tensor.GetReadOnlySpan<Half>().Length);
        Assert.All(tensor.GetRawData().ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Mismatched_view_type_and_bad_shapes_are_rejected()
    {
        using var tensor = OnnxTensor.Allocate<float>(4);

        Assert.Throws<InvalidOperationException>(() => tensor.GetSpan<long>());
        Assert.Throws<ArgumentException>(() => OnnxTensor.FromArray(new float[3], 2, 2));
        Assert.Throws<ArgumentException>(() => OnnxTensor.FromArray(new float[3], -1));
        Assert.Throws<NotSupportedException>(() => OnnxTensor.Allocate(OnnxTensorElementType.String, 1));
    }

    [Fact]
    public void Element_type_enum_uses_ONNX_numbers()
    {
        Assert.Equal(1, (int)OnnxTensorElementType.Float);
        Assert.Equal(7, (int)OnnxTensorElementType.Int64);
        Assert.Equal(9, (int)OnnxTensorElementType.Bool);
        Assert.Equal(10, (int)OnnxTensorElementType.Float16);
        Assert.Equal(16, (int)OnnxTensorElementType.BFloat16);
        Assert.Equal(OnnxTensorElementType.Float16, OnnxTensor.ElementTypeOf<Half>());
    }

    [Fact]
    public void Test_models_stay_tiny()
    {
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(OnnxTestSupport.TestModel("x"))!, "*.onnx"))
        {
            Assert.InRange(new FileInfo(file).Length, 1, 10 * 1024);
        }
    }
}
