using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Core.Tests.Onnx;

/// <summary>
/// Tests that read <see cref="OrtRuntime.LiveHandleCount"/> deltas must not overlap with other tests creating handles,
/// so they live in this collection, which xunit runs on its own.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class OrtHandleCountingCollection
{
    public const string Name = "ORT handle counting";
}

/// <summary>Model paths and Silero helpers shared by the Onnx tests.</summary>
internal static class OnnxTestSupport
{
    public const int SileroContext = 64;
    public const int SileroChunk = 512;
    public const int SileroWindow = SileroContext + SileroChunk;

    /// <summary>Loads the runtime from the checkout's setup folder (idempotent).</summary>
    public static OrtRuntime Runtime => OrtRuntime.Initialize(new OrtRuntimeOptions { LibraryPath = TestPaths.OrtLibrary });

    /// <summary>A committed tiny model (see TestModels/make_test_models.py).</summary>
    public static string TestModel(string fileName) =>
        Path.Combine(TestPaths.Root, "tests", "VoiceAgent.Core.Tests", "Onnx", "TestModels", fileName);

    public static OnnxSession OpenSilero(OnnxSessionOptions? options = null)
    {
        _ = Runtime;
        return new OnnxSession(TestPaths.SileroModel, options ?? OnnxSessionOptions.SingleThreaded);
    }

    /// <summary>A voiced, syllable-modulated harmonic signal at 16 kHz: crude, but closer to speech than a pure tone.</summary>
    public static float[] SpeechLike(int samples, int seed = 1)
    {
        var random = new Random(seed);
        var signal = new float[samples];
        var phase = 0.0;
        for (var n = 0; n < samples; n++)
        {
            var t = n / 16000.0;
            var pitch = 140 + 25 * Math.Sin(2 * Math.PI * 3 * t);
            phase += 2 * Math.PI * pitch / 16000.0;
            double voiced = 0;
            for (var h = 1; h <= 20; h++)
            {
                var f = h * pitch;

                // Two formant bumps (~500 Hz and ~1500 Hz) shape the harmonic amplitudes like a vowel.
                var gain = Math.Exp(-Math.Pow((f - 500) / 200, 2)) + 0.6 * Math.Exp(-Math.Pow((f - 1500) / 300, 2)) + 0.05;
                voiced += gain * Math.Sin(h * phase);
            }

            var syllable = 0.5 * (1 - Math.Cos(2 * Math.PI * 4 * t));
            signal[n] = (float)((0.12 * voiced * syllable) + (0.003 * (random.NextDouble() - 0.5)));
        }

        return signal;
    }

    /// <summary>
    /// Runs Silero over <paramref name="audio"/> in 512-sample chunks the way the official wrapper does (64 samples of
    /// context, state fed back) and returns the per-chunk probabilities.
    /// </summary>
    public static float[] RunSilero(OnnxSession session, float[] audio)
    {
        var window = new float[SileroWindow];
        var state = new float[2 * 1 * 128];
        var probabilities = new float[audio.Length / SileroChunk];
        using var sr = OnnxTensor.Scalar(16000L);
        using var input = OnnxTensor.FromArray(window, 1, SileroWindow);
        using var stateTensor = OnnxTensor.FromArray(state, 2, 1, 128);
        var outputs = new OnnxTensor?[2];
        for (var c = 0; c < probabilities.Length; c++)
        {
            Array.Copy(window, SileroChunk, window, 0, SileroContext);
            Array.Copy(audio, c * SileroChunk, window, SileroContext, SileroChunk);
            outputs[0] = outputs[1] = null;
            session.Run([input, stateTensor, sr], outputs);
            using var probability = outputs[0]!;
            using var stateN = outputs[1]!;
            probabilities[c] = probability.GetReadOnlySpan<float>()[0];
            stateN.GetReadOnlySpan<float>().CopyTo(state);
        }

        return probabilities;
    }
}
