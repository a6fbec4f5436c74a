using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>
/// One caller's Silero VAD: accepts audio in chunks of any size at 16 kHz or 8 kHz, cuts it into model windows
/// (512 or 256 samples, 32 ms), and returns one speech probability per window, exactly as Silero's
/// <c>OnnxWrapper</c> computes them: each window is preceded by the last 64 (32) samples of the previous one (zeros
/// at the start of the stream) and the recurrent state is carried from window to window.
/// <para>
/// Steady state allocates nothing: the model input (context + window), two state buffers, the probability and the
/// <c>sr</c> scalar are arrays wrapped once as tensors over pinned memory; each run reads one state buffer and ORT
/// writes <c>stateN</c> straight into the other (ping-pong, so input and output never alias).
/// </para>
/// Not thread-safe (one stream per caller); many streams may run on one <see cref="SileroVadModel"/> concurrently.
/// </summary>
public sealed class SileroVadStream : IDisposable
{
    private readonly SileroVadModel _model;
    private readonly float[] _input;
    private readonly float[] _stateA = new float[SileroVadModel.StateLength];
    private readonly float[] _stateB = new float[SileroVadModel.StateLength];
    private readonly float[] _probability = new float[1];
    private readonly long[] _sampleRate = new long[1];
    private readonly OnnxTensor[] _tensors;
    private readonly OnnxTensor[] _inputsFromA;
    private readonly OnnxTensor[] _inputsFromB;
    private readonly OnnxTensor?[] _outputsToB;
    private readonly OnnxTensor?[] _outputsToA;
    private bool _stateInA = true;
    private int _buffered;
    private bool _disposed;

    /// <summary>Creates a stream at <paramref name="sampleRate"/> (16000 or 8000) on <paramref name="model"/>.</summary>
    public SileroVadStream(SileroVadModel model, int sampleRate = 16000)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        SampleRate = sampleRate;
        WindowSamples = SileroVadModel.WindowSamples(sampleRate);
        ContextSamples = SileroVadModel.ContextSamples(sampleRate);
        _input = new float[ContextSamples + WindowSamples];
        _sampleRate[0] = sampleRate;

        var tensors = new List<OnnxTensor>(6);
        try
        {
            var input = Add(tensors, OnnxTensor.FromArray(_input, 1, _input.Length));
            var stateA = Add(tensors, OnnxTensor.FromArray(_stateA, 2, 1, 128));
            var stateB = Add(tensors, OnnxTensor.FromArray(_stateB, 2, 1, 128));
            var sr = Add(tensors, model.SampleRateIsScalar ? OnnxTensor.FromArray(_sampleRate) : OnnxTensor.FromArray(_sampleRate, 1));
            var probability = Add(tensors, OnnxTensor.FromArray(_probability, 1, 1));
            _inputsFromA = [input, stateA, sr];
            _inputsFromB = [input, stateB, sr];
            _outputsToB = [probability, stateB];
            _outputsToA = [probability, stateA];
        }
        catch
        {
            tensors.ForEach(t => t.Dispose());
            throw;
        }

        _tensors = [.. tensors];
    }

    /// <summary>The model the stream runs on.</summary>
    public SileroVadModel Model => _model;

    /// <summary>16000 or 8000.</summary>
    public int SampleRate { get; }

    /// <summary>Samples per window: 512 at 16 kHz, 256 at 8 kHz.</summary>
    public int WindowSamples { get; }

    /// <summary>Context samples prepended to each window: 64 at 16 kHz, 32 at 8 kHz.</summary>
    public int ContextSamples { get; }

    /// <summary>Windows run since creation or <see cref="Reset"/>; window <c>k</c> covers samples <c>[k·W, (k+1)·W)</c>.</summary>
    public long WindowCount { get; private set; }

    /// <summary>Samples accepted since creation or <see cref="Reset"/> (not counting flush padding).</summary>
    public long SampleCount { get; private set; }

    /// <summary>Samples waiting for the rest of their window.</summary>
    public int BufferedSamples => _buffered;

    /// <summary>The probability of the latest window (0 before the first).</summary>
    public float LastProbability { get; private set; }

    /// <summary>The most windows <see cref="Process"/> can complete with <paramref name="sampleCount"/> more samples.</summary>
    public int GetMaxWindowCount(int sampleCount) => (_buffered + sampleCount) / WindowSamples;

    /// <summary>
    /// Consumes <paramref name="samples"/> (any length), runs every window they complete and writes one probability per
    /// window to <paramref name="probabilities"/>, which must hold <see cref="GetMaxWindowCount"/> values. Returns the
    /// number of windows run; leftover samples wait for the next call.
    /// </summary>
    public int Process(ReadOnlySpan<float> samples, Span<float> probabilities)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var needed = GetMaxWindowCount(samples.Length);
        if (probabilities.Length < needed)
        {
            throw new ArgumentException($"The probability span must hold GetMaxWindowCount({samples.Length}) = {needed} values.", nameof(probabilities));
        }

        SampleCount += samples.Length;
        var windows = 0;
        while (!samples.IsEmpty)
        {
            var n = Math.Min(WindowSamples - _buffered, samples.Length);
            samples[..n].CopyTo(_input.AsSpan(ContextSamples + _buffered));
            _buffered += n;
            samples = samples[n..];
            if (_buffered == WindowSamples)
            {
                probabilities[windows++] = RunWindow();
            }
        }

        return windows;
    }

    /// <summary>
    /// Runs exactly one window of <see cref="WindowSamples"/> samples and returns its probability (the zero-allocation
    /// fast path for callers that already frame the audio). No samples may be buffered from <see cref="Process"/>.
    /// </summary>
    public float ProcessWindow(ReadOnlySpan<float> window)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (window.Length != WindowSamples)
        {
            throw new ArgumentException($"A window at {SampleRate} Hz has {WindowSamples} samples, got {window.Length}.", nameof(window));
        }

        if (_buffered != 0)
        {
            throw new InvalidOperationException($"{_buffered} samples are buffered from Process; keep using Process, or Flush or Reset first.");
        }

        window.CopyTo(_input.AsSpan(ContextSamples));
        SampleCount += window.Length;
        _buffered = WindowSamples;
        return RunWindow();
    }

    /// <summary>
    /// Ends the stream: a partly filled window is padded with zeros and run (as Silero's <c>get_speech_timestamps</c>
    /// pads the last chunk). Returns 1 and writes its probability when there was one, else 0.
    /// </summary>
    public int Flush(Span<float> probabilities)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_buffered == 0)
        {
            return 0;
        }

        if (probabilities.IsEmpty)
        {
            throw new ArgumentException("The probability span must hold one value.", nameof(probabilities));
        }

        _input.AsSpan(ContextSamples + _buffered).Clear();
        _buffered = WindowSamples;
        probabilities[0] = RunWindow();
        return 1;
    }

    /// <summary>Starts a new stream: zero state, zero context, nothing buffered, counters at zero.</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Array.Clear(_input);
        Array.Clear(_stateA);
        Array.Clear(_stateB);
        _stateInA = true;
        _buffered = 0;
        WindowCount = 0;
        SampleCount = 0;
        LastProbability = 0;
    }

    /// <summary>Releases the tensors (the model stays).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var tensor in _tensors)
        {
            tensor.Dispose();
        }
    }

    private static OnnxTensor Add(List<OnnxTensor> tensors, OnnxTensor tensor)
    {
        tensors.Add(tensor);
        return tensor;
    }

    private float RunWindow()
    {
        if (_stateInA)
        {
            _model.Session.Run(_inputsFromA, _outputsToB);
        }
        else
        {
            _model.Session.Run(_inputsFromB, _outputsToA);
        }

        _stateInA = !_stateInA;

        // The next window's context is the last ContextSamples of this one.
        _input.AsSpan(WindowSamples, ContextSamples).CopyTo(_input);
        _buffered = 0;
        WindowCount++;
        LastProbability = _probability[0];
        return LastProbability;
    }
}
