using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// The engine's first packet: a committed user turn (the demo pack's golden question, already encoded while it was
/// "spoken") → the first reply PCM frame on the session's audio channel. This is what docs/engine.md calls
/// <c>first_audio_frame</c>: encoder tail + prefill + D + F + LA decoder steps + the first detokenizer chunk
/// (6 Euler DiT calls + 1 cache write) + the vocoder on the first chunk. Target: median ≤ 100 ms on the 2-core box.
/// Each iteration opens a fresh session so every turn starts from an empty context.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
[MinColumn]
[MaxColumn]
[SimpleJob(RunStrategy.Monitoring, launchCount: 1, warmupCount: 3, iterationCount: 30)]
public class FirstPacketBenchmarks
{
    private VoiceAgentEngine? _engine;
    private VoiceSession? _session;
    private float[] _question = [];

    [GlobalSetup]
    public void Setup()
    {
        _engine = VoiceAgentEngine.Load();
        var root = VoiceAgent.Core.VoiceAgentPaths.Root ?? throw new InvalidOperationException("run from a checkout");
        _question = WavFile.Read(Path.Combine(root, "perf", "data", "question.wav")).Samples;
    }

    [IterationSetup]
    public void OpenAndSpeak()
    {
        _session = _engine!.OpenSession(new VoiceSessionOptions { AutoCommit = false, VadGatesEncoder = false, AudioQueueFrames = 1024 });
        _session.PushAudio(_question);
    }

    [Benchmark]
    public bool CommitToFirstFrame()
    {
        _session!.CommitTurn();
        var got = _session.Audio.WaitToReadAsync().AsTask().GetAwaiter().GetResult();
        return got;
    }

    [IterationCleanup]
    public void Close()
    {
        _session!.CancelReply();
        _session.Dispose();
    }

    [GlobalCleanup]
    public void Cleanup() => _engine?.Dispose();
}

/// <summary>
/// Steady-state input path per 20 ms caller frame at 48 kHz (browser rate) while the caller speaks: resampler → VAD
/// (a Silero window every 32 ms) → streaming mel → tokenizer step every 80 ms. The memory diagnoser shows what a
/// frame allocates once the turn's caches have settled.
/// </summary>
[MemoryDiagnoser]
public class SessionInputBenchmarks
{
    private VoiceAgentEngine? _engine;
    private VoiceSession? _session;
    private float[][] _frames = [];
    private int _next;

    [GlobalSetup]
    public void Setup()
    {
        _engine = VoiceAgentEngine.Load();
        var root = VoiceAgent.Core.VoiceAgentPaths.Root ?? throw new InvalidOperationException("run from a checkout");
        var question = WavFile.Read(Path.Combine(root, "perf", "data", "question.wav")).Samples;
        var at48k = Resampler.Resample(question, 16000, 48000);
        _frames = [.. Enumerable.Range(0, at48k.Length / 960).Select(i => at48k.AsSpan(i * 960, 960).ToArray())];
        Reopen();
    }

    [Benchmark(OperationsPerInvoke = 1)]
    public void PushOneFrame()
    {
        // Loop the question without committing (AutoCommit off); abandoning the turn keeps the encoder cache bounded.
        if (_next == _frames.Length)
        {
            _next = 0;
            _session!.AbandonTurn();
        }

        _session!.PushAudio(_frames[_next++]);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _session?.Dispose();
        _engine?.Dispose();
    }

    private void Reopen()
    {
        _session?.Dispose();
        _session = _engine!.OpenSession(new VoiceSessionOptions { InputSampleRate = 48000, AutoCommit = false, MaxTurnMs = 20000 });
    }
}
