using BenchmarkDotNet.Attributes;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// Per-frame cost of the audio front end in steady state (streams that keep running; nothing is flushed), so each
/// operation is what a live call pays per 20 ms packet or per 10 ms mel hop. Allocated bytes must be 0.
/// </summary>
[MemoryDiagnoser]
public class AudioBenchmarks
{
    private readonly Resampler _down48To16 = new(48000, 16000);
    private readonly Resampler _up8To16 = new(8000, 16000);
    private readonly StreamingLogMel _mel80 = new(80);
    private readonly StreamingLogMel _mel128 = new(128);
    private readonly float[] _frame48k = Signal(960, 48000);
    private readonly float[] _frame8k = Signal(160, 8000);
    private readonly float[] _hop16k = Signal(160, 16000);
    private readonly float[] _resampled = new float[1024];
    private readonly float[] _melOut = new float[2 * 128];
    private readonly byte[] _muLaw = new byte[160];

    [GlobalSetup]
    public void Setup()
    {
        // Run the streams past their start-up so every operation is a steady-state one.
        for (var i = 0; i < 50; i++)
        {
            Resample48kTo16kPer20ms();
            Resample8kTo16kPer20ms();
            StreamingMel80PerHop();
            StreamingMel128PerHop();
        }
    }

    [Benchmark(Description = "Resampler 48k→16k, 20 ms (960 in, 320 out)")]
    public int Resample48kTo16kPer20ms() => _down48To16.Process(_frame48k, _resampled);

    [Benchmark(Description = "Resampler 8k→16k, 20 ms (160 in, 320 out)")]
    public int Resample8kTo16kPer20ms() => _up8To16.Process(_frame8k, _resampled);

    [Benchmark(Description = "Streaming log-mel 80 bins, one 10 ms hop (1 frame)")]
    public int StreamingMel80PerHop() => _mel80.Process(_hop16k, _melOut);

    [Benchmark(Description = "Streaming log-mel 128 bins, one 10 ms hop (1 frame)")]
    public int StreamingMel128PerHop() => _mel128.Process(_hop16k, _melOut);

    [Benchmark(Description = "G.711 mu-law encode, 20 ms at 8 kHz (160 samples)")]
    public byte MuLawEncodePer20ms()
    {
        G711.MuLawEncode(_frame8k, _muLaw);
        return _muLaw[0];
    }

    private static float[] Signal(int length, int rate)
    {
        var x = new float[length];
        for (var i = 0; i < length; i++)
        {
            x[i] = (float)((0.3 * Math.Sin(2 * Math.PI * 440 * i / rate)) + (0.1 * Math.Sin(2 * Math.PI * 2500 * i / rate)));
        }

        return x;
    }
}
