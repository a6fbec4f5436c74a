using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class MultiTurnTests(PackFixture fixture)
{
    private static ReplyOptions Short(OutputMode mode) => new() { Mode = mode, MaxNewTokens = 40 };

    [Fact]
    public void Second_turn_prefill_starts_with_the_closing_position()
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        var turn1 = EngineTestSupport.GoldenTurn(fixture, cases[0]);
        var turn2 = EngineTestSupport.GoldenTurn(fixture, cases[1]);
        var t = fixture.Pack.Tokens;
        using var state = fixture.Decoder.CreateState();

        var r1 = fixture.Generator.Generate(state, turn1, EngineTestSupport.GoldenOptions(fixture, cases[0]));
        Assert.Equal(GoldenTensor.I64(cases[0].GetProperty("generated_text_ids")), r1.GeneratedTextIds);
        var afterTurn1 = state.Length;
        Assert.True(state.ClosingPending);

        var r2 = fixture.Generator.Generate(state, turn2, Short(OutputMode.TextOnly));
        var golden2 = GoldenTensor.I64(cases[1].GetProperty("prompt_audio_ids"));
        Assert.Equal(golden2.Length + 1, r2.Prompt.Length);
        Assert.Equal(t.TextBlank, r2.Prompt.TextIds[0]);
        Assert.Equal(t.MsgEnd, r2.Prompt.AudioIds[0]);
        Assert.Equal(golden2, r2.Prompt.AudioIds[1..]);
        Assert.Equal(0f, r2.Prompt.FeatureMask[0]);
        Assert.Equal(new[] { 0, afterTurn1 + 1 }, state.TurnStarts);
        Assert.Equal(afterTurn1, r2.CheckpointBeforeTurn.Length);
        Assert.Equal(afterTurn1 + r2.Prompt.Length, r2.CheckpointAfterPrompt.Length);

        // The cache history is prompt 1, the fed pairs of reply 1, closing 1 + prompt 2, the fed pairs of reply 2.
        var expectedAudio = new List<long>(r1.Prompt.AudioIds);
        expectedAudio.AddRange(r1.GeneratedAudioIds.Take(FedCount(r1)));
        expectedAudio.AddRange(r2.Prompt.AudioIds);
        expectedAudio.AddRange(r2.GeneratedAudioIds.Take(FedCount(r2)));
        Assert.Equal(expectedAudio, state.HistoryAudioIds.ToArray());

        // And the cache built step by step equals one prefill of that whole history (within tolerance).
        var last = state.TextLogits.ToArray();
        using var fresh = fixture.Decoder.CreateState();
        var all = state.GetHistory(0, state.Length);
        var logits = fresh.Prefill(all.TextIds, all.AudioIds, all.Features, all.FeatureMask);
        GoldenTensor.Near(last, logits.Text, fixture.Tol, "incremental vs whole-history prefill");
    }

    [Fact]
    public void The_end_of_turn_check_leaves_the_conversation_as_it_found_it()
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        var turn1 = EngineTestSupport.GoldenTurn(fixture, cases[0]);
        var turn2 = EngineTestSupport.GoldenTurn(fixture, cases[1]);
        using var checkedState = fixture.Decoder.CreateState();
        using var plain = fixture.Decoder.CreateState();
        fixture.Generator.Generate(checkedState, turn1, Short(OutputMode.TextAndAudio));
        fixture.Generator.Generate(plain, turn1, Short(OutputMode.TextAndAudio));
        var before = checkedState.CreateCheckpoint();

        var estimate = fixture.Generator.EstimateCompletion(checkedState, turn2, OutputMode.TextAndAudio, words: 2);

        // The check read the decoder's own greedy start of the reply (the same words it then generates) ...
        Assert.InRange(estimate.Confidence, 1e-9, 1.0);
        Assert.Equal(2, estimate.Words);
        Assert.Equal(before, checkedState.CreateCheckpoint());
        Assert.Equal(plain.HistoryAudioIds.ToArray(), checkedState.HistoryAudioIds.ToArray());
        var afterCheck = fixture.Generator.Generate(checkedState, turn2, Short(OutputMode.TextAndAudio));
        var unchecked_ = fixture.Generator.Generate(plain, turn2, Short(OutputMode.TextAndAudio));
        Assert.Equal(fixture.Pack.TextVocabulary!.GetWord(unchecked_.TextIds[0]), estimate.FirstWord);

        // ... and left no trace: the reply after it is the reply without it, position for position.
        Assert.Equal(unchecked_.GeneratedTextIds, afterCheck.GeneratedTextIds);
        Assert.Equal(unchecked_.GeneratedAudioIds, afterCheck.GeneratedAudioIds);
        Assert.Equal(plain.HistoryAudioIds.ToArray(), checkedState.HistoryAudioIds.ToArray());
    }

    [Theory]
    [InlineData(KvCacheStrategy.PingPong)]
    [InlineData(KvCacheStrategy.OrtAllocated)]
    public void Rollback_truncates_the_end_and_the_cache_stays_valid(KvCacheStrategy strategy)
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        var turn1 = EngineTestSupport.GoldenTurn(fixture, cases[0]);
        var turn2 = EngineTestSupport.GoldenTurn(fixture, cases[1]);
        using var state = fixture.Decoder.CreateState(strategy, blockPositions: 32);
        fixture.Generator.Generate(state, turn1, Short(OutputMode.TextAndAudio));
        var checkpoint = state.CreateCheckpoint();

        var first = fixture.Generator.Generate(state, turn2, Short(OutputMode.TextAndAudio));
        Assert.True(state.Length > checkpoint.Length);

        // Barge-in: drop the whole second turn, then run it again: identical reply.
        state.Rollback(checkpoint);
        Assert.Equal(checkpoint, state.CreateCheckpoint());
        var second = fixture.Generator.Generate(state, turn2, Short(OutputMode.TextAndAudio));
        Assert.Equal(first.GeneratedTextIds, second.GeneratedTextIds);
        Assert.Equal(first.GeneratedAudioIds, second.GeneratedAudioIds);

        // Truncate mid-reply, feed the next pair again: same logits as a fresh prefill of the same positions.
        var cut = second.CheckpointAfterPrompt.Length + 5;
        var history = state.GetHistory(0, cut + 1);
        state.Rollback(new DecoderCheckpoint(cut, false, state.TurnCount));
        Assert.Equal(cut, state.Length);
        var stepped = state.Step(history.TextIds[cut], history.AudioIds[cut]).Text.ToArray();
        using var fresh = fixture.Decoder.CreateState(strategy);
        var prefilled = fresh.Prefill(history.TextIds, history.AudioIds, history.Features, history.FeatureMask);
        GoldenTensor.Near(prefilled.Text, stepped, fixture.Tol, "rolled back + step vs fresh prefill");
    }

    [Fact]
    public void Trimming_the_oldest_turn_equals_a_conversation_holding_only_the_kept_turns()
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        var turn1 = EngineTestSupport.GoldenTurn(fixture, cases[0]);
        var turn2 = EngineTestSupport.GoldenTurn(fixture, cases[1]);
        var turn3 = turn1;

        using var a = fixture.Decoder.CreateState();
        fixture.Generator.Generate(a, turn1, Short(OutputMode.TextAndAudio));
        fixture.Generator.Generate(a, turn2, Short(OutputMode.TextOnly));
        Assert.Equal(2, a.TurnCount);
        var kept = a.GetHistory(a.TurnStarts[1], a.Length);
        Assert.Equal(fixture.Pack.Tokens.UserMsgStart, kept.AudioIds[0]);

        var dropped = a.TrimOldestTurns(1);
        Assert.True(dropped > 0);
        Assert.Equal(kept.Length, a.Length);
        Assert.Equal(new[] { 0 }, a.TurnStarts);
        Assert.True(a.ClosingPending);
        Assert.Equal(kept.AudioIds, a.HistoryAudioIds.ToArray());
        var trimmed = fixture.Generator.Generate(a, turn3, Short(OutputMode.TextAndAudio));

        using var b = fixture.Decoder.CreateState();
        b.PrefillTurn(kept);
        b.ClosingPending = true;
        var fresh = fixture.Generator.Generate(b, turn3, Short(OutputMode.TextAndAudio));

        Assert.Equal(fresh.Prompt.AudioIds, trimmed.Prompt.AudioIds);
        Assert.Equal(fresh.GeneratedTextIds, trimmed.GeneratedTextIds);
        Assert.Equal(fresh.GeneratedAudioIds, trimmed.GeneratedAudioIds);
        Assert.Equal(b.HistoryAudioIds.ToArray(), a.HistoryAudioIds.ToArray());
    }

    [Fact]
    public void A_checkpoint_is_placed_through_later_trims_and_one_in_dropped_history_is_refused()
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        using var state = fixture.Decoder.CreateState();
        fixture.Generator.Generate(state, EngineTestSupport.GoldenTurn(fixture, cases[0]), Short(OutputMode.TextAndAudio));
        var endOfFirst = state.CreateCheckpoint();
        var second = fixture.Generator.Generate(state, EngineTestSupport.GoldenTurn(fixture, cases[1]), Short(OutputMode.TextOnly));
        var afterPrompt = second.CheckpointAfterPrompt;

        // The first turn and the closing position that opened the second one go.
        var dropped = state.TrimOldestTurns(1);
        Assert.Equal(endOfFirst.Length + 1, dropped);
        Assert.Equal(dropped, state.DroppedPositions);
        Assert.Equal(1, state.DroppedTurns);
        Assert.Equal(afterPrompt.Length - dropped, state.PositionOf(afterPrompt));

        state.Rollback(afterPrompt);
        Assert.Equal(afterPrompt.Length - dropped, state.Length);
        Assert.Equal(1, state.TurnCount);
        var e = Assert.Throws<ArgumentException>(() => state.Rollback(endOfFirst));
        Assert.Contains("dropped", e.Message, StringComparison.Ordinal);

        // Keeping no turn starts the conversation afresh: no cache, no reply to close.
        Assert.Equal(state.Length, state.TrimOldestTurns(0));
        Assert.Equal(0, state.Length);
        Assert.Equal(0, state.TurnCount);
        Assert.False(state.ClosingPending);
        Assert.Equal(2, state.DroppedTurns);
        Assert.Equal(0, state.PositionOf(afterPrompt)); // the state had been rolled back to it: all of it went
    }

    [Fact]
    public void Max_positions_is_enforced()
    {
        using var state = fixture.Decoder.CreateState();
        var n = fixture.Decoder.MaxPositions + 1;
        var f = fixture.Decoder.FeatureDim;
        var e = Assert.Throws<InvalidOperationException>(() => state.Prefill(new long[n], new long[n], new float[n * f], new float[n]));
        Assert.Contains("max_positions", e.Message, StringComparison.Ordinal);
        Assert.Equal(0, state.Length);
    }

    private static int FedCount(ReplyResult r) =>
        r.GeneratedTextIds.Count - (r.EndReason is ReplyEndReason.StopToken or ReplyEndReason.TextEos ? 1 : 0);
}
