using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;
using VoiceAgent.Perf.Cascade;
using VoiceAgent.Perf.Corpus;
using VoiceAgent.Perf.Load;
using VoiceAgent.Perf.Reporting;
using VoiceAgent.Perf.Scale;
using VoiceAgent.Perf.Server;
using VoiceAgent.StreamingEngine.Sessions;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Perf;

/// <summary>
/// <c>./voiceagent bench</c>: starts the gateway, runs the load generator at each session count, runs the cascade peer
/// on the same inputs, and writes perf/results/&lt;date&gt;.json, .md and .svg. <c>--scale</c> runs the decoder scale
/// study instead.
/// </summary>
internal static class BenchCommand
{
    public const string Usage = """
        usage: ./voiceagent bench [--sessions 1,4,8,16] [--turns K] [--json] [--seed N] [--no-cascade] [--out DIR]
               ./voiceagent bench --scale [--threads 1,2] [--json]
        """;

    private static readonly HashSet<string> ValueOptions = ["--sessions", "--turns", "--seed", "--out", "--threads"];
    private static readonly HashSet<string> FlagOptions = ["--json", "--no-cascade", "--scale"];

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter log, CancellationToken cancellationToken)
    {
        var a = new PerfArgs(args, ValueOptions, FlagOptions);
        var root = VoiceAgentPaths.Root ?? throw new UsageException("run the bench from a checkout (no VoiceAgent.sln found above the executable; set VOICEAGENT_ROOT).");
        var outDir = a.Value("--out") ?? Path.Combine(root, "perf", "results");
        if (a.Flag("--scale"))
        {
            return RunScale(a, root, outDir, stdout, log, cancellationToken);
        }

        var sessionCounts = a.IntList("--sessions", [1, 4, 8, 16], 1, 256).Distinct().Order().ToList();
        var turns = a.Int("--turns", 6, 1, 1000);
        var seed = a.Int("--seed", 20240601, 0, int.MaxValue);
        var caller = new CallerOptions();
        var sessionDefaults = new VoiceSessionOptions();
        var vadOptions = sessionDefaults.Vad;
        var loadStart = LoadAverage();
        var date = DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);

        var corpusDir = Path.Combine(root, "perf", "corpus");
        var clips = BenchCorpus.LoadOrBuild(corpusDir, vadOptions, log, cancellationToken);
        var corpus = clips.Select(c => (c, BenchCorpus.ReadPcm16(corpusDir, c))).ToArray();

        var gatewayDll = Path.Combine(root, "src", "VoiceGateway", "bin", "Release", "net10.0", "VoiceAgent.Gateway.dll");
        var runsDir = Path.Combine(outDir, "runs");
        var runs = new List<RunSummary>();
        var rawTurns = new List<object>();
        string pack;
        log.WriteLine($"bench: starting the gateway ({gatewayDll})");
        await using (var server = await GatewayServer.StartAsync(gatewayDll, sessionCounts.Max() + 4, Path.Combine(runsDir, $"{date}-gateway.log"), cancellationToken).ConfigureAwait(false))
        {
            pack = await PackNameAsync(server, cancellationToken).ConfigureAwait(false);
            ConnectionFactory connect = async (_, ct) => await WebSocketVoiceConnection.ConnectAsync(server.VoiceEndpoint, BenchCorpus.SampleRate, ct).ConfigureAwait(false);

            // One unrecorded turn first: the first reply of a process pays for ORT arenas, JIT and page faults.
            log.WriteLine("bench: warm-up turn");
            await LoadRun.RunAsync("voiceagent", 1, 1, corpus, connect, server.ProcessId, caller, seed + 999, cancellationToken).ConfigureAwait(false);

            foreach (var n in sessionCounts)
            {
                log.WriteLine($"bench: {n} session(s) × {turns} turns");
                var droppedBefore = await server.DroppedFramesAsync(cancellationToken).ConfigureAwait(false) ?? 0;
                var result = await LoadRun.RunAsync("voiceagent", n, turns, corpus, connect, server.ProcessId, caller, seed, cancellationToken).ConfigureAwait(false);
                var droppedAfter = await server.DroppedFramesAsync(cancellationToken).ConfigureAwait(false) ?? droppedBefore;
                var summary = BenchReport.Summarize(result, droppedAfter - droppedBefore);
                runs.Add(summary);
                rawTurns.AddRange(RawTurns(result));
                log.WriteLine($"bench: {n} session(s): first packet p50/p95 {summary.FirstPacketMs.P50}/{summary.FirstPacketMs.P95} ms, user-felt p50/p95 {summary.UserLatencyMs.P50}/{summary.UserLatencyMs.P95} ms, real-time {(summary.RealtimeOk ? "yes" : "no")}, server CPU {summary.CpuPct} %");
            }
        }

        CascadeSummary? cascade = null;
        if (!a.Flag("--no-cascade"))
        {
            // Same clips as the smallest VoiceAgent run (same seed, sessions and turns), one caller.
            var n = sessionCounts.Min();
            log.WriteLine($"bench: cascade peer, {n} session(s) × {turns} turns");
            OrtRuntime.Initialize();
            using var vad = new SileroVadModel();
            var peer = new CascadePeer(vad, vadOptions);
            var result = await LoadRun.RunAsync("cascade", n, turns, corpus, (_, _) => Task.FromResult(peer.Open()), Environment.ProcessId, caller, seed, cancellationToken).ConfigureAwait(false);
            cascade = BenchReport.SummarizeCascade(result, CascadeDescription);
            rawTurns.AddRange(RawTurns(result));
            log.WriteLine($"bench: cascade user-felt p50/p95 {cascade.UserLatencyMs.P50}/{cascade.UserLatencyMs.P95} ms");
        }

        var smallest = runs.OrderBy(r => r.Sessions).FirstOrDefault();
        var report = new BenchReport
        {
            Date = date,
            Runs = runs,
            Cascade = cascade,
            RatioUserLatencyP50 = smallest?.UserLatencyMs.P50 is { } va && cascade?.UserLatencyMs.P50 is > 0 and var cp ? Math.Round(va / cp, 3) : null,
            MaxRealtimeSessions = runs.OrderBy(r => r.Sessions).TakeWhile(r => r.RealtimeOk).LastOrDefault()?.Sessions,
            Settings = new BenchSettings(turns, caller.FrameMs, caller.PlayoutBufferMs, vadOptions.MinSilenceMs, vadOptions.SpeechPadMs, pack,
                clips.Count(c => c.Source == "synthetic"), clips.Count(c => c.Source == "human"), seed,
                "./voiceagent bench " + string.Join(' ', args)),
            Machine = Machine(loadStart),
        };

        Directory.CreateDirectory(runsDir);
        var json = report.ToJson(indented: true);
        await File.WriteAllTextAsync(Path.Combine(outDir, $"{date}.json"), json + "\n", cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDir, $"{date}.svg"), LatencyPlot.Render(report), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(outDir, $"{date}.md"), MarkdownSummary.Render(report, $"{date}.svg"), cancellationToken).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(runsDir, $"{date}-turns.json"), JsonSerializer.Serialize(rawTurns, BenchReport.Json), cancellationToken).ConfigureAwait(false);
        log.WriteLine($"bench: wrote {Path.Combine(outDir, date)}.json, .md and .svg");
        stdout.WriteLine(a.Flag("--json") ? report.ToJson(indented: false) : MarkdownSummary.Render(report, $"{date}.svg"));
        return 0;
    }

    private const string CascadeDescription =
        "Silero VAD (same turn-taking settings as the server) → pocketsphinx 5-prealpha streaming (en-us acoustic model, generic en-us LM) → keyword intent match → espeak-ng streaming synthesis (en-us), in the bench process";

    private static int RunScale(PerfArgs a, string root, string outDir, TextWriter stdout, TextWriter log, CancellationToken cancellationToken)
    {
        var threads = a.IntList("--threads", [1], 1, 64);
        var packs = new List<string> { Path.Combine(root, "models", "demo") };
        var scaleDir = Path.Combine(root, "perf", "scale-packs");
        if (Directory.Exists(scaleDir))
        {
            packs.AddRange(Directory.GetDirectories(scaleDir).Where(d => File.Exists(Path.Combine(d, "manifest.json"))));
        }

        if (packs.Count == 1)
        {
            log.WriteLine("bench: no scale packs found; build them with /usr/bin/python3 training/scale_packs.py");
        }

        OrtRuntime.Initialize();
        var points = new List<ScalePoint>();
        foreach (var t in threads)
        {
            foreach (var pack in packs)
            {
                points.Add(DecoderScaleStudy.Measure(pack, t, log, cancellationToken));
            }
        }

        points = [.. points.OrderBy(p => p.Threads).ThenBy(p => p.Parameters)];
        var date = DateTime.Now.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        var result = new { date, machine = Machine(LoadAverage()), points };
        var json = JsonSerializer.Serialize(result, BenchReport.IndentedJson);
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, $"{date}-scale.json"), json + "\n");
        if (a.Flag("--json"))
        {
            stdout.WriteLine(JsonSerializer.Serialize(result, BenchReport.Json));
        }
        else
        {
            stdout.WriteLine("| pack | params (M) | hidden | layers (+audio) | heads/kv | threads | step p50 @100 (ms) | step p95 @100 | step p50 @1000 | prefill 36 p50 | decoder share of first packet | real-time streams / core |");
            stdout.WriteLine("|---|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var p in points)
            {
                stdout.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {p.Pack} | {p.Parameters / 1e6:F1} | {p.Hidden} | {p.Layers} (+{p.AudioLayers}) | {p.Heads}/{p.KvHeads} | {p.Threads} | {p.StepAt100Ms.P50} | {p.StepAt100Ms.P95} | {p.StepAt1000Ms.P50} | {p.Prefill36Ms.P50} | {p.DecoderFirstPacketMs} | {p.RealTimeStreamsPerCore} |"));
            }
        }

        return 0;
    }

    private static async Task<string> PackNameAsync(GatewayServer server, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        using var health = JsonDocument.Parse(await http.GetStringAsync(new Uri("/healthz", UriKind.Relative), cancellationToken).ConfigureAwait(false));
        return health.RootElement.TryGetProperty("pack", out var p) ? p.GetString() ?? "unknown" : "unknown";
    }

    private static IEnumerable<object> RawTurns(LoadRunResult run) => run.Turns.Select(t => new
    {
        system = run.System,
        sessions = run.Sessions,
        session = t.Session,
        turn = t.Turn,
        clip = t.ClipId,
        source = t.ClipSource,
        speech_ms = Math.Round(t.SpeechMs),
        user_latency_ms = t.UserLatencyMs,
        last_voiced_to_commit_ms = t.LastVoicedToCommitMs,
        commit_to_first_audio_ms = t.CommitToFirstAudioMs,
        first_packet_ms = t.EngineFirstPacketMs,
        vad_commit_ms = t.VadCommitMs,
        end_of_turn = t.EndOfTurn,
        stages = t.Stages,
        reply_ms = t.ReceivedAudioMs(run.OutputSampleRate),
        reply_rtf = t.ReplyRealTimeFactor(run.OutputSampleRate),
        underruns = t.Underruns,
        first_underrun_at_ms = t.FirstUnderrunAtMs,
        stall_ms = Math.Round(t.StallMs, 1),
        commits = t.Commits,
        barge_ins = t.BargeIns,
        errors = t.Errors,
        early_audio_frames = t.EarlyAudioFrames,
        premature_commits = t.PrematureCommits,
        completed = t.Completed,
        transcript = t.Transcript,
        reply = t.ReplyText,
    });

    private static double[] LoadAverage()
    {
        try
        {
            return [.. File.ReadAllText("/proc/loadavg").Split(' ').Take(3).Select(s => double.Parse(s, CultureInfo.InvariantCulture))];
        }
        catch (IOException)
        {
            return [];
        }
    }

    private static MachineInfo Machine(double[] loadStart)
    {
        string Read(string path, string key)
        {
            try
            {
                return File.ReadLines(path).FirstOrDefault(l => l.StartsWith(key, StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown";
            }
            catch (IOException)
            {
                return "unknown";
            }
        }

        var memKb = Read("/proc/meminfo", "MemTotal").Split(' ')[0];
        var memGb = double.TryParse(memKb, NumberStyles.Integer, CultureInfo.InvariantCulture, out var kb) ? kb / 1024.0 / 1024.0 : 0;
        return new MachineInfo(Read("/proc/cpuinfo", "model name"), Environment.ProcessorCount, Math.Round(memGb, 1),
            RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, loadStart, LoadAverage(), HeavyProcesses());
    }

    /// <summary>Other jobs that compete for the CPU (model training on a shared box), named in the report.</summary>
    private static List<string> HeavyProcesses()
    {
        var found = new List<string>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.Integer, CultureInfo.InvariantCulture, out var pid) || pid == Environment.ProcessId)
            {
                continue;
            }

            try
            {
                var cmd = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ').Trim();
                if (cmd.Contains("training/", StringComparison.Ordinal) || cmd.Contains("dotnet test", StringComparison.Ordinal) || cmd.Contains("BenchmarkDotNet", StringComparison.Ordinal))
                {
                    // State T (stopped, e.g. a training job paused with SIGSTOP for the run) uses no CPU: named, but marked.
                    var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                    var stopped = stat.LastIndexOf(')') is var close and > 0 && close + 2 < stat.Length && stat[close + 2] is 'T' or 't';
                    found.Add($"{pid} {(cmd.Length > 90 ? cmd[..90] + "…" : cmd)}{(stopped ? " (stopped during the run)" : string.Empty)}");
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended while we looked.
            }
        }

        return found;
    }
}
