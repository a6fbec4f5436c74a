using System.Globalization;
using System.Text;

namespace VoiceAgent.Perf.Reporting;

/// <summary>The human-readable summary next to the JSON in perf/results (tables, the plot, definitions, load).</summary>
internal static class MarkdownSummary
{
    public static string Render(BenchReport report, string plotFileName)
    {
        var md = new StringBuilder();
        var m = report.Machine;
        md.Append(CultureInfo.InvariantCulture, $"# VoiceAgent bench, {report.Date}\n\n");
        md.Append(CultureInfo.InvariantCulture, $"`{report.Settings.Command}` — pack `{report.Settings.Pack}`, {report.Settings.TurnsPerSession} turns per session, ");
        md.Append(CultureInfo.InvariantCulture, $"{report.Settings.SyntheticClips} synthetic + {report.Settings.HumanClips} human clips, seed {report.Settings.Seed}.\n\n");
        md.Append(CultureInfo.InvariantCulture, $"Machine: {m.Cpu}, {m.Cores} cores, {m.MemoryGb:F0} GB, {m.Os}, {m.Runtime}. ");
        md.Append(CultureInfo.InvariantCulture, $"Load average at start {Load(m.LoadAverageStart)}, at end {Load(m.LoadAverageEnd)}");
        md.Append(m.OtherHeavyProcesses.Count > 0
            ? $"; **other work was running**: {string.Join("; ", m.OtherHeavyProcesses)} — treat absolute figures as upper bounds.\n\n"
            : "; no other heavy process was running.\n\n");

        md.Append("## Headline\n\n");
        md.Append("| figure | value |\n|---|---:|\n");
        var first = report.Runs.OrderBy(r => r.Sessions).FirstOrDefault();
        if (first is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"| engine first packet p95, {first.Sessions} session(s) | {Ms(first.FirstPacketMs.P95)} |\n");
        }

        if (report.Runs.FirstOrDefault(r => r.Sessions == 8) is { } eight)
        {
            md.Append(CultureInfo.InvariantCulture, $"| engine first packet p95, 8 sessions | {Ms(eight.FirstPacketMs.P95)} |\n");
        }

        if (first is not null)
        {
            md.Append(CultureInfo.InvariantCulture, $"| user-felt latency p50, {first.Sessions} session(s) | {Ms(first.UserLatencyMs.P50)} |\n");
        }

        if (report.Cascade is { } c)
        {
            md.Append(CultureInfo.InvariantCulture, $"| cascade user-felt latency p50 / p95 | {Ms(c.UserLatencyMs.P50)} / {Ms(c.UserLatencyMs.P95)} |\n");
        }

        md.Append(CultureInfo.InvariantCulture, $"| VoiceAgent / cascade user-felt p50 | {(report.RatioUserLatencyP50 is { } ratio ? ratio.ToString("F2", CultureInfo.InvariantCulture) : "–")} |\n");
        md.Append(CultureInfo.InvariantCulture, $"| most concurrent sessions that stayed real-time (of those run) | {(report.MaxRealtimeSessions?.ToString(CultureInfo.InvariantCulture) ?? "none")} |\n\n");

        md.Append(CultureInfo.InvariantCulture, $"![latency vs sessions]({plotFileName})\n\n");

        md.Append("## VoiceAgent server, per session count\n\n");
        md.Append("| sessions | turns ok | first packet p50 / p95 / p99 (ms) | user-felt p50 / p95 / p99 (ms) | reply RTF p50 / max | underrun turns | dropped frames | send lag p99 (ms) | real-time | server CPU % | server RSS MB | bench CPU % | correct replies | ended at a short pause | cut off early |\n");
        md.Append("|---:|---:|---|---|---|---:|---:|---:|:---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (var r in report.Runs.OrderBy(r => r.Sessions))
        {
            md.Append(CultureInfo.InvariantCulture,
                $"| {r.Sessions} | {r.CompletedTurns}/{r.Turns} | {Triple(r.FirstPacketMs)} | {Triple(r.UserLatencyMs)} | {r.ReplyRtf.P50?.ToString("F3", CultureInfo.InvariantCulture) ?? "–"} / {r.ReplyRtf.Max?.ToString("F3", CultureInfo.InvariantCulture) ?? "–"} | {r.UnderrunTurns} | {r.DroppedFrames} | {Ms(r.SendLagMs.P99)} | {(r.RealtimeOk ? "yes" : "**no**")} | {Num(r.CpuPct)} | {Num(r.RssMb)} | {r.BenchCpuPct:F0} | {Pct(r.ReplyCorrect)} | {Pct(r.SemanticEndOfTurn)} | {Pct(r.PrematureEndOfTurn)} |\n");
        }

        if (report.Runs.Any(r => r.ReplyCorrectByTurn is { Count: > 0 }))
        {
            var n = report.Runs.Max(r => r.ReplyCorrectByTurn?.Count ?? 0);
            md.Append("\n## Correct replies by turn of the call\n\n");
            md.Append("Each session is one call; turn 1 is its first question. A share that falls as calls go on points at the conversation history the decoder keeps, not at the questions.\n\n");
            md.Append("| sessions | " + string.Join(" | ", Enumerable.Range(1, n).Select(i => $"turn {i}")) + " |\n");
            md.Append("|---:|" + string.Concat(Enumerable.Repeat("---:|", n)) + "\n");
            foreach (var r in report.Runs.OrderBy(r => r.Sessions))
            {
                var byTurn = r.ReplyCorrectByTurn ?? [];
                var cells = string.Join(" | ", Enumerable.Range(0, n).Select(i => i < byTurn.Count ? Pct(byTurn[i]) : "–"));
                md.Append(CultureInfo.InvariantCulture, $"| {r.Sessions} | {cells} |\n");
            }
        }

        md.Append("\n## Where the time goes (p50, ms)\n\n");
        md.Append("VoiceAgent stages are the server's `latency` event (wall time from the commit, except `vad_commit`, which is audio time from the last voiced sample to the commit). Cascade stages are measured the same way inside the cascade peer.\n\n");
        md.Append("The last two columns are the caller's own wall-clock split of the user-felt latency at the commit event: time beyond `vad_commit` in the first is input processing that fell behind real time; time beyond the first packet in the second is delivery.\n\n");
        md.Append("| system | sessions | vad_commit | stages after the commit | first packet | user-felt | caller: last voiced → commit seen | caller: commit seen → first audio |\n|---|---:|---:|---|---:|---:|---:|---:|\n");
        foreach (var r in report.Runs.OrderBy(r => r.Sessions))
        {
            md.Append(CultureInfo.InvariantCulture, $"| VoiceAgent | {r.Sessions} | {Ms(r.VadCommitMs.P50)} | {Stages(r.StagesP50Ms, "vad_commit", "total")} | {Ms(r.FirstPacketMs.P50)} | {Ms(r.UserLatencyMs.P50)} | {Ms(r.ClientSplitMs.LastVoicedToCommit.P50)} | {Ms(r.ClientSplitMs.CommitToFirstAudio.P50)} |\n");
        }

        if (report.Cascade is { } cascade)
        {
            md.Append(CultureInfo.InvariantCulture, $"| cascade | {cascade.Sessions} | {Ms(cascade.VadCommitMs.P50)} | {Stages(cascade.StagesP50Ms, "total")} | {Ms(cascade.FirstPacketMs.P50)} | {Ms(cascade.UserLatencyMs.P50)} | {Ms(cascade.ClientSplitMs.LastVoicedToCommit.P50)} | {Ms(cascade.ClientSplitMs.CommitToFirstAudio.P50)} |\n\n");
            md.Append(CultureInfo.InvariantCulture, $"Cascade: {cascade.Description}; {cascade.CompletedTurns}/{cascade.Turns} turns, correct replies {Pct(cascade.ReplyCorrect)}.\n\n");
        }

        md.Append("""
            ## Definitions

            * **user-felt latency**: from the moment the frame holding the caller's last voiced sample is sent to the moment the
              first reply audio byte is received (both in the bench process). The last voiced sample is fixed per clip, offline
              (last 32 ms Silero window with p ≥ 0.5), the same for every system.
            * **engine first packet**: the server's own `latency.first_audio_frame_ms` (commit → first reply frame); for the
              cascade, commit → first TTS buffer.
            * **reply RTF**: time from the first to the last reply frame received / reply audio duration. The gateway releases
              reply audio at real time (+ a lead), so ≈ 1 means it kept up.
            * **real-time**: every turn answered and played without an underrun (80 ms playout buffer, as the browser client), no caller frame sent
              more than 100 ms late, no reply frame dropped by the server, no error.
            * Callers stream 20 ms PCM16 frames at 16 kHz on an absolute clock, keep sending silence while the reply plays,
              wait 0.4–0.9 s, then speak the next clip. Sessions start at uniform random
              offsets within the first 6 s (about one turn cycle), so runs measure steady state, not a burst of first turns.

            """);
        return md.ToString();
    }

    private static string Load(double[] load) => load.Length >= 3 ? string.Create(CultureInfo.InvariantCulture, $"{load[0]:F2} / {load[1]:F2} / {load[2]:F2}") : "–";

    private static string Ms(double? v) => v is { } x ? x.ToString("F0", CultureInfo.InvariantCulture) : "–";

    private static string Num(double? v) => v is { } x ? x.ToString("F0", CultureInfo.InvariantCulture) : "–";

    private static string Pct(double? v) => v is { } x ? (x * 100).ToString("F0", CultureInfo.InvariantCulture) + " %" : "–";

    private static string Triple(Load.Distribution d) => $"{Ms(d.P50)} / {Ms(d.P95)} / {Ms(d.P99)}";

    private static string Stages(IReadOnlyDictionary<string, double?> stages, params string[] skip) =>
        string.Join(", ", stages.Where(kv => !skip.Contains(kv.Key)).Select(kv => $"{kv.Key} {Ms(kv.Value)}"));
}
