using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.Sessions;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests.Sessions;

/// <summary>The engine loaded the way a host loads it (pack + VAD), shared by the session tests.</summary>
public sealed class EngineFixture : IDisposable
{
    public VoiceAgentEngine Engine { get; } = VoiceAgentEngine.Load();

    public void Dispose() => Engine.Dispose();
}

[CollectionDefinition(Name)]
public sealed class EngineCollection : ICollectionFixture<EngineFixture>, ICollectionFixture<PackFixture>
{
    public const string Name = "engine";
}

[Collection(EngineCollection.Name)]
public sealed class VoiceSessionTests(EngineFixture engineFixture, PackFixture pack)
{
    private VoiceAgentEngine Engine => engineFixture.Engine;

    [Theory]
    [InlineData(0, 16000)]
    [InlineData(1, 16000)]
    [InlineData(0, 48000)]
    public async Task Whole_session_path_reproduces_the_golden_reply(int index, int inputRate)
    {
        var c = EngineTestSupport.E2eCases(pack)[index];
        var pcm = GoldenTensor.F32(c.GetProperty("pcm"));
        var options = EngineTestSupport.GoldenOptions(pack, c);
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            InputSampleRate = inputRate,
            Mode = options.Mode,
            MaxNewTokens = options.MaxNewTokens,
            AutoCommit = false,
            VadGatesEncoder = false,
        });

        // Pushed in 20 ms pieces like a live caller; at 48 kHz the session resamples back to 16 kHz first.
        var input = inputRate == 16000 ? pcm : Resampler.Resample(pcm, 16000, inputRate);
        var piece = inputRate / 50;
        for (var i = 0; i < input.Length; i += piece)
        {
            session.PushAudio(input.AsSpan(i, Math.Min(piece, input.Length - i)));
        }

        Assert.True(session.CommitTurn());
        var outcome = await SessionDriver.CollectTurnAsync(session);

        if (inputRate == 16000)
        {
            Assert.Equal(c.GetProperty("user_transcript").GetString(), outcome.Transcript);
            Assert.Equal(c.GetProperty("reply_text").GetString(), outcome.ReplyText);
            var words = outcome.Events.Where(e => e.Kind == SessionEventKind.ReplyTextDelta).Select(e => e.Text).ToList();
            Assert.Equal(outcome.ReplyText, string.Concat(words));
        }
        else
        {
            // Resampling changes the samples, so only the structure is fixed: a reply came back.
            Assert.NotNull(outcome.ReplyText);
        }

        Assert.NotNull(outcome.Latency);
        Assert.True(outcome.Latency!.TotalMs > 0);
        Assert.True(outcome.Latency.EncoderTailMs >= 0);
        if (options.Mode == OutputMode.TextOnly)
        {
            Assert.Empty(outcome.Audio);
            Assert.Null(outcome.Latency.FirstAudioFrameMs);
        }
    }

    [Fact]
    public async Task Text_only_mode_runs_no_audio_stage_and_ends_on_text_eos()
    {
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextOnly);
        var pcm = GoldenTensor.F32(c.GetProperty("pcm"));
        var golden = EngineTestSupport.GoldenOptions(pack, c);
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            Mode = OutputMode.TextOnly,
            MaxNewTokens = golden.MaxNewTokens,
            AutoCommit = false,
            VadGatesEncoder = false,
        });
        session.PushAudio(pcm);
        session.CommitTurn();
        var outcome = await SessionDriver.CollectTurnAsync(session);

        Assert.Equal(c.GetProperty("reply_text").GetString(), outcome.ReplyText);
        Assert.Empty(outcome.Audio);
        Assert.DoesNotContain(outcome.Events, e => e.Kind is SessionEventKind.ReplyAudioStarted or SessionEventKind.ReplyAudioEnded);
        Assert.Null(outcome.Latency!.FirstAudioTokenMs);
    }

    [Fact]
    public async Task Vad_commits_turns_by_itself_and_each_turn_gets_a_reply()
    {
        var c = EngineTestSupport.E2eCases(pack)[0];
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            Mode = OutputMode.TextOnly,
            MaxNewTokens = 24,
            SemanticEndOfTurn = new SemanticEndOfTurnOptions { Enabled = false }, // the silence hangover alone
        });
        var silence = new float[16000];

        // silence, question, silence (the VAD commits), question again, silence.
        session.PushAudio(silence);
        session.PushAudio(speech);
        session.PushAudio(silence);
        var first = await SessionDriver.CollectTurnAsync(session);
        session.PushAudio(speech);
        session.PushAudio(silence);
        var second = await SessionDriver.CollectTurnAsync(session);

        Assert.Equal(2, session.TurnCount);
        Assert.Contains(first.Events, e => e.Kind == SessionEventKind.SpeechStarted);
        Assert.Contains(first.Events, e => e.Kind == SessionEventKind.SpeechEnded);
        Assert.True(first.Latency!.VadCommitMs >= session.Options.Vad.MinSilenceMs - 40, $"vad_commit {first.Latency.VadCommitMs} ms");
        Assert.NotNull(second.Latency);
        Assert.Equal(2, second.TurnId);
    }

    [Fact]
    public async Task A_decoder_sure_of_its_reply_ends_the_turn_at_a_short_pause_before_the_hangover()
    {
        var c = EngineTestSupport.E2eCases(pack)[0];
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        var silence = new float[16000];

        async Task<SessionDriver.TurnOutcome> Converse(SemanticEndOfTurnOptions endOfTurn)
        {
            await using var session = Engine.OpenSession(new VoiceSessionOptions { Mode = OutputMode.TextOnly, MaxNewTokens = 24, SemanticEndOfTurn = endOfTurn });
            session.PushAudio(silence.AsSpan(0, 8000));
            session.PushAudio(speech);
            for (var i = 0; i < silence.Length; i += 320)
            {
                session.PushAudio(silence.AsSpan(i, 320)); // 20 ms frames, as a live caller: the check runs between them
            }

            return await SessionDriver.CollectTurnAsync(session);
        }

        // A bar any started reply clears: the first check (ProbeSilenceMs, 160 ms, into the pause) ends the turn.
        var eager = await Converse(new SemanticEndOfTurnOptions { MinConfidence = 1e-6, FinalMinConfidence = 1e-6 });
        var vadOnly = await Converse(new SemanticEndOfTurnOptions { Enabled = false });
        var unreachable = await Converse(new SemanticEndOfTurnOptions { MinConfidence = 1, FinalMinConfidence = 1 });

        Assert.Equal("semantic", eager.Latency!.EndOfTurn);
        Assert.Equal("silence", vadOnly.Latency!.EndOfTurn);
        Assert.Equal("silence", unreachable.Latency!.EndOfTurn);
        var hangover = new VoiceSessionOptions().Vad.MinSilenceMs;
        Assert.True(vadOnly.Latency.VadCommitMs >= hangover - 40, $"silence end after {vadOnly.Latency.VadCommitMs} ms");
        Assert.True(eager.Latency.VadCommitMs <= vadOnly.Latency.VadCommitMs - 200, $"semantic end after {eager.Latency.VadCommitMs} ms, silence end after {vadOnly.Latency.VadCommitMs} ms");
        Assert.Contains(eager.Events, e => e.Kind == SessionEventKind.SpeechEnded);
        Assert.NotNull(eager.ReplyText);
    }

    [Fact]
    public async Task Context_is_trimmed_to_the_cap_across_many_turns()
    {
        var c = EngineTestSupport.E2eCases(pack)[0];
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            Mode = OutputMode.TextOnly,
            MaxNewTokens = 40,
            MaxContextPositions = 256,
            KeepTurnsOnTrim = 1,
            MaxHistoryTurns = int.MaxValue, // only the position cap limits the context here
            AutoCommit = false,
            VadGatesEncoder = false,
        });

        await SessionDriver.SpeakTurnsAsync(session, speech, 6, turn =>
            Assert.True(session.DecoderLength <= 256, $"turn {turn}: context holds {session.DecoderLength} positions, cap 256"));

        Assert.Equal(6, session.TurnCount);
    }

    [Fact]
    public async Task With_the_packs_history_of_no_turns_a_later_turn_is_answered_as_a_first_one()
    {
        // The demo pack's decoder answers worse with earlier turns in context (stream.history_turns = 0), so the
        // session forgets each turn once it is answered: the second turn of a call gets the first turn's answer.
        Assert.Equal(0, pack.Pack.Manifest.Stream!.HistoryTurns);
        var cases = EngineTestSupport.E2eCases(pack);
        var first = GoldenTensor.F32(cases[0].GetProperty("pcm"));
        var second = GoldenTensor.F32(cases[1].GetProperty("pcm"));
        var options = new VoiceSessionOptions { Mode = OutputMode.TextOnly, MaxNewTokens = 40, AutoCommit = false, VadGatesEncoder = false };

        await using var call = Engine.OpenSession(options);
        call.PushAudio(first);
        Assert.True(call.CommitTurn());
        await SessionDriver.CollectTurnAsync(call, turnId: 1);
        Assert.Equal(0, call.DecoderLength);
        call.PushAudio(second);
        Assert.True(call.CommitTurn());
        var later = await SessionDriver.CollectTurnAsync(call, turnId: 2);

        await using var fresh = Engine.OpenSession(options);
        fresh.PushAudio(second);
        Assert.True(fresh.CommitTurn());
        var alone = await SessionDriver.CollectTurnAsync(fresh, turnId: 1);

        Assert.False(string.IsNullOrEmpty(alone.ReplyText));
        Assert.Equal(alone.ReplyText, later.ReplyText);
    }

    [Fact]
    public async Task A_history_of_one_turn_keeps_the_last_answered_turn_only()
    {
        var c = EngineTestSupport.E2eCases(pack)[0];
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            Mode = OutputMode.TextOnly,
            MaxNewTokens = 40,
            AutoCommit = false,
            VadGatesEncoder = false,
            MaxHistoryTurns = 1,
        });

        var promptLength = GoldenTensor.I64(c.GetProperty("prompt_text_ids")).Length;
        await SessionDriver.SpeakTurnsAsync(session, speech, 4, _ =>
        {
            // The turn just answered, from its user_msg_start (the previous reply's closing position went with that
            // reply): its prompt and at most MaxNewTokens reply positions.
            Assert.Equal(1, session.DecoderTurnCount);
            Assert.InRange(session.DecoderLength, promptLength + 1, promptLength + 40);
        });
    }

    [Fact]
    public async Task A_resampled_caller_can_commit_turn_after_turn()
    {
        // At 8 kHz the session resamples its input; a commit flushes the resampler, and the next turn's audio (or a
        // frame a transport delivers just after the commit) must start a new stream, not end the session.
        var c = EngineTestSupport.E2eCases(pack)[0];
        var speech = Resampler.Resample(GoldenTensor.F32(c.GetProperty("pcm")), 16000, 8000);
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            InputSampleRate = 8000,
            Mode = OutputMode.TextOnly,
            MaxNewTokens = 40,
            AutoCommit = false,
            VadGatesEncoder = false,
        });

        for (var turn = 0; turn < 2; turn++)
        {
            session.PushAudio(speech);
            Assert.True(session.CommitTurn());
            var outcome = await SessionDriver.CollectTurnAsync(session);
            Assert.DoesNotContain(outcome.Events, e => e.Kind == SessionEventKind.Error);
            Assert.NotNull(outcome.ReplyText);
        }

        Assert.Equal(2, session.TurnCount);
    }

    [Fact]
    public void Invalid_options_are_rejected_with_the_setting_named()
    {
        var ex = Assert.Throws<ArgumentException>(() => Engine.OpenSession(new VoiceSessionOptions { InputSampleRate = 11025 }));
        Assert.Contains("InputSampleRate", ex.Message, StringComparison.Ordinal);
        ex = Assert.Throws<ArgumentException>(() => Engine.OpenSession(new VoiceSessionOptions { OutputFrameMs = 5 }));
        Assert.Contains("OutputFrameMs", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_session_refuses_audio_and_the_engine_counts_sessions()
    {
        var before = Engine.ActiveSessions;
        var session = Engine.OpenSession(new VoiceSessionOptions { Mode = OutputMode.TextOnly });
        Assert.Equal(before + 1, Engine.ActiveSessions);
        session.Dispose();
        Assert.Equal(before, Engine.ActiveSessions);
        Assert.Throws<ObjectDisposedException>(() => session.PushAudio(new float[320]));
        session.Dispose(); // idempotent
        Assert.Equal(before, Engine.ActiveSessions);
    }

    [Fact]
    public async Task Sessions_on_many_threads_share_the_graphs_and_agree_with_one_session_alone()
    {
        var c = EngineTestSupport.E2eCases(pack)[1];
        var pcm = GoldenTensor.F32(c.GetProperty("pcm"));
        var golden = EngineTestSupport.GoldenOptions(pack, c);

        async Task<string?> RunOne()
        {
            await using var session = Engine.OpenSession(new VoiceSessionOptions
            {
                Mode = OutputMode.TextOnly,
                MaxNewTokens = golden.MaxNewTokens,
                AutoCommit = false,
                VadGatesEncoder = false,
            });
            for (var i = 0; i < pcm.Length; i += 320)
            {
                session.PushAudio(pcm.AsSpan(i, Math.Min(320, pcm.Length - i)));
            }

            session.CommitTurn();
            return (await SessionDriver.CollectTurnAsync(session)).ReplyText;
        }

        var alone = await RunOne();
        var together = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(RunOne)));
        Assert.All(together, text => Assert.Equal(alone, text));
    }
}

/// <summary>Reads one turn's worth of a session's output, as a transport would.</summary>
internal static class SessionDriver
{
    public sealed record TurnOutcome(int TurnId, string? Transcript, string? ReplyText, TurnLatency? Latency, List<SessionEvent> Events, List<float> Audio);

    /// <summary>
    /// Speaks the clip as that many manually committed turns in a row; each must be answered without an error, then
    /// the check runs on the session (given the 0-based turn).
    /// </summary>
    public static async Task SpeakTurnsAsync(VoiceSession session, float[] speech, int turns, Action<int> afterEach)
    {
        for (var turn = 0; turn < turns; turn++)
        {
            session.PushAudio(speech);
            Assert.True(session.CommitTurn());
            var outcome = await CollectTurnAsync(session, turnId: session.TurnCount);
            Assert.DoesNotContain(outcome.Events, e => e.Kind == SessionEventKind.Error);
            afterEach(turn);
        }
    }

    /// <summary>Waits for the turn's latency event (the last event of a reply), reading audio and events meanwhile.</summary>
    /// <param name="session">The session.</param>
    /// <param name="turnId">When set, events of other turns (e.g. an interrupted one's late latency event) are skipped.</param>
    /// <param name="timeout">Give up after this long (default 60 s).</param>
    public static async Task<TurnOutcome> CollectTurnAsync(VoiceSession session, int? turnId = null, TimeSpan? timeout = null)
    {
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        var events = new List<SessionEvent>();
        var audio = new List<float>();
        var audioTask = Task.Run(async () =>
        {
            try
            {
                while (await session.Audio.WaitToReadAsync(cts.Token))
                {
                    while (session.Audio.TryRead(out var frame))
                    {
                        lock (audio)
                        {
                            audio.AddRange(frame.Samples.Span);
                        }

                        frame.Dispose();
                    }
                }
            }
            catch (OperationCanceledException)
            {
                // The turn is over; stop reading.
            }
        });

        SessionEvent? latency = null;
        while (latency is null)
        {
            var e = await session.Events.ReadAsync(cts.Token);
            if (turnId is { } wanted && e.TurnId != wanted)
            {
                continue;
            }

            events.Add(e);
            if (e.Kind == SessionEventKind.TurnLatency)
            {
                latency = e;
            }
            else if (e.Kind == SessionEventKind.Error)
            {
                throw new InvalidOperationException($"session error {e.Code}: {e.Text}");
            }
        }

        await session.WhenRepliesDone;
        await cts.CancelAsync();
        await audioTask;
        return new TurnOutcome(
            latency.TurnId,
            events.LastOrDefault(e => e.Kind == SessionEventKind.UserTranscript)?.Text,
            events.LastOrDefault(e => e.Kind == SessionEventKind.ReplyDone)?.Text,
            latency.Latency,
            events,
            audio);
    }
}
