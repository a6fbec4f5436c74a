using VoiceAgent.StreamingEngine.Sessions;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests.Sessions;

[Collection(EngineCollection.Name)]
public sealed class BargeInTests(EngineFixture engineFixture, PackFixture pack)
{
    private VoiceAgentEngine Engine => engineFixture.Engine;

    [Fact]
    public async Task Caller_speech_during_the_reply_stops_it_drops_queued_audio_and_keeps_only_what_was_heard()
    {
        var (speech, promptLength) = SpokenCase();
        await using var session = OpenInterruptibleSession();
        session.PushAudio(speech);
        Assert.True(session.CommitTurn());

        // Wait for the reply's audio, then "play" exactly 12 frames (240 ms) of it.
        await WaitForEventAsync(session, SessionEventKind.ReplyAudioStarted);
        var played = 0;
        while (played < 12)
        {
            Assert.True(await session.Audio.WaitToReadAsync());
            if (session.Audio.TryRead(out var frame))
            {
                Assert.Equal(1, frame.TurnId);
                played++;
                frame.Dispose();
            }
        }

        // Let generation run ahead so audio is queued, then the caller speaks over it.
        await WaitUntilAsync(() => session.Audio.Count >= 10);
        var bargeIn = await SpeakUntilAsync(session, speech, SessionEventKind.BargeIn);

        Assert.Equal(240, bargeIn.AudioMs);
        Assert.False(session.Audio.TryRead(out _), "audio of the interrupted reply was still queued after the barge-in");

        // Only the heard part stays in context: the prompt, D delayed positions and ceil(240 / 80) = 3 code positions.
        await session.WhenRepliesDone;
        var expected = promptLength + pack.Pack.Tokens.AudioDelay + 3;
        Assert.Equal(expected, session.DecoderLength);

        // The caller's new speech is the next turn, and it gets a reply.
        Assert.True(session.CommitTurn());
        var next = await SessionDriver.CollectTurnAsync(session, turnId: 2);
        Assert.Equal(2, next.TurnId);
        Assert.NotEmpty(next.Audio);
    }

    [Fact]
    public async Task A_barge_in_after_the_history_was_trimmed_keeps_what_was_heard_at_the_replys_new_place()
    {
        // The history is trimmed as soon as a reply is generated, while its audio is still queued; a barge-in on that
        // audio must then shorten the reply where the trim moved it, not at its old positions.
        var (speech, promptLength) = SpokenCase();
        await using var session = OpenInterruptibleSession();
        session.PushAudio(speech);
        Assert.True(session.CommitTurn());
        var first = await SessionDriver.CollectTurnAsync(session, turnId: 1);
        Assert.NotEmpty(first.Audio);
        var oneTurn = session.DecoderLength;

        session.PushAudio(speech);
        Assert.True(session.CommitTurn());
        await WaitForEventAsync(session, SessionEventKind.ReplyDone); // generated and queued: the first turn is dropped
        var played = 0;
        while (played < 12 && session.Audio.TryRead(out var frame))
        {
            Assert.Equal(2, frame.TurnId);
            played++;
            frame.Dispose();
        }

        Assert.Equal(12, played);
        await session.WhenRepliesDone;
        Assert.Equal(oneTurn, session.DecoderLength); // the second turn alone (same speech, same reply), at the front
        var bargeIn = await SpeakUntilAsync(session, speech, SessionEventKind.BargeIn);
        Assert.Equal(240, bargeIn.AudioMs);

        await session.WhenRepliesDone;
        Assert.Equal(promptLength + pack.Pack.Tokens.AudioDelay + 3, session.DecoderLength);
        Assert.True(session.CommitTurn());
        var next = await SessionDriver.CollectTurnAsync(session, turnId: 3);
        Assert.NotEmpty(next.Audio);
    }

    [Fact]
    public async Task A_cancelled_reply_is_done_only_once_its_audio_worker_has_stopped()
    {
        // The next reply resets and reuses the session's audio stages (detokenizer, vocoder) and disposal frees them:
        // neither may happen while the cancelled reply's audio worker is still running a chunk through them.
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextAndAudio);
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            AutoCommit = false,
            VadGatesEncoder = false,
            MaxNewTokens = 120,
            AudioQueueFrames = 512, // nothing reads the audio: the worker never waits, so a cancel finds it busy
        });

        for (var turn = 1; turn <= 6; turn++)
        {
            session.PushAudio(speech);
            Assert.True(session.CommitTurn());
            var started = await WaitForEventAsync(session, SessionEventKind.ReplyAudioStarted);
            Assert.Equal(turn, started.TurnId);
            session.CancelReply();
            await session.WhenRepliesDone;
            Assert.Equal(0, session.ActiveSpeechWorkers);
        }

        while (session.Events.TryRead(out var e))
        {
            Assert.NotEqual(SessionEventKind.Error, e.Kind);
        }
    }

    [Fact]
    public async Task Speech_that_began_over_the_replys_last_frames_is_a_barge_in_even_when_the_vad_confirms_it_later()
    {
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextAndAudio);
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));

        // Where, in 20 ms pieces of the second utterance, the VAD places the caller's onset and when it confirms it.
        int onsetPiece, confirmPiece;
        await using (var probe = await RepliedSessionAsync(speech))
        {
            (onsetPiece, confirmPiece, _) = await PushUntilSpeechStartedAsync(probe, speech, readFramePerPiece: false);
        }

        Assert.True(confirmPiece - onsetPiece >= 2, $"the VAD confirmed speech {confirmPiece - onsetPiece} pieces after its onset");

        // The far end plays one frame per piece: the reply's last frame leaves after the onset, before the confirmation.
        await using var session = await RepliedSessionAsync(speech);
        var replyFrames = session.Audio.Count;
        var tail = ((onsetPiece + confirmPiece) / 2) + 1;
        Assert.True(replyFrames > tail, $"the reply has only {replyFrames} frames");
        while (session.Audio.Count > tail && session.Audio.TryRead(out var frame))
        {
            frame.Dispose();
        }

        var (_, confirmedAt, seen) = await PushUntilSpeechStartedAsync(session, speech, readFramePerPiece: true);
        Assert.Equal(confirmPiece, confirmedAt);
        Assert.Equal(0, session.Audio.Count);
        var bargeIn = Assert.Single(seen, e => e.Kind == SessionEventKind.BargeIn);
        Assert.Equal(replyFrames * session.Options.OutputFrameMs, bargeIn.AudioMs);

        // Control: the reply had wholly left before the caller spoke, so the same speech is a new turn, not a barge-in.
        await using var quiet = await RepliedSessionAsync(speech);
        while (quiet.Audio.TryRead(out var frame))
        {
            frame.Dispose();
        }

        var (_, _, heard) = await PushUntilSpeechStartedAsync(quiet, speech, readFramePerPiece: false);
        Assert.DoesNotContain(heard, e => e.Kind == SessionEventKind.BargeIn);

        async Task<VoiceSession> RepliedSessionAsync(float[] pcm)
        {
            var s = Engine.OpenSession(new VoiceSessionOptions { AutoCommit = false, VadGatesEncoder = false, MaxNewTokens = 120, AudioQueueFrames = 512 });
            s.PushAudio(pcm);
            Assert.True(s.CommitTurn());
            await s.WhenRepliesDone; // every frame of the reply is queued, none read
            while (s.Events.TryRead(out _))
            {
            }

            return s;
        }
    }

    /// <summary>
    /// Pushes <paramref name="speech"/> (16 kHz) in 20 ms pieces after the first utterance (the same speech) until the
    /// session reports SpeechStarted; returns the piece its onset falls in, the piece after which it was reported and
    /// the events up to it (a barge-in comes just before). Optionally reads one reply frame after each piece, as a far
    /// end playing in real time.
    /// </summary>
    private static async Task<(int Onset, int Confirmed, List<SessionEvent> Events)> PushUntilSpeechStartedAsync(VoiceSession session, float[] speech, bool readFramePerPiece)
    {
        const int piece = 320;
        var baseMs = speech.Length / 16L;
        var events = new List<SessionEvent>();
        for (var i = 0; i * piece < speech.Length; i++)
        {
            session.PushAudio(speech.AsSpan(i * piece, Math.Min(piece, speech.Length - (i * piece))));
            if (readFramePerPiece && session.Audio.TryRead(out var frame))
            {
                frame.Dispose();
            }

            while (session.Events.TryRead(out var e))
            {
                events.Add(e);
                if (e.Kind == SessionEventKind.SpeechStarted)
                {
                    return ((int)((e.TimeMs!.Value - baseMs) / 20), i, events);
                }
            }

            await Task.Yield();
        }

        throw new Xunit.Sdk.XunitException("the VAD never confirmed the caller's speech");
    }

    [Theory]
    [InlineData(false, "silence")]
    [InlineData(true, "semantic")]
    public async Task A_turn_that_interrupts_the_agent_ends_by_silence_unless_allowed_otherwise(bool afterBargeIn, string expected)
    {
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextAndAudio);
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            MaxNewTokens = 120,
            AudioQueueFrames = 512,

            // A bar every started reply clears, so only the barge-in rule can make the second turn wait.
            SemanticEndOfTurn = new SemanticEndOfTurnOptions { MinConfidence = 1e-6, FinalMinConfidence = 1e-6, AfterBargeIn = afterBargeIn },
        });
        PushFrames(session, speech);
        PushFrames(session, new float[8000]);
        await WaitForEventAsync(session, SessionEventKind.ReplyAudioStarted); // turn 1 replies; nobody reads its audio

        PushFrames(session, speech); // speaks over the queued reply: a barge-in, then the second turn
        PushFrames(session, new float[16000]);
        var second = await SessionDriver.CollectTurnAsync(session, turnId: 2);

        Assert.Equal(expected, second.Latency!.EndOfTurn);
        var hangover = session.Options.Vad.MinSilenceMs;
        if (afterBargeIn)
        {
            Assert.True(second.Latency.VadCommitMs < hangover - 200, $"ended {second.Latency.VadCommitMs} ms into the pause");
        }
        else
        {
            Assert.True(second.Latency.VadCommitMs >= hangover - 40, $"ended {second.Latency.VadCommitMs} ms into the pause");
        }
    }

    [Theory]
    [InlineData(1000, 300, true)]   // the caller goes on 300 ms after the early end: one turn
    [InlineData(0, 300, false)]     // resuming off: the second part is a turn of its own
    [InlineData(1000, 1500, false)] // 1.5 s later: a new turn (the reply is still queued, so it is still a barge-in)
    public async Task Speech_right_after_an_early_end_of_turn_continues_that_turn(int resumeWithinMs, int gapMs, bool resumes)
    {
        // "when are you open", clean, without the clip's own leading and trailing silence (it would lengthen the gap).
        var clip = EngineTestSupport.E2eCases(pack).First(e => e.GetProperty("user_text").GetString() == "when are you open");
        var speech = Voiced(GoldenTensor.F32(clip.GetProperty("pcm")));
        await using var session = Engine.OpenSession(new VoiceSessionOptions
        {
            MaxNewTokens = 120,
            AudioQueueFrames = 512,

            // A bar every started reply clears: the first check, 160 ms into the pause, ends the turn.
            SemanticEndOfTurn = new SemanticEndOfTurnOptions { MinConfidence = 1e-6, FinalMinConfidence = 1e-6, ResumeWithinMs = resumeWithinMs },
        });
        PushFrames(session, new float[4800]);
        PushFrames(session, speech);
        PushFrames(session, new float[16 * gapMs]);
        PushFrames(session, speech); // nobody reads turn 1's reply, so this interrupts it
        PushFrames(session, new float[16000]);
        var second = await SessionDriver.CollectTurnAsync(session, turnId: 2);

        // Turn 2 hears the clip twice when it resumed turn 1 ("wen are yu open quane m open"), else once; either way
        // it is answered.
        var opens = second.Transcript!.Split(' ').Count(w => w == "open");
        Assert.True(opens == (resumes ? 2 : 1), $"turn 2 heard '{second.Transcript}'");
        Assert.Equal("silence", second.Latency!.EndOfTurn); // a turn that began by interrupting ends by silence
        Assert.NotNull(second.ReplyText);
        Assert.Equal(2, session.TurnCount);
    }

    [Fact]
    public async Task Text_and_audio_turn_reports_all_six_latency_figures_in_order()
    {
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextAndAudio);
        var speech = GoldenTensor.F32(c.GetProperty("pcm"));
        await using var session = Engine.OpenSession(new VoiceSessionOptions { AutoCommit = false, VadGatesEncoder = false, MaxNewTokens = 60 });
        session.PushAudio(speech);
        session.CommitTurn();
        var outcome = await SessionDriver.CollectTurnAsync(session);

        var l = outcome.Latency!;
        Assert.NotNull(l.FirstAudioTokenMs);
        Assert.NotNull(l.FirstAudioFrameMs);
        Assert.True(l.FirstAudioTokenMs <= l.FirstAudioFrameMs, $"first audio token {l.FirstAudioTokenMs} ms after first frame {l.FirstAudioFrameMs} ms");
        Assert.True(l.FirstAudioFrameMs <= l.TotalMs);
        Assert.NotEmpty(outcome.Audio);

        // The frames carry exactly the audio the reply-audio-ended event announced.
        var ended = outcome.Events.Single(e => e.Kind == SessionEventKind.ReplyAudioEnded);
        Assert.Equal(ended.AudioMs, (long)Math.Round(outcome.Audio.Count * 1000.0 / session.Options.OutputSampleRate));
    }

    /// <summary>The golden text-and-audio case: its speech and its prompt's length in positions.</summary>
    private (float[] Speech, int PromptLength) SpokenCase()
    {
        var c = EngineTestSupport.E2eCases(pack).First(e => EngineTestSupport.Mode(e) == OutputMode.TextAndAudio);
        return (GoldenTensor.F32(c.GetProperty("pcm")), GoldenTensor.I64(c.GetProperty("prompt_text_ids")).Length);
    }

    /// <summary>
    /// A manually committed session whose replies queue far ahead (so there is audio to interrupt) and whose current
    /// turn stays in context after its reply (the demo pack keeps none), so what a barge-in keeps can be counted.
    /// </summary>
    private VoiceSession OpenInterruptibleSession() => Engine.OpenSession(new VoiceSessionOptions
    {
        AutoCommit = false,
        VadGatesEncoder = false,
        MaxNewTokens = 120,
        AudioQueueFrames = 512,
        MaxHistoryTurns = 1,
    });

    /// <summary>The clip from its first to its last sample above -34 dBFS.</summary>
    private static float[] Voiced(float[] pcm)
    {
        var first = Array.FindIndex(pcm, x => Math.Abs(x) > 0.02f);
        var last = Array.FindLastIndex(pcm, x => Math.Abs(x) > 0.02f);
        return pcm[first..(last + 1)];
    }

    /// <summary>Pushes in 20 ms frames, as a live caller: the VAD and the end-of-turn check run between them.</summary>
    private static void PushFrames(VoiceSession session, float[] pcm)
    {
        for (var i = 0; i < pcm.Length; i += 320)
        {
            session.PushAudio(pcm.AsSpan(i, Math.Min(320, pcm.Length - i)));
        }
    }

    private static async Task<SessionEvent> WaitForEventAsync(VoiceSession session, SessionEventKind kind)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (true)
        {
            var e = await session.Events.ReadAsync(cts.Token);
            if (e.Kind == kind)
            {
                return e;
            }
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out");
            await Task.Delay(10);
        }
    }

    /// <summary>Pushes speech in 20 ms pieces (as a live caller) until <paramref name="kind"/> is emitted.</summary>
    private static async Task<SessionEvent> SpeakUntilAsync(VoiceSession session, float[] speech, SessionEventKind kind)
    {
        for (var i = 0; i < speech.Length; i += 320)
        {
            session.PushAudio(speech.AsSpan(i, Math.Min(320, speech.Length - i)));
            while (session.Events.TryRead(out var e))
            {
                if (e.Kind == kind)
                {
                    // Push the rest of the utterance so the next turn holds all of it.
                    for (var j = i + 320; j < speech.Length; j += 320)
                    {
                        session.PushAudio(speech.AsSpan(j, Math.Min(320, speech.Length - j)));
                    }

                    return e;
                }
            }

            await Task.Yield();
        }

        throw new Xunit.Sdk.XunitException($"no {kind} event while the caller spoke");
    }
}
