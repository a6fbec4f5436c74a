using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class EncoderParityTests(PackFixture fixture)
{
    [Theory]
    [InlineData(KvCacheStrategy.PingPong)]
    [InlineData(KvCacheStrategy.OrtAllocated)]
    public void Golden_steps_match_inputs_and_outputs(KvCacheStrategy strategy)
    {
        var golden = fixture.Golden("encoder_steps.json");
        var tol = fixture.Tol;
        var tokenizer = new SemanticTokenizer(fixture.Pack, strategy);
        using var stream = tokenizer.CreateStream();
        Assert.Equal(strategy, stream.CacheStrategy);
        var cacheNames = fixture.Pack.Manifest.Tokenizer!.Cache!;
        var s = 0;
        foreach (var step in golden.GetProperty("steps").EnumerateArray())
        {
            var inputs = step.GetProperty("inputs");
            var outputs = step.GetProperty("outputs");
            for (var c = 0; c < cacheNames.Inputs!.Count; c++)
            {
                GoldenTensor.Near(GoldenTensor.F32(inputs.GetProperty(cacheNames.Inputs[c])), stream.GetCache(c), tol, $"step {s} input {cacheNames.Inputs[c]}");
            }

            var result = stream.PushChunk(GoldenTensor.F32(inputs.GetProperty("mel")));
            Assert.Equal(GoldenTensor.I64(outputs.GetProperty("token"))[0], result.Token);
            GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("feature")), result.Feature, tol, $"step {s} feature");
            Assert.Equal(GoldenTensor.I64(outputs.GetProperty("ctc_ids")), result.CtcIds.ToArray());
            for (var c = 0; c < cacheNames.Outputs!.Count; c++)
            {
                GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty(cacheNames.Outputs[c])), stream.GetCache(c), tol, $"step {s} output {cacheNames.Outputs[c]}");
            }

            s++;
        }

        Assert.True(s > 0);
    }

    [Theory]
    [InlineData(KvCacheStrategy.PingPong, 3)]
    [InlineData(KvCacheStrategy.OrtAllocated, 8)]
    public void Whole_turn_chunked_reproduces_tokens_features_and_transcript(KvCacheStrategy strategy, int framesPerPush)
    {
        var golden = fixture.Golden("encoder_steps.json");
        var mel = GoldenTensor.F32(golden.GetProperty("mel"));
        var bins = fixture.Tokenizer.MelBins;
        var tokenizer = new SemanticTokenizer(fixture.Pack, strategy);
        using var stream = tokenizer.CreateStream();
        for (var f = 0; f < mel.Length / bins; f += framesPerPush)
        {
            var n = Math.Min(framesPerPush, (mel.Length / bins) - f);
            stream.PushFrames(mel.AsSpan(f * bins, n * bins));
        }

        Assert.Equal(0, stream.PendingFrames);
        var turn = stream.ToTurn();
        Assert.Equal(GoldenTensor.I64(golden.GetProperty("all_tokens")), turn.Tokens);
        GoldenTensor.Near(GoldenTensor.F32(golden.GetProperty("all_features")), turn.Features, fixture.Tol, "all_features");
        Assert.Equal(GoldenTensor.I64(golden.GetProperty("all_ctc_ids")), turn.CtcIds);
        Assert.Equal(golden.GetProperty("ctc_transcript").GetString(), turn.Transcript);
        Assert.Equal(turn.Count * tokenizer.CacheGrowPerStep, stream.CacheLength);

        // Truncating the end of the turn and pushing the same chunks again gives the same tokens (block-causal).
        var keep = turn.Count / 2;
        stream.TruncateSteps(keep);
        Assert.Equal(keep * tokenizer.CacheGrowPerStep, stream.CacheLength);
        stream.PushFrames(mel.AsSpan(keep * tokenizer.FramesPerStep * bins));
        Assert.Equal(turn.Tokens, stream.Tokens.ToArray());
        GoldenTensor.Near(turn.Features, stream.Features, 1e-5, "features after truncate + re-push");

        // Reset starts a new turn: the same input gives the same tokens again.
        stream.Reset();
        Assert.Equal(0, stream.CacheLength);
        stream.PushFrames(mel);
        Assert.Equal(turn.Tokens, stream.Tokens.ToArray());
    }

    [Fact]
    public void Ctc_decoder_collapses_repeats_and_drops_blanks()
    {
        var ctc = new CtcDecoder([" ", "a", "b"], blankId: 0, charIdOffset: 1);
        Assert.Equal("ab a", ctc.Decode([0, 2, 2, 0, 3, 3, 1, 0, 2, 2]));
        Assert.Equal("aa", ctc.Decode([2, 0, 2]));
        Assert.Equal(string.Empty, ctc.Decode([0, 0, 9]));
    }

    [Fact]
    public void Cache_max_length_is_enforced_with_a_clear_exception()
    {
        using var stream = fixture.Tokenizer.CreateStream();
        var chunk = new float[fixture.Tokenizer.FramesPerStep * fixture.Tokenizer.MelBins];
        Array.Fill(chunk, -0.5f);
        for (var i = 0; i < fixture.Tokenizer.MaxStepsPerTurn; i++)
        {
            stream.PushChunk(chunk);
        }

        Assert.Equal(fixture.Tokenizer.MaxCacheLength, stream.CacheLength);
        var e = Assert.Throws<EncoderCacheFullException>(() => stream.PushChunk(chunk));
        Assert.Contains("max_length", e.Message, StringComparison.Ordinal);
        Assert.Equal(fixture.Tokenizer.MaxStepsPerTurn, stream.StepCount);
        stream.Reset();
        stream.PushChunk(chunk);
        Assert.Equal(1, stream.StepCount);
    }
}
