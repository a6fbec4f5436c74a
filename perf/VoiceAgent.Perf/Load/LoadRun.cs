using System.Diagnostics;
using VoiceAgent.Perf.Corpus;

namespace VoiceAgent.Perf.Load;

/// <summary>Opens a caller's connection (a WebSocket session on the server, or a cascade peer).</summary>
internal delegate Task<IVoiceConnection> ConnectionFactory(int session, CancellationToken cancellationToken);

/// <summary>What one load level produced: every turn of every caller, plus the far end's CPU and memory.</summary>
internal sealed record LoadRunResult(
    string System,
    int Sessions,
    int OutputSampleRate,
    IReadOnlyList<SessionResult> SessionResults,
    double WallSeconds,
    double? CpuPercent,
    double? PeakRssMb,
    double BenchCpuPercent)
{
    public IEnumerable<TurnRecord> Turns => SessionResults.SelectMany(s => s.Turns);
}

/// <summary>
/// Runs N concurrent callers against one system for K turns each. Callers start at random offsets within
/// <see cref="CallerOptions.Ramp"/> (no lock-step), speak different clips (a seeded shuffle of the corpus), and all run to the end.
/// </summary>
internal static class LoadRun
{
    public static async Task<LoadRunResult> RunAsync(
        string system,
        int sessions,
        int turnsPerSession,
        IReadOnlyList<(BenchClip Clip, short[] Pcm)> corpus,
        ConnectionFactory connect,
        int? farEndPid,
        CallerOptions caller,
        int seed,
        CancellationToken cancellationToken)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, corpus.Count).OrderBy(_ => random.Next()).ToArray();
        var connections = new IVoiceConnection[sessions];
        try
        {
            for (var s = 0; s < sessions; s++)
            {
                connections[s] = await connect(s, cancellationToken).ConfigureAwait(false);
            }

            var benchCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
            var started = Stopwatch.GetTimestamp();
            await using var sampler = farEndPid is { } pid ? new ProcessSampler(pid, TimeSpan.FromMilliseconds(250)) : null;
            var drivers = new Task<SessionResult>[sessions];
            for (var s = 0; s < sessions; s++)
            {
                var turns = Enumerable.Range(0, turnsPerSession).Select(t => corpus[order[((s * turnsPerSession) + t) % order.Length]]).ToArray();
                var driver = new SessionDriver(s, connections[s], turns, caller, seed + s);
                var delay = sessions == 1 ? TimeSpan.Zero : TimeSpan.FromMilliseconds(random.NextDouble() * caller.Ramp.TotalMilliseconds);
                drivers[s] = Task.Run(() => driver.RunAsync(delay, cancellationToken), cancellationToken);
            }

            var results = await Task.WhenAll(drivers).ConfigureAwait(false);
            var wall = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var benchCpu = (Process.GetCurrentProcess().TotalProcessorTime - benchCpuStart).TotalSeconds / wall * 100;
            double? cpu = null;
            double? rss = null;
            if (sampler is not null)
            {
                await sampler.DisposeAsync().ConfigureAwait(false);
                cpu = sampler.CpuPercent;
                rss = sampler.PeakRssMb;
            }

            return new LoadRunResult(system, sessions, connections[0].OutputSampleRate, results, wall, cpu, rss, benchCpu);
        }
        finally
        {
            foreach (var c in connections)
            {
                if (c is not null)
                {
                    await c.DisposeAsync().ConfigureAwait(false);
                }
            }
        }
    }
}
