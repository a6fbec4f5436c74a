using VoiceAgent.Core.Onnx;
using Xunit.Abstractions;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>CUDA is requested but the setup library ships without the CUDA provider libraries: CPU must take over.</summary>
public sealed class OnnxCudaFallbackTests(ITestOutputHelper output)
{
    [Fact]
    public void Cuda_request_falls_back_to_cpu_with_exactly_one_log_line()
    {
        _ = OnnxTestSupport.Runtime;
        var lines = new List<string>();
        var options = OnnxSessionOptions.SingleThreaded with { UseCuda = true, CudaDeviceId = 0, Log = lines.Add };

        using var session = new OnnxSession(TestPaths.SileroModel, options);
        var probabilities = OnnxTestSupport.RunSilero(session, new float[4 * OnnxTestSupport.SileroChunk]);

        if (session.UsesCuda)
        {
            // Only with a full GPU build of ORT (not what setup installs): then nothing is logged.
            Assert.Empty(lines);
            return;
        }

        Assert.Equal(OrtRuntime.CpuProvider, session.ExecutionProvider);
        var line = Assert.Single(lines);
        output.WriteLine(line);
        Assert.Contains("CUDA", line, StringComparison.Ordinal);
        Assert.Contains("CPU", line, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', line);
        Assert.All(probabilities, p => Assert.InRange(p, 0f, 0.1f));
    }
}
