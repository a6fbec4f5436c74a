using BenchmarkDotNet.Attributes;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// One Silero VAD v5 window through <see cref="SileroVadStream"/>: 512 samples at 16 kHz (or 256 at 8 kHz), i.e.
/// 32 ms of audio per op. Steady state must allocate nothing (pre-wrapped tensors, ping-pong state).
/// </summary>
[MemoryDiagnoser]
public class VadBenchmarks : IDisposable
{
    private SileroVadModel? _model;
    private SileroVadStream? _stream;
    private VoiceActivityDetector? _detector;
    private float[] _audio = [];
    private int _window;
    private int _position;

    [Params(16000, 8000)]
    public int SampleRate { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        OrtRuntime.Initialize();
        _model = new SileroVadModel();
        _stream = _model.CreateStream(SampleRate);
        _window = _stream.WindowSamples;
        _detector = new VoiceActivityDetector(_model, new VadOptions { SampleRate = SampleRate }, SampleRate);

        // 4 s of a voiced, syllable-modulated signal so the model is not only scoring silence.
        _audio = new float[SampleRate * 4];
        var random = new Random(1);
        for (var n = 0; n < _audio.Length; n++)
        {
            var t = (double)n / SampleRate;
            var voiced = Math.Sin(2 * Math.PI * 140 * t) + (0.5 * Math.Sin(2 * Math.PI * 280 * t)) + (0.25 * Math.Sin(2 * Math.PI * 560 * t));
            _audio[n] = (float)((0.1 * voiced * 0.5 * (1 - Math.Cos(2 * Math.PI * 4 * t))) + (0.002 * (random.NextDouble() - 0.5)));
        }
    }

    [GlobalCleanup]
    public void Dispose()
    {
        _detector?.Dispose();
        _stream?.Dispose();
        _model?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>One window of <see cref="SileroVadStream.ProcessWindow"/> (32 ms of audio).</summary>
    [Benchmark]
    public float ProcessWindow()
    {
        var probability = _stream!.ProcessWindow(_audio.AsSpan(_position, _window));
        _position = _position + (2 * _window) > _audio.Length ? 0 : _position + _window;
        return probability;
    }

    /// <summary>The whole per-caller path for one window's worth of audio: stream + segmenter (+ events).</summary>
    [Benchmark]
    public bool DetectorWindow()
    {
        _detector!.Process(_audio.AsSpan(_position, _window));
        _position = _position + (2 * _window) > _audio.Length ? 0 : _position + _window;
        return _detector.IsSpeechActive;
    }
}
