using VoiceAgent.Core.Audio;
using VoiceAgent.Core.Onnx;
using VoiceAgent.Core.Tests.Onnx;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Core.Tests.Vad;

/// <summary><see cref="SileroVadModel"/> and <see cref="SileroVadStream"/> against a plain re-implementation of Silero's wrapper.</summary>
public sealed class SileroVadStreamTests
{
    [Theory]
    [InlineData(16000, 512, 64)]
    [InlineData(8000, 256, 32)]
    public void Window_and_context_sizes_follow_the_rate(int rate, int window, int context)
    {
        using var stream = VadTestSupport.Model.CreateStream(rate);
        Assert.Equal(rate, stream.SampleRate);
        Assert.Equal(window, stream.WindowSamples);
        Assert.Equal(context, stream.ContextSamples);
        Assert.Throws<ArgumentOutOfRangeException>(() => VadTestSupport.Model.CreateStream(11025));
    }

    [Theory]
    [InlineData(16000)]
    [InlineData(8000)]
    public void Random_chunks_give_exactly_the_reference_wrapper_probabilities(int rate)
    {
        var audio = Speech(rate);
        var expected = Reference(audio, rate);

        using var stream = VadTestSupport.Model.CreateStream(rate);
        var actual = new List<float>();
        foreach (var chunk in VadTestSupport.RandomChunks(audio, seed: rate, maxChunk: 1500))
        {
            var probabilities = new float[stream.GetMaxWindowCount(chunk.Length)];
            var n = stream.Process(chunk.Span, probabilities);
            actual.AddRange(probabilities[..n]);
        }

        var last = new float[1];
        if (stream.Flush(last) == 1)
        {
            actual.Add(last[0]);
        }

        Assert.Equal(expected, actual);
        Assert.Equal(audio.Length, stream.SampleCount);
        Assert.Equal(expected.Length, stream.WindowCount);
        Assert.Contains(actual, p => p > 0.9f);
    }

    [Fact]
    public void ProcessWindow_equals_Process_and_Reset_starts_over()
    {
        var audio = Speech(16000)[..(40 * 512)];
        var expected = Reference(audio, 16000);

        using var stream = VadTestSupport.Model.CreateStream();
        for (var pass = 0; pass < 2; pass++)
        {
            var actual = new float[40];
            for (var w = 0; w < 40; w++)
            {
                actual[w] = stream.ProcessWindow(audio.AsSpan(w * 512, 512));
                Assert.Equal(actual[w], stream.LastProbability);
            }

            Assert.Equal(expected, actual);
            stream.Reset();
            Assert.Equal(0, stream.WindowCount);
        }

        stream.Process(audio.AsSpan(0, 100), new float[1]);
        Assert.Equal(100, stream.BufferedSamples);
        Assert.Throws<InvalidOperationException>(() => stream.ProcessWindow(audio.AsSpan(0, 512)));
        Assert.Throws<ArgumentException>(() => stream.Process(audio.AsSpan(0, 412), Span<float>.Empty));
    }

    [Fact]
    public void Two_streams_on_one_model_keep_independent_state()
    {
        var a = Speech(16000);
        var b = VadTestSupport.PinkNoise(a.Length, 0.05, seed: 3);
        for (var i = 0; i < b.Length; i += 3)
        {
            b[i] += a[(i * 7) % a.Length] * 0.5f;
        }

        var expectedA = Reference(a, 16000);
        var expectedB = Reference(b, 16000);

        // Interleaved on one thread, with different chunkings.
        using var streamA = VadTestSupport.Model.CreateStream();
        using var streamB = VadTestSupport.Model.CreateStream();
        var actualA = new List<float>();
        var actualB = new List<float>();
        var buffer = new float[64];
        for (int atA = 0, atB = 0; atA < a.Length || atB < b.Length;)
        {
            var nA = Math.Min(700, a.Length - atA);
            actualA.AddRange(buffer[..streamA.Process(a.AsSpan(atA, nA), buffer)]);
            atA += nA;
            var nB = Math.Min(333, b.Length - atB);
            actualB.AddRange(buffer[..streamB.Process(b.AsSpan(atB, nB), buffer)]);
            atB += nB;
        }

        actualA.AddRange(buffer[..streamA.Flush(buffer)]);
        actualB.AddRange(buffer[..streamB.Flush(buffer)]);
        Assert.Equal(expectedA, actualA);
        Assert.Equal(expectedB, actualB);
        Assert.NotEqual(expectedA, expectedB);

        // And concurrently on eight threads.
        var results = new float[8][];
        using var barrier = new Barrier(8);
        var threads = Enumerable.Range(0, 8).Select(t => new Thread(() =>
        {
            using var stream = VadTestSupport.Model.CreateStream();
            var signal = t % 2 == 0 ? a : b;
            var probabilities = new float[stream.GetMaxWindowCount(signal.Length) + 1];
            barrier.SignalAndWait();
            var n = stream.Process(signal, probabilities);
            n += stream.Flush(probabilities.AsSpan(n));
            results[t] = probabilities[..n];
        })).ToArray();
        Array.ForEach(threads, t => t.Start());
        Array.ForEach(threads, t => t.Join());
        for (var t = 0; t < 8; t++)
        {
            Assert.Equal(t % 2 == 0 ? expectedA : expectedB, results[t]);
        }
    }

    [Fact]
    public void Steady_state_allocates_nothing_per_window()
    {
        var audio = Speech(16000);
        using var stream = VadTestSupport.Model.CreateStream();
        var probabilities = new float[4];

        // Warm up (first runs allocate inside ORT's arena and JIT the path).
        for (var w = 0; w < 20; w++)
        {
            stream.ProcessWindow(audio.AsSpan(w * 512, 512));
        }

        var allocated = SteadyAllocation.Measure(() =>
        {
            for (var w = 20; w < 150; w++)
            {
                stream.ProcessWindow(audio.AsSpan(w * 512, 512));
            }

            for (var at = 0; at + 320 <= audio.Length; at += 320)
            {
                stream.Process(audio.AsSpan(at, 320), probabilities);
            }

            // Process leaves a partial window buffered, and ProcessWindow refuses to run behind one: without the
            // flush, a second measured round (taken when the first one caught a runtime allocation) would throw.
            stream.Flush(probabilities);
        }).Bytes;
        Assert.Equal(0, allocated);
    }

    [Theory]
    [InlineData(16000, 320)]
    [InlineData(8000, 160)]
    [InlineData(48000, 960)]
    public void Detector_steady_state_allocates_nothing(int rate, int chunk)
    {
        var clip = VadTestSupport.ReadClip("cards/005.wav");
        var audio = rate == 16000 ? clip.Samples : Resampler.Resample(clip.Samples, 16000, rate);
        var (signal, _) = VadTestSupport.Compose(audio, rate);
        var options = new VadOptions { SampleRate = VoiceActivityDetector.PreferredModelRate(rate) };
        using var detector = new VoiceActivityDetector(VadTestSupport.Model, options, rate);
        var events = 0;
        detector.SpeechStarted += (_, _) => events++;
        detector.SpeechEnded += (_, _) => events++;
        var warmup = signal.Length / 4 / chunk * chunk;
        for (var at = 0; at < warmup; at += chunk)
        {
            detector.Process(signal.AsSpan(at, chunk));
        }

        // Each round replays the rest of the signal: the stream goes on, so later rounds see more of the same speech.
        var allocated = SteadyAllocation.Measure(() =>
        {
            for (var at = warmup; at + chunk <= signal.Length; at += chunk)
            {
                detector.Process(signal.AsSpan(at, chunk));
            }
        }).Bytes;
        Assert.True(events >= 2, $"the signal should contain speech; {events} events");
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void A_model_with_other_inputs_is_rejected_with_a_clear_message()
    {
        _ = OnnxTestSupport.Runtime;
        var error = Assert.Throws<InvalidDataException>(() => new SileroVadModel(OnnxTestSupport.TestModel("add_one_i64.onnx")));
        Assert.Contains("is not Silero VAD v5", error.Message, StringComparison.Ordinal);
        Assert.Contains("state: Float[2, batch, 128]", error.Message, StringComparison.Ordinal);

        var missing = Assert.Throws<FileNotFoundException>(() => new SileroVadModel("/nonexistent/silero.onnx"));
        Assert.Contains("./voiceagent setup", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Disposed_stream_rejects_use()
    {
        var stream = VadTestSupport.Model.CreateStream();
        stream.Dispose();
        stream.Dispose();
        Assert.Throws<ObjectDisposedException>(() => stream.ProcessWindow(new float[512]));
    }

    /// <summary>5 s of a real recording at <paramref name="rate"/>, with a length that leaves a partial last window.</summary>
    private static float[] Speech(int rate)
    {
        var clip = VadTestSupport.ReadClip("librivox/sense_and_sensibility_01_austen_64kb-0890.wav");
        var samples = clip.Samples[..(5 * 16000)];
        var audio = rate == 16000 ? samples : Resampler.Resample(samples, 16000, rate);
        return audio[..(audio.Length - 123)];
    }

    /// <summary>
    /// Silero's <c>OnnxWrapper</c> written plainly: named run, fresh output tensors, state copied back, context = last
    /// samples of the previous window, last chunk zero-padded (as <c>get_speech_timestamps</c> does).
    /// </summary>
    private static float[] Reference(float[] audio, int rate)
    {
        var session = VadTestSupport.Model.Session;
        var window = rate == 16000 ? 512 : 256;
        var context = window / 8;
        var input = new float[context + window];
        var state = new float[256];
        var count = (audio.Length + window - 1) / window;
        var result = new float[count];
        using var sr = OnnxTensor.Scalar((long)rate);
        for (var c = 0; c < count; c++)
        {
            Array.Copy(input, window, input, 0, context);
            Array.Clear(input, context, window);
            Array.Copy(audio, c * window, input, context, Math.Min(window, audio.Length - (c * window)));
            using var x = OnnxTensor.FromArray(input, 1, input.Length);
            using var s = OnnxTensor.FromArray(state, 2, 1, 128);
            var outputs = session.Run(["input", "state", "sr"], [x, s, sr], ["output", "stateN"]);
            using var probability = outputs[0];
            using var stateN = outputs[1];
            result[c] = probability.GetReadOnlySpan<float>()[0];
            stateN.GetReadOnlySpan<float>().CopyTo(state);
        }

        return result;
    }
}
