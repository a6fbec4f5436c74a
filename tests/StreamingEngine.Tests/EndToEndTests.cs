using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class EndToEndTests(PackFixture fixture)
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void Pcm_to_reply_reproduces_the_golden_case_exactly(int index)
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        Assert.Equal(2, cases.Length);
        var c = cases[index];
        var pcm = GoldenTensor.F32(c.GetProperty("pcm"));

        var turn = EngineTestSupport.Encode(fixture, pcm);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("encoder_tokens")), turn.Tokens);
        GoldenTensor.Near(GoldenTensor.F32(c.GetProperty("encoder_features")), turn.Features, fixture.Tol, "encoder_features");
        Assert.Equal(c.GetProperty("user_transcript").GetString(), turn.Transcript);

        using var state = fixture.Decoder.CreateState();
        var events = new List<ReplyEvent>();
        var result = fixture.Generator.Generate(state, turn, EngineTestSupport.GoldenOptions(fixture, c), events.Add);

        Assert.Equal(GoldenTensor.I64(c.GetProperty("prompt_text_ids")), result.Prompt.TextIds);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("prompt_audio_ids")), result.Prompt.AudioIds);
        Assert.Equal(GoldenTensor.F32(c.GetProperty("prompt_feature_mask")), result.Prompt.FeatureMask);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("generated_text_ids")), result.GeneratedTextIds);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("generated_audio_ids")), result.GeneratedAudioIds);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("reply_text_ids")), result.TextIds);
        Assert.Equal(GoldenTensor.I64(c.GetProperty("reply_audio_codes")).Select(x => (int)x), result.AudioCodes);
        Assert.Equal(c.GetProperty("reply_text").GetString(), result.Text);

        // Streamed events carry the same ids, in order, and one End.
        Assert.Equal(result.TextIds, events.Where(e => e.Kind == ReplyEventKind.TextToken).Select(e => e.Id));
        Assert.Equal(result.AudioCodes, events.Where(e => e.Kind == ReplyEventKind.AudioCode).Select(e => e.Code));
        Assert.Equal(ReplyEventKind.End, events[^1].Kind);
        Assert.Single(events, e => e.Kind == ReplyEventKind.End);
        Assert.True(state.ClosingPending);

        // The cache holds the prompt and every fed pair (the closing position is not fed).
        var fed = result.GeneratedTextIds.Count - (result.EndReason is ReplyEndReason.StopToken or ReplyEndReason.TextEos ? 1 : 0);
        Assert.Equal(result.Prompt.Length + fed, state.Length);
    }

    [Fact]
    public async Task Conversations_on_shared_graphs_run_concurrently_and_independently()
    {
        var cases = EngineTestSupport.E2eCases(fixture);
        var tasks = Enumerable.Range(0, 4).Select(i => Task.Run(() =>
        {
            var c = cases[i % cases.Length];
            using var state = fixture.Decoder.CreateState(i % 2 == 0 ? KvCacheStrategy.PingPong : KvCacheStrategy.OrtAllocated);
            var result = fixture.Generator.Generate(state, EngineTestSupport.GoldenTurn(fixture, c), EngineTestSupport.GoldenOptions(fixture, c));
            return (c, result);
        })).ToArray();
        foreach (var (c, result) in await Task.WhenAll(tasks))
        {
            Assert.Equal(GoldenTensor.I64(c.GetProperty("generated_text_ids")), result.GeneratedTextIds);
            Assert.Equal(GoldenTensor.I64(c.GetProperty("generated_audio_ids")), result.GeneratedAudioIds);
        }
    }

    [Fact]
    public async Task Async_stream_yields_the_same_reply_as_the_synchronous_loop()
    {
        var c = EngineTestSupport.E2eCases(fixture)[0];
        var turn = EngineTestSupport.GoldenTurn(fixture, c);
        var options = EngineTestSupport.GoldenOptions(fixture, c);
        using var syncState = fixture.Decoder.CreateState();
        var expected = fixture.Generator.Generate(syncState, turn, options);

        using var state = fixture.Decoder.CreateState();
        ReplyResult? completed = null;
        var events = new List<ReplyEvent>();
        await foreach (var e in fixture.Generator.GenerateAsync(state, turn, options, r => completed = r))
        {
            events.Add(e);
        }

        Assert.NotNull(completed);
        Assert.Equal(expected.GeneratedTextIds, completed!.GeneratedTextIds);
        Assert.Equal(expected.GeneratedAudioIds, completed.GeneratedAudioIds);
        Assert.Equal(expected.AudioCodes, events.Where(e => e.Kind == ReplyEventKind.AudioCode).Select(e => e.Code));
        Assert.Equal(expected.EndReason, events[^1].EndReason);
    }

    [Fact]
    public async Task Cancellation_stops_the_reply_and_leaves_a_consistent_state()
    {
        var c = EngineTestSupport.E2eCases(fixture)[0];
        var turn = EngineTestSupport.GoldenTurn(fixture, c);
        using var state = fixture.Decoder.CreateState();
        using var cts = new CancellationTokenSource();
        var seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var e in fixture.Generator.GenerateAsync(state, turn, new ReplyOptions { Mode = OutputMode.TextAndAudio }, null, cts.Token))
            {
                if (++seen == 3)
                {
                    await cts.CancelAsync();
                }
            }
        });

        // Every fed position is in both the cache and the history; the state can roll back and go on.
        Assert.Equal(state.Length, state.HistoryTextIds.Length);
        Assert.False(state.ClosingPending);
        state.Rollback(new Stages.DecoderCheckpoint(0, false, 0));
        Assert.Equal(0, state.Length);
        var again = fixture.Generator.Generate(state, turn, EngineTestSupport.GoldenOptions(fixture, c));
        Assert.Equal(GoldenTensor.I64(c.GetProperty("generated_text_ids")), again.GeneratedTextIds);
    }
}
