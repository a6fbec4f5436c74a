using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Sessions;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.Gateway.Cli;

/// <summary>
/// <c>respond --input q.wav --output reply.wav [--json]</c> and
/// <c>respond --input a.wav b.wav … --output-dir DIR [--json]</c>: each input is an independent one-turn conversation
/// through the same engine path a live caller takes (resampler → VAD → encoder → decoder → detokenizer → vocoder).
/// With <c>--end-of-turn file</c> (the default) the end of the file ends the turn; with <c>--end-of-turn live</c> the
/// file is streamed in 20 ms pieces and the session ends the turn itself, as for a live caller (VAD silence hangover or
/// the decoder's semantic end of turn at a pause), so the reply is the one a caller would get; <c>silence</c> is
/// <c>live</c> without the semantic check (the hangover alone). With <c>--conversation</c> the inputs are the caller's
/// successive turns of ONE conversation (one session, the decoder keeping its history as for a live call, capped by
/// <c>--history-turns</c>), which is how a call's later turns are checked.
/// </summary>
internal static class RespondCommand
{
    /// <summary>Exit code when an input got no reply (no speech in it, or the reply failed).</summary>
    private const int NoReplyExitCode = 4;

    /// <summary>Sample rate of the reply WAVs.</summary>
    private const int OutputRate = 16000;

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, new HashSet<string> { "--input", "--output", "--output-dir", "--pack", "--mode", "--end-of-turn", "--semantic-probe-ms", "--semantic-confidence", "--history-turns" }, new HashSet<string> { "--json", "--conversation" });
        var inputs = options.Values("--input");
        if (inputs.Count == 0)
        {
            throw new CliException("option '--input' is required.");
        }

        var single = options.Single("--output");
        var directory = options.Single("--output-dir");
        if (single is not null && directory is not null)
        {
            throw new CliException("use either '--output' (one input) or '--output-dir' (any number of inputs), not both.");
        }

        if (single is null && directory is null)
        {
            throw new CliException("option '--output' (one input) or '--output-dir' is required.");
        }

        if (single is not null && inputs.Count > 1)
        {
            throw new CliException($"'--output' takes one input but {inputs.Count} were given; use '--output-dir' instead.");
        }

        var conversation = options.Flag("--conversation");
        if (conversation && directory is null)
        {
            throw new CliException("'--conversation' answers every input in one session; it needs '--output-dir'.");
        }

        int? historyTurns = null; // the pack's stream.history_turns
        if (options.Single("--history-turns") is { } history)
        {
            historyTurns = history == "all" ? int.MaxValue
                : int.TryParse(history, NumberStyles.None, CultureInfo.InvariantCulture, out var h) ? h
                : throw new CliException($"option '--history-turns' takes a whole number of turns or 'all', got '{history}'.");
        }

        var mode = options.Single("--mode") switch
        {
            null or "audio" => OutputMode.TextAndAudio,
            "text" => OutputMode.TextOnly,
            var other => throw new CliException($"option '--mode' must be 'audio' or 'text', got '{other}'."),
        };

        var endOfTurn = options.Single("--end-of-turn") switch
        {
            null or "file" => EndOfTurn.File,
            "live" => EndOfTurn.Live,
            "silence" => EndOfTurn.Silence,
            var other => throw new CliException($"option '--end-of-turn' must be 'file', 'live' or 'silence', got '{other}'."),
        };

        var semantic = new SemanticEndOfTurnOptions();
        if (options.Single("--semantic-probe-ms") is { } probe)
        {
            semantic.ProbeSilenceMs = int.TryParse(probe, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? ms
                : throw new CliException($"option '--semantic-probe-ms' takes whole milliseconds, got '{probe}'.");
        }

        if (options.Single("--semantic-confidence") is { } bar)
        {
            var values = bar.Split(',').Select(x => double.TryParse(x, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : double.NaN).ToArray();
            if (values.Length > 2 || values.Any(double.IsNaN))
            {
                throw new CliException($"option '--semantic-confidence' takes MIN or MIN,FINAL (numbers in (0, 1]), got '{bar}'.");
            }

            semantic.MinConfidence = values[0];
            semantic.FinalMinConfidence = values[^1];
        }

        try
        {
            semantic.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new CliException(ex.Message);
        }

        // Read every input before loading models, so a bad file fails fast with its own sentence.
        var clips = new List<(string Path, AudioClip Clip)>(inputs.Count);
        foreach (var path in inputs)
        {
            try
            {
                clips.Add((path, WavFile.Read(path)));
            }
            catch (AudioFormatException ex)
            {
                throw new CliException(ex.Message);
            }
        }

        if (conversation && clips.Select(c => c.Clip.SampleRate).Distinct().Count() > 1)
        {
            throw new CliException("the turns of one '--conversation' must share one sample rate, as one call's audio does.");
        }

        if (directory is not null)
        {
            Directory.CreateDirectory(directory);
        }

        using var engine = LoadEngine(options.Single("--pack"));
        if (mode == OutputMode.TextAndAudio && !engine.CanSpeak)
        {
            mode = OutputMode.TextOnly;
        }

        var json = options.Flag("--json");
        var failed = 0;
        var sessionOptions = SessionOptions(mode, endOfTurn, semantic, historyTurns);

        // One session for the whole conversation, or one per input (opened and disposed in RespondOnceAsync).
        await using var shared = conversation ? engine.OpenSession(sessionOptions.WithInputRate(clips[0].Clip.SampleRate)) : null;
        for (var i = 0; i < clips.Count; i++)
        {
            var (path, clip) = clips[i];
            var target = single ?? Path.Combine(directory!, UniqueName(path, i, clips));
            RespondResult result;
            try
            {
                result = shared is not null
                    ? await RespondTurnAsync(shared, clip, endOfTurn, cancellationToken).ConfigureAwait(false)
                    : await RespondOnceAsync(engine, clip, sessionOptions, endOfTurn, cancellationToken).ConfigureAwait(false);
            }
            catch (CliException ex) when (directory is not null && ex.ExitCode == NoReplyExitCode)
            {
                // A batch goes on past an input that got no reply (no speech in it, a failed reply): its line says why.
                failed++;
                await output.WriteLineAsync(json
                    ? JsonSerializer.Serialize(new RespondError(path, conversation ? i : null, ex.Message), JsonOptions)
                    : $"{path}: no reply: {ex.Message}").ConfigureAwait(false);
                continue;
            }

            WavFile.WritePcm16(target, result.Audio, result.SampleRate);
            if (json)
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(new RespondLine(path, conversation ? i : null, target, result.Text, result.Transcript, result.EndOfTurn, Math.Round(result.AudioMs, 1), result.Timings), JsonOptions)).ConfigureAwait(false);
            }
            else
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: \"{result.Text}\" → {target} ({result.AudioMs:F0} ms of audio, first packet {result.Timings.FirstAudioFrame?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} ms)")).ConfigureAwait(false);
            }
        }

        if (failed > 0)
        {
            throw new CliException($"{failed} of {clips.Count} inputs got no reply; their lines say why.", NoReplyExitCode);
        }

        return 0;
    }

    internal static VoiceAgentEngine LoadEngine(string? packDirectory)
    {
        try
        {
            return VoiceAgentEngine.Load(new VoiceAgentEngineOptions { PackDirectory = packDirectory });
        }
        catch (ModelPackException ex)
        {
            throw new CliException(ex.Message, 3);
        }
        catch (FileNotFoundException ex)
        {
            throw new CliException(ex.Message, 3);
        }
    }

    private static string UniqueName(string input, int index, List<(string Path, AudioClip Clip)> all)
    {
        var stem = Path.GetFileNameWithoutExtension(input);
        var clash = all.Count(c => string.Equals(Path.GetFileNameWithoutExtension(c.Path), stem, StringComparison.Ordinal)) > 1;
        return clash ? $"{stem}.{index}.reply.wav" : $"{stem}.reply.wav";
    }

    private static VoiceSessionOptions SessionOptions(OutputMode mode, EndOfTurn endOfTurn, SemanticEndOfTurnOptions semantic, int? historyTurns)
    {
        var options = new VoiceSessionOptions
        {
            OutputSampleRate = OutputRate,
            Mode = mode,
            AutoCommit = endOfTurn != EndOfTurn.File,
            BargeInEnabled = false,
            SemanticEndOfTurn = semantic.Clone(),
            MaxHistoryTurns = historyTurns,
        };
        options.SemanticEndOfTurn.Enabled = endOfTurn == EndOfTurn.Live;
        return options; // every value was checked where it was parsed (the semantic settings by their Validate)
    }

    private static VoiceSessionOptions WithInputRate(this VoiceSessionOptions options, int rate)
    {
        var copy = options.Clone();
        copy.InputSampleRate = rate;
        return copy;
    }

    private static async Task<RespondResult> RespondOnceAsync(VoiceAgentEngine engine, AudioClip clip, VoiceSessionOptions options, EndOfTurn endOfTurn, CancellationToken cancellationToken)
    {
        await using var session = engine.OpenSession(options.WithInputRate(clip.SampleRate));
        return await RespondTurnAsync(session, clip, endOfTurn, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One caller turn on <paramref name="session"/>: sends the clip, waits for the reply it gets, collects it.</summary>
    private static async Task<RespondResult> RespondTurnAsync(VoiceSession session, AudioClip clip, EndOfTurn endOfTurn, CancellationToken cancellationToken)
    {
        var turnsBefore = session.TurnCount;
        if (endOfTurn != EndOfTurn.File)
        {
            // As a caller's 20 ms packets; the first turn the session ends is the one answered, the rest is not sent.
            var piece = clip.SampleRate / 50;
            for (var i = 0; i < clip.Samples.Length && session.TurnCount == turnsBefore; i += piece)
            {
                session.PushAudio(clip.Samples.AsSpan(i, Math.Min(piece, clip.Samples.Length - i)));
            }
        }
        else
        {
            session.PushAudio(clip.Samples);
        }

        if (session.TurnCount == turnsBefore && !session.CommitTurn())
        {
            throw new CliException("no speech was detected in the input.", NoReplyExitCode);
        }

        var audio = new List<float>();
        var done = session.WhenRepliesDone;
        while (true)
        {
            while (session.Audio.TryRead(out var frame))
            {
                audio.AddRange(frame.Samples.Span);
                frame.Dispose();
            }

            if (done.IsCompleted)
            {
                break;
            }

            await Task.WhenAny(done, session.Audio.WaitToReadAsync(cancellationToken).AsTask()).ConfigureAwait(false);
        }

        await done.ConfigureAwait(false);
        while (session.Audio.TryRead(out var frame))
        {
            audio.AddRange(frame.Samples.Span);
            frame.Dispose();
        }

        string text = string.Empty, transcript = string.Empty;
        TurnLatency? latency = null;
        string? error = null;
        while (session.Events.TryRead(out var e))
        {
            switch (e.Kind)
            {
                case SessionEventKind.ReplyDone:
                    text = e.Text ?? string.Empty;
                    break;
                case SessionEventKind.UserTranscript:
                    transcript = e.Text ?? string.Empty;
                    break;
                case SessionEventKind.TurnLatency:
                    latency = e.Latency;
                    break;
                case SessionEventKind.Error:
                    error = e.Text;
                    break;
            }
        }

        if (error is not null)
        {
            throw new CliException(error, NoReplyExitCode);
        }

        var samples = audio.ToArray();
        return new RespondResult(text, transcript, latency?.EndOfTurn ?? "manual", samples, OutputRate, 1000.0 * samples.Length / OutputRate, Timings.From(latency));
    }

    private sealed record RespondResult(string Text, string Transcript, string EndOfTurn, float[] Audio, int SampleRate, double AudioMs, Timings Timings);

    private sealed record RespondLine(
        [property: JsonPropertyName("input")] string Input,
        [property: JsonPropertyName("turn"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Turn,
        [property: JsonPropertyName("output")] string Output,
        [property: JsonPropertyName("reply_text")] string ReplyText,
        [property: JsonPropertyName("transcript")] string Transcript,
        [property: JsonPropertyName("end_of_turn")] string EndOfTurn,
        [property: JsonPropertyName("audio_ms")] double AudioMs,
        [property: JsonPropertyName("timings_ms")] Timings TimingsMs);

    /// <summary>What ends the turn: the end of the file, or the session as for a live caller (with or without the semantic check).</summary>
    private enum EndOfTurn
    {
        File,
        Live,
        Silence,
    }

    private sealed record RespondError(
        [property: JsonPropertyName("input")] string Input,
        [property: JsonPropertyName("turn"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] int? Turn,
        [property: JsonPropertyName("error")] string Error);

    /// <summary>The six per-turn figures, in milliseconds, named as the engine's latency event names them.</summary>
    internal sealed record Timings(
        [property: JsonPropertyName("vad_commit")] double? VadCommit,
        [property: JsonPropertyName("encoder_tail")] double? EncoderTail,
        [property: JsonPropertyName("first_text_token")] double? FirstTextToken,
        [property: JsonPropertyName("first_audio_token")] double? FirstAudioToken,
        [property: JsonPropertyName("first_audio_frame")] double? FirstAudioFrame,
        [property: JsonPropertyName("total")] double? Total)
    {
        public static Timings From(TurnLatency? l) => l is null
            ? new Timings(null, null, null, null, null, null)
            : new Timings(l.VadCommitMs, l.EncoderTailMs, l.FirstTextTokenMs, l.FirstAudioTokenMs, l.FirstAudioFrameMs, l.TotalMs);
    }
}
