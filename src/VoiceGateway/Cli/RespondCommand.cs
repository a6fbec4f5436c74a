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
/// through the same engine path a live caller takes (resampler → VAD → encoder → decoder → detokenizer → vocoder);
/// the end of the file ends the turn.
/// </summary>
internal static class RespondCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, new HashSet<string> { "--input", "--output", "--output-dir", "--pack", "--mode" }, new HashSet<string> { "--json" });
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

        var mode = options.Single("--mode") switch
        {
            null or "audio" => OutputMode.TextAndAudio,
            "text" => OutputMode.TextOnly,
            var other => throw new CliException($"option '--mode' must be 'audio' or 'text', got '{other}'."),
        };

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
        for (var i = 0; i < clips.Count; i++)
        {
            var (path, clip) = clips[i];
            var target = single ?? Path.Combine(directory!, UniqueName(path, i, clips));
            var result = await RespondOnceAsync(engine, clip, mode, cancellationToken).ConfigureAwait(false);
            WavFile.WritePcm16(target, result.Audio, result.SampleRate);
            if (json)
            {
                await output.WriteLineAsync(JsonSerializer.Serialize(new RespondLine(path, target, result.Text, Math.Round(result.AudioMs, 1), result.Timings), JsonOptions)).ConfigureAwait(false);
            }
            else
            {
                await output.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"{path}: \"{result.Text}\" → {target} ({result.AudioMs:F0} ms of audio, first packet {result.Timings.FirstAudioFrame?.ToString("F1", CultureInfo.InvariantCulture) ?? "-"} ms)")).ConfigureAwait(false);
            }
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

    private static async Task<RespondResult> RespondOnceAsync(VoiceAgentEngine engine, AudioClip clip, OutputMode mode, CancellationToken cancellationToken)
    {
        var outputRate = 16000;
        await using var session = engine.OpenSession(new VoiceSessionOptions
        {
            InputSampleRate = clip.SampleRate,
            OutputSampleRate = outputRate,
            Mode = mode,
            AutoCommit = false,
            BargeInEnabled = false,
        });

        session.PushAudio(clip.Samples);
        if (!session.CommitTurn())
        {
            throw new CliException("no speech was detected in the input.");
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

        string text = string.Empty;
        TurnLatency? latency = null;
        string? error = null;
        while (session.Events.TryRead(out var e))
        {
            switch (e.Kind)
            {
                case SessionEventKind.ReplyDone:
                    text = e.Text ?? string.Empty;
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
            throw new CliException(error, 4);
        }

        var samples = audio.ToArray();
        return new RespondResult(text, samples, outputRate, 1000.0 * samples.Length / outputRate, Timings.From(latency));
    }

    private sealed record RespondResult(string Text, float[] Audio, int SampleRate, double AudioMs, Timings Timings);

    private sealed record RespondLine(
        [property: JsonPropertyName("input")] string Input,
        [property: JsonPropertyName("output")] string Output,
        [property: JsonPropertyName("reply_text")] string ReplyText,
        [property: JsonPropertyName("audio_ms")] double AudioMs,
        [property: JsonPropertyName("timings_ms")] Timings TimingsMs);

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
