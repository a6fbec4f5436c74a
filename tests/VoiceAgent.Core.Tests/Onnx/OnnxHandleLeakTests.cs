using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>Proves every native handle the binding creates is released again (run alone: see the collection).</summary>
[Collection(OrtHandleCountingCollection.Name)]
public sealed class OnnxHandleLeakTests
{
    [Fact]
    public void Ten_thousand_runs_leave_the_live_handle_count_unchanged()
    {
        _ = OnnxTestSupport.Runtime;
        var before = OrtRuntime.LiveHandleCount;

        using (var session = OnnxTestSupport.OpenSilero())
        {
            Assert.Equal(before + 1, OrtRuntime.LiveHandleCount);
            var window = new float[OnnxTestSupport.SileroWindow];
            var state = new float[256];
            var outputs = new OnnxTensor?[2];
            for (var i = 0; i < 10_000; i++)
            {
                window[OnnxTestSupport.SileroContext + (i % OnnxTestSupport.SileroChunk)] = (i % 7) * 0.01f;

                // A fresh set of every handle type per iteration: wrapped inputs, ORT-allocated scalar, outputs, run options.
                using var input = OnnxTensor.FromArray(window, 1, OnnxTestSupport.SileroWindow);
                using var stateTensor = OnnxTensor.FromArray(state, 2, 1, 128);
                using var sr = OnnxTensor.Scalar(16000L);
                using var runOptions = new OnnxRunOptions();
                outputs[0] = outputs[1] = null;
                session.Run([input, stateTensor, sr], outputs, runOptions);
                using var probability = outputs[0]!;
                using var stateN = outputs[1]!;
                _ = probability.Shape;
                stateN.GetReadOnlySpan<float>().CopyTo(state);
            }

            // The I/O binding path too: bound values and ORT-allocated bound outputs.
            for (var i = 0; i < 100; i++)
            {
                using var binding = session.CreateIoBinding();
                using var input = OnnxTensor.FromArray(window, 1, OnnxTestSupport.SileroWindow);
                using var stateTensor = OnnxTensor.Allocate<float>(2, 1, 128);
                using var sr = OnnxTensor.Scalar(16000L);
                binding.BindInput("input", input);
                binding.BindInput("state", stateTensor);
                binding.BindInput("sr", sr);
                binding.BindOutputToCpu("output");
                binding.BindOutputToCpu("stateN");
                binding.Run();
                foreach (var value in binding.GetOutputValues())
                {
                    value.Dispose();
                }
            }

            // A failing run must not leak either.
            using var bad = OnnxTensor.Allocate<float>(2, 128);
            using var x = OnnxTensor.Allocate<float>(1, OnnxTestSupport.SileroWindow);
            using var rate = OnnxTensor.Scalar(16000L);
            Assert.Throws<OrtException>(() => session.Run([x, bad, rate], new OnnxTensor?[2]));
        }

        Assert.Equal(before, OrtRuntime.LiveHandleCount);
    }

    [Fact]
    public void Tensor_disposed_while_bound_stays_alive_until_the_binding_is_disposed()
    {
        _ = OnnxTestSupport.Runtime;
        var before = OrtRuntime.LiveHandleCount;
        using (var session = OnnxTestSupport.OpenSilero())
        {
            var binding = session.CreateIoBinding();
            var state = OnnxTensor.Allocate<float>(2, 1, 128);
            binding.BindInput("state", state);
            state.Dispose();
            session.Dispose();

            // Session and tensor are disposed but still referenced by the binding: their handles are alive.
            Assert.Equal(before + 3, OrtRuntime.LiveHandleCount);
            binding.Dispose();
        }

        Assert.Equal(before, OrtRuntime.LiveHandleCount);
    }
}
