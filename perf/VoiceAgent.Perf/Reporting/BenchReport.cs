using System.Text.Json;
using System.Text.Json.Serialization;
using VoiceAgent.Perf.Cascade;
using VoiceAgent.Perf.Load;

namespace VoiceAgent.Perf.Reporting;

/// <summary>One load level of the VoiceAgent server (the <c>runs[]</c> entries of the bench JSON).</summary>
internal sealed record RunSummary
{
    public required int Sessions { get; init; }

    public required int Turns { get; init; }

    public required int CompletedTurns { get; init; }

    /// <summary>Engine first packet (the server's latency event: commit → first reply frame).</summary>
    public required Distribution FirstPacketMs { get; init; }

    /// <summary>Last voiced sample sent → first reply audio byte received.</summary>
    public required Distribution UserLatencyMs { get; init; }

    public required Distribution VadCommitMs { get; init; }

    /// <summary>p50 of each stage figure the far end reported (ms from the commit, except vad_commit).</summary>
    public required IReadOnlyDictionary<string, double?> StagesP50Ms { get; init; }

    /// <summary>Client-side split of the user-felt latency: last voiced frame sent → commit event received → first audio.</summary>
    public required ClientSplit ClientSplitMs { get; init; }

    /// <summary>Reply receive time / reply duration (the gateway paces replies at real time, so ≈ 1 when healthy).</summary>
    public required Distribution ReplyRtf { get; init; }

    public required int UnderrunTurns { get; init; }

    /// <summary>Frames that missed real time: caller frames sent &gt; 100 ms late plus reply frames the server dropped.</summary>
    public required long DroppedFrames { get; init; }

    /// <summary>Caller frames the bench could not send within 100 ms of their capture time (a machine too busy to keep up).</summary>
    public required long ClientLateFrames { get; init; }

    /// <summary>Reply frames the server dropped because the caller read too slowly (its /metrics counter).</summary>
    public required long ServerDroppedFrames { get; init; }

    public required Distribution SendLagMs { get; init; }

    public required int BargeIns { get; init; }

    public required int Errors { get; init; }

    /// <summary>Synthetic questions answered with their intent's reply text (quality, for context).</summary>
    public double? ReplyCorrect { get; init; }

    /// <summary>
    /// <see cref="ReplyCorrect"/> at each turn of the calls (index 0 = every session's first turn): a reply quality that
    /// falls as calls go on points at the conversation history, not at the questions.
    /// </summary>
    public IReadOnlyList<double?>? ReplyCorrectByTurn { get; init; }

    /// <summary>Share of reported turns the server ended at a short pause because the model was sure (semantic end of turn).</summary>
    public double? SemanticEndOfTurn { get; init; }

    /// <summary>Share of turns the server ended before the caller's last voiced sample was sent (cut off mid-utterance).</summary>
    public double? PrematureEndOfTurn { get; init; }

    /// <summary>Every turn answered and heard without a gap, no frame dropped, no error.</summary>
    public required bool RealtimeOk { get; init; }

    public double? CpuPct { get; init; }

    public double? RssMb { get; init; }

    public required double BenchCpuPct { get; init; }

    public required double WallS { get; init; }

    public IReadOnlyList<string>? Failures { get; init; }
}

/// <summary>The cascade peer's figures (same inputs, same caller code).</summary>
internal sealed record CascadeSummary
{
    public required string Description { get; init; }

    public required int Sessions { get; init; }

    public required int Turns { get; init; }

    public required int CompletedTurns { get; init; }

    public required Distribution UserLatencyMs { get; init; }

    /// <summary>Commit → first TTS audio (the cascade's equivalent of the engine first packet).</summary>
    public required Distribution FirstPacketMs { get; init; }

    public required Distribution VadCommitMs { get; init; }

    public required IReadOnlyDictionary<string, double?> StagesP50Ms { get; init; }

    public required ClientSplit ClientSplitMs { get; init; }

    public double? ReplyCorrect { get; init; }
}

/// <summary>
/// The user-felt latency cut at the commit, as the caller sees it (wall clock, both ends in the bench process). Compared
/// with the far end's own figures it shows time spent outside the engine: input processing falling behind real time
/// (<see cref="LastVoicedToCommit"/> beyond <c>vad_commit</c>) and delivery (<see cref="CommitToFirstAudio"/> beyond the first packet).
/// </summary>
internal sealed record ClientSplit(Distribution LastVoicedToCommit, Distribution CommitToFirstAudio);

/// <summary>Where and under what load the figures were taken.</summary>
internal sealed record MachineInfo(string Cpu, int Cores, double MemoryGb, string Os, string Runtime, double[] LoadAverageStart, double[] LoadAverageEnd, IReadOnlyList<string> OtherHeavyProcesses);

/// <summary>The bench's settings, so a result can be reproduced.</summary>
internal sealed record BenchSettings(int TurnsPerSession, int FrameMs, double PlayoutBufferMs, int VadMinSilenceMs, int VadSpeechPadMs, string Pack, int SyntheticClips, int HumanClips, int Seed, string Command);

/// <summary>The whole bench result: the JSON object <c>./voiceagent bench --json</c> prints and perf/results stores.</summary>
internal sealed record BenchReport
{
    public required string Date { get; init; }

    public required IReadOnlyList<RunSummary> Runs { get; init; }

    public CascadeSummary? Cascade { get; init; }

    /// <summary>VoiceAgent user-felt latency p50 (at the smallest session count) / cascade p50: same inputs, same load.</summary>
    public double? RatioUserLatencyP50 { get; init; }

    /// <summary>Largest session count measured whose run stayed real-time (null when none did).</summary>
    public int? MaxRealtimeSessions { get; init; }

    public required BenchSettings Settings { get; init; }

    public required MachineInfo Machine { get; init; }

    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DictionaryKeyPolicy = null,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public static readonly JsonSerializerOptions IndentedJson = new(Json) { WriteIndented = true };

    public string ToJson(bool indented) => JsonSerializer.Serialize(this, indented ? IndentedJson : Json);

    /// <summary>Summarizes one VoiceAgent load level.</summary>
    public static RunSummary Summarize(LoadRunResult run, long serverDroppedFrames)
    {
        var turns = run.Turns.ToList();
        var lags = run.SessionResults.SelectMany(s => s.SendLagMs).ToList();
        var clientDropped = run.SessionResults.Sum(s => s.DroppedFrames);
        var completed = turns.Count(t => t.Completed);
        var underruns = turns.Count(t => t.Underruns > 0);
        var errors = turns.Sum(t => t.Errors);
        var failures = run.SessionResults.Where(s => s.Failure is not null).Select(s => $"session {s.Session}: {s.Failure}").ToList();
        var dropped = clientDropped + serverDroppedFrames;
        return new RunSummary
        {
            Sessions = run.Sessions,
            Turns = turns.Count,
            CompletedTurns = completed,
            FirstPacketMs = Percentiles.Summarize(Values(turns, t => t.EngineFirstPacketMs)),
            UserLatencyMs = Percentiles.Summarize(Values(turns, t => t.UserLatencyMs)),
            VadCommitMs = Percentiles.Summarize(Values(turns, t => t.VadCommitMs)),
            StagesP50Ms = StageMedians(turns),
            ClientSplitMs = Split(turns),
            ReplyRtf = Percentiles.Summarize(Values(turns, t => t.ReplyRealTimeFactor(run.OutputSampleRate)), decimals: 3),
            UnderrunTurns = underruns,
            DroppedFrames = dropped,
            ClientLateFrames = clientDropped,
            ServerDroppedFrames = serverDroppedFrames,
            SendLagMs = Percentiles.Summarize(lags),
            BargeIns = turns.Sum(t => t.BargeIns),
            Errors = errors,
            ReplyCorrect = ReplyCorrect(turns),
            ReplyCorrectByTurn = turns.Count == 0 ? null : [.. Enumerable.Range(0, turns.Max(t => t.Turn) + 1).Select(i => ReplyCorrect([.. turns.Where(t => t.Turn == i)]))],
            SemanticEndOfTurn = SemanticShare(turns),
            PrematureEndOfTurn = turns.Count == 0 ? null : Math.Round((double)turns.Count(t => t.PrematureCommits > 0) / turns.Count, 3),
            RealtimeOk = turns.Count > 0 && completed == turns.Count && underruns == 0 && dropped == 0 && errors == 0 && failures.Count == 0,
            CpuPct = run.CpuPercent is { } c ? Math.Round(c, 1) : null,
            RssMb = run.PeakRssMb is { } r ? Math.Round(r, 1) : null,
            BenchCpuPct = Math.Round(run.BenchCpuPercent, 1),
            WallS = Math.Round(run.WallSeconds, 1),
            Failures = failures.Count > 0 ? failures : null,
        };
    }

    /// <summary>Summarizes the cascade run.</summary>
    public static CascadeSummary SummarizeCascade(LoadRunResult run, string description)
    {
        var turns = run.Turns.ToList();
        return new CascadeSummary
        {
            Description = description,
            Sessions = run.Sessions,
            Turns = turns.Count,
            CompletedTurns = turns.Count(t => t.Completed),
            UserLatencyMs = Percentiles.Summarize(Values(turns, t => t.UserLatencyMs)),
            FirstPacketMs = Percentiles.Summarize(Values(turns, t => t.EngineFirstPacketMs)),
            VadCommitMs = Percentiles.Summarize(Values(turns, t => t.VadCommitMs)),
            StagesP50Ms = StageMedians(turns),
            ClientSplitMs = Split(turns),
            ReplyCorrect = ReplyCorrect(turns),
        };
    }

    private static ClientSplit Split(IReadOnlyList<TurnRecord> turns) => new(
        Percentiles.Summarize(Values(turns, t => t.LastVoicedToCommitMs)),
        Percentiles.Summarize(Values(turns, t => t.CommitToFirstAudioMs)));

    private static List<double> Values(IEnumerable<TurnRecord> turns, Func<TurnRecord, double?> pick) =>
        [.. turns.Select(pick).Where(v => v is { } x && double.IsFinite(x)).Select(v => v!.Value)];

    private static Dictionary<string, double?> StageMedians(IReadOnlyList<TurnRecord> turns)
    {
        var names = turns.Where(t => t.Stages is not null).SelectMany(t => t.Stages!.Keys).Distinct(StringComparer.Ordinal).ToList();
        var medians = new Dictionary<string, double?>(StringComparer.Ordinal);
        foreach (var name in names)
        {
            medians[name] = Percentiles.Summarize(Values(turns, t => t.Stages is { } s && s.TryGetValue(name, out var v) ? v : null)).P50;
        }

        return medians;
    }

    private static double? SemanticShare(IReadOnlyList<TurnRecord> turns)
    {
        var reported = turns.Where(t => t.EndOfTurn is not null).ToList();
        return reported.Count == 0 ? null : Math.Round((double)reported.Count(t => t.EndOfTurn == "semantic") / reported.Count, 3);
    }

    private static double? ReplyCorrect(IReadOnlyList<TurnRecord> turns)
    {
        var scored = turns.Where(t => t.Intent is not null && t.Completed).ToList();
        if (scored.Count == 0)
        {
            return null;
        }

        var correct = scored.Count(t => string.Equals(Normalize(t.ReplyText), Normalize(KeywordIntentMatcher.Replies[t.Intent!]), StringComparison.Ordinal));
        return Math.Round((double)correct / scored.Count, 3);
    }

    private static string Normalize(string? text) => string.Join(' ', (text ?? string.Empty).Split(' ', StringSplitOptions.RemoveEmptyEntries));
}
