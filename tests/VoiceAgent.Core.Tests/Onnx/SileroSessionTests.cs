using VoiceAgent.Core.Onnx;
using Xunit.Abstractions;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>The binding against the real library and the real Silero VAD v5 model.</summary>
public sealed class SileroSessionTests(ITestOutputHelper output)
{
    [Fact]
    public void Runtime_reports_version_and_cpu_provider()
    {
        var runtime = OnnxTestSupport.Runtime;
        output.WriteLine($"ORT {runtime.Version} from {runtime.LibraryPath}; providers: {string.Join(", ", runtime.AvailableProviders)}");

        Assert.StartsWith("1.", runtime.Version, StringComparison.Ordinal);
        Assert.True(Version.Parse(runtime.Version.Split('-')[0]) >= new Version(1, 30), runtime.Version);
        Assert.Contains(OrtRuntime.CpuProvider, runtime.AvailableProviders);
        Assert.Same(runtime, OrtRuntime.Shared);
    }

    [Fact]
    public void Silero_metadata_matches_the_model()
    {
        using var session = OnnxTestSupport.OpenSilero();

        Assert.Equal(["input", "state", "sr"], session.Inputs.Select(i => i.Name));
        Assert.Equal(["output", "stateN"], session.Outputs.Select(o => o.Name));

        var input = session.Inputs[0];
        Assert.True(input.IsTensor);
        Assert.Equal(OnnxTensorElementType.Float, input.ElementType);
        Assert.Equal([-1L, -1L], input.Dimensions);

        var state = session.Inputs[1];
        Assert.Equal(OnnxTensorElementType.Float, state.ElementType);
        Assert.Equal([2L, -1L, 128L], state.Dimensions);

        var sr = session.Inputs[2];
        Assert.Equal(OnnxTensorElementType.Int64, sr.ElementType);
        Assert.Equal(0, sr.Rank);

        Assert.Equal(OnnxTensorElementType.Float, session.Outputs[0].ElementType);
        Assert.Equal([-1L, 1L], session.Outputs[0].Dimensions);
        Assert.Equal(OnnxTensorElementType.Float, session.Outputs[1].ElementType);
        Assert.Equal(3, session.Outputs[1].Rank);
        Assert.Equal(session.Inputs[1].Rank, session.Inputs[1].SymbolicDimensions.Count);
        Assert.Equal(OrtRuntime.CpuProvider, session.ExecutionProvider);
    }

    [Fact]
    public void Named_run_returns_probability_and_state_of_the_right_shape()
    {
        using var session = OnnxTestSupport.OpenSilero();
        var window = new float[OnnxTestSupport.SileroWindow];
        OnnxTestSupport.SpeechLike(OnnxTestSupport.SileroChunk).CopyTo(window, OnnxTestSupport.SileroContext);
        using var input = OnnxTensor.FromArray(window, 1, OnnxTestSupport.SileroWindow);
        using var state = OnnxTensor.Allocate<float>(2, 1, 128);
        using var sr = OnnxTensor.FromArray(new[] { 16000L });

        var outputs = session.Run(["input", "state", "sr"], [input, state, sr], ["output", "stateN"]);
        using var probability = outputs[0];
        using var stateN = outputs[1];

        Assert.Equal(OnnxTensorElementType.Float, probability.ElementType);
        Assert.Equal([1L, 1L], probability.Shape.ToArray());
        Assert.InRange(probability.GetReadOnlySpan<float>()[0], 0f, 1f);
        Assert.Equal([2L, 1L, 128L], stateN.Shape.ToArray());
        Assert.Equal(256, stateN.GetReadOnlySpan<float>().Length);
        Assert.Contains(stateN.GetReadOnlySpan<float>().ToArray(), v => v != 0f);
    }

    [Fact]
    public void Speech_like_signal_scores_high_and_silence_scores_low()
    {
        using var session = OnnxTestSupport.OpenSilero();

        var silence = OnnxTestSupport.RunSilero(session, new float[16000]);
        var speech = OnnxTestSupport.RunSilero(session, OnnxTestSupport.SpeechLike(32000));

        output.WriteLine($"silence max {silence.Max():F4}; speech-like max {speech.Max():F4}, mean {speech.Average():F4}");
        Assert.All(silence, p => Assert.InRange(p, 0f, 0.1f));
        Assert.All(speech, p => Assert.InRange(p, 0f, 1f));
        Assert.True(speech.Max() > 0.5f, $"speech max {speech.Max()}, silence max {silence.Max()}");
    }

    [Fact]
    public void Wrong_rank_input_throws_OrtException_with_ORT_message()
    {
        using var session = OnnxTestSupport.OpenSilero();
        using var input = OnnxTensor.Allocate<float>(1, OnnxTestSupport.SileroWindow);
        using var badState = OnnxTensor.Allocate<float>(2, 128);
        using var sr = OnnxTensor.Scalar(16000L);

        var error = Assert.Throws<OrtException>(() => session.Run(["input", "state", "sr"], [input, badState, sr], ["output"]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Contains("Invalid rank", error.Message, StringComparison.Ordinal);
        Assert.Contains("state", error.OrtMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_input_name_is_rejected_before_calling_ORT()
    {
        using var session = OnnxTestSupport.OpenSilero();
        using var x = OnnxTensor.Scalar(1f);

        var error = Assert.Throws<ArgumentException>(() => session.Run(["nope"], [x], ["output"]));

        Assert.Contains("input, state, sr", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Eight_threads_on_one_session_match_sequential_results()
    {
        using var session = OnnxTestSupport.OpenSilero();
        var signals = Enumerable.Range(0, 8).Select(i => OnnxTestSupport.SpeechLike(40 * OnnxTestSupport.SileroChunk, seed: i + 1)).ToArray();
        for (var i = 0; i < signals.Length; i++)
        {
            // Different loudness per thread so the threads really compute different things.
            var gain = 0.3f + (0.2f * i);
            for (var n = 0; n < signals[i].Length; n++)
            {
                signals[i][n] *= gain;
            }
        }

        var sequential = signals.Select(s => OnnxTestSupport.RunSilero(session, s)).ToArray();

        var concurrent = new float[signals.Length][];
        using var start = new Barrier(signals.Length);
        var threads = Enumerable.Range(0, signals.Length).Select(i => new Thread(() =>
        {
            start.SignalAndWait();
            concurrent[i] = OnnxTestSupport.RunSilero(session, signals[i]);
        })).ToArray();
        foreach (var t in threads)
        {
            t.Start();
        }

        foreach (var t in threads)
        {
            t.Join();
        }

        for (var i = 0; i < signals.Length; i++)
        {
            Assert.Equal(sequential[i], concurrent[i]);
        }
    }

    [Fact]
    public void Session_from_bytes_equals_session_from_file()
    {
        var bytes = File.ReadAllBytes(TestPaths.SileroModel);
        using var fromFile = OnnxTestSupport.OpenSilero();
        _ = OnnxTestSupport.Runtime;
        using var fromBytes = new OnnxSession(bytes, OnnxSessionOptions.SingleThreaded);
        var audio = OnnxTestSupport.SpeechLike(8 * OnnxTestSupport.SileroChunk);

        Assert.Equal(fromFile.Inputs, fromBytes.Inputs, MetadataEquals);
        Assert.Equal(fromFile.Outputs, fromBytes.Outputs, MetadataEquals);
        Assert.Equal(OnnxTestSupport.RunSilero(fromFile, audio), OnnxTestSupport.RunSilero(fromBytes, audio));
    }

    [Fact]
    public void IoBinding_run_equals_plain_run_and_chains_state_without_copies()
    {
        using var session = OnnxTestSupport.OpenSilero();
        var audio = OnnxTestSupport.SpeechLike(6 * OnnxTestSupport.SileroChunk);
        var expected = OnnxTestSupport.RunSilero(session, audio);

        var window = new float[OnnxTestSupport.SileroWindow];
        using var input = OnnxTensor.FromArray(window, 1, OnnxTestSupport.SileroWindow);
        using var sr = OnnxTensor.Scalar(16000L);
        using var probability = OnnxTensor.Allocate<float>(1, 1);
        var state = OnnxTensor.Allocate<float>(2, 1, 128);
        using var binding = session.CreateIoBinding();
        binding.BindInput("input", input);
        binding.BindInput("sr", sr);
        binding.BindOutput("output", probability);
        binding.BindOutputToCpu("stateN");

        var actual = new float[expected.Length];
        try
        {
            for (var c = 0; c < actual.Length; c++)
            {
                Array.Copy(window, OnnxTestSupport.SileroChunk, window, 0, OnnxTestSupport.SileroContext);
                Array.Copy(audio, c * OnnxTestSupport.SileroChunk, window, OnnxTestSupport.SileroContext, OnnxTestSupport.SileroChunk);
                binding.BindInput("state", state);
                binding.Run();

                var bound = binding.GetOutputValues();
                Assert.Equal(2, bound.Length);
                actual[c] = probability.GetReadOnlySpan<float>()[0];
                Assert.Equal(actual[c], bound[0].GetReadOnlySpan<float>()[0]);
                bound[0].Dispose();

                // stateN of this step is the next step's state: rebinding hands ORT's own buffer back, no copy.
                state.Dispose();
                state = bound[1];
            }
        }
        finally
        {
            state.Dispose();
        }

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Disposed_session_rejects_runs()
    {
        var session = OnnxTestSupport.OpenSilero();
        using var x = OnnxTensor.Allocate<float>(1, OnnxTestSupport.SileroWindow);
        using var s = OnnxTensor.Allocate<float>(2, 1, 128);
        using var sr = OnnxTensor.Scalar(16000L);
        session.Dispose();

        Assert.True(session.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => session.Run([x, s, sr], new OnnxTensor?[2]));
    }

    private static bool MetadataEquals(OnnxNodeMetadata a, OnnxNodeMetadata b) =>
        a.Name == b.Name && a.ElementType == b.ElementType && a.Dimensions.SequenceEqual(b.Dimensions);
}
