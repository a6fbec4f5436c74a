using System.Diagnostics;
using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>Terminating runs through run options and cancellation tokens.</summary>
public sealed class OnnxRunOptionsTests
{
    public OnnxRunOptionsTests() => _ = OnnxTestSupport.Runtime;

    [Fact]
    public void Terminated_run_options_make_run_throw_OperationCanceledException()
    {
        using var session = OnnxTestSupport.OpenSilero();
        using var x = OnnxTensor.Allocate<float>(1, OnnxTestSupport.SileroWindow);
        using var s = OnnxTensor.Allocate<float>(2, 1, 128);
        using var sr = OnnxTensor.Scalar(16000L);
        using var runOptions = new OnnxRunOptions();
        runOptions.Terminate();

        var error = Assert.Throws<OperationCanceledException>(() => session.Run([x, s, sr], new OnnxTensor?[2], runOptions));
        var ort = Assert.IsType<OrtException>(error.InnerException);
        Assert.Contains("terminate", ort.OrtMessage, StringComparison.OrdinalIgnoreCase);

        // After a reset the same options run normally.
        runOptions.ResetTerminate();
        var outputs = new OnnxTensor?[2];
        session.Run([x, s, sr], outputs, runOptions);
        outputs[0]!.Dispose();
        outputs[1]!.Dispose();
    }

    [Fact]
    public void Already_cancelled_token_throws_without_running()
    {
        using var session = OnnxTestSupport.OpenSilero();
        using var x = OnnxTensor.Allocate<float>(1, OnnxTestSupport.SileroWindow);
        using var s = OnnxTensor.Allocate<float>(2, 1, 128);
        using var sr = OnnxTensor.Scalar(16000L);

        Assert.Throws<OperationCanceledException>(() => session.Run([x, s, sr], new OnnxTensor?[2], cancellationToken: new CancellationToken(true)));
    }

    [Fact]
    public void Cancelling_the_token_aborts_a_long_run_in_flight()
    {
        using var session = new OnnxSession(OnnxTestSupport.TestModel("slow_loop.onnx"), OnnxSessionOptions.SingleThreaded);
        var seed = new float[128 * 128];
        for (var i = 0; i < seed.Length; i++)
        {
            seed[i] = ((i % 13) - 6) * 0.01f;
        }

        using var x = OnnxTensor.FromArray(seed, 128, 128);

        // Calibrate: a short loop shows how long one iteration takes, so the long one is far beyond the timeout below.
        using (var shortIterations = OnnxTensor.Scalar(200L))
        {
            var warm = Stopwatch.StartNew();
            using var y = session.Run(["iterations", "x"], [shortIterations, x], ["y"])[0];
            warm.Stop();
            Assert.Equal([128L, 128L], y.Shape.ToArray());
        }

        using var iterations = OnnxTensor.Scalar(50_000_000L);
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        var watch = Stopwatch.StartNew();

        var error = Assert.Throws<OperationCanceledException>(() => session.Run(["iterations", "x"], [iterations, x], ["y"], cancellationToken: cts.Token));

        watch.Stop();
        Assert.Equal(cts.Token, error.CancellationToken);
        Assert.IsType<OrtException>(error.InnerException);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"terminate took {watch.Elapsed}");
    }

    [Fact]
    public void IoBinding_run_honours_cancellation()
    {
        using var session = new OnnxSession(OnnxTestSupport.TestModel("slow_loop.onnx"), OnnxSessionOptions.SingleThreaded);
        using var x = OnnxTensor.Allocate<float>(128, 128);
        using var iterations = OnnxTensor.Scalar(50_000_000L);
        using var binding = session.CreateIoBinding();
        binding.BindInput("iterations", iterations);
        binding.BindInput("x", x);
        binding.BindOutputToCpu("y");
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        Assert.Throws<OperationCanceledException>(() => binding.Run(cancellationToken: cts.Token));
    }
}
