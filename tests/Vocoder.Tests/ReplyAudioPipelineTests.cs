namespace VoiceAgent.Vocoder.Tests;

/// <summary>The synchronous per-reply chain.</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class ReplyAudioPipelineTests(SpeechPackFixture fixture)
{
    [Fact]
    public void One_code_at_a_time_and_all_at_once_give_identical_audio_matching_golden()
    {
        var g = fixture.Golden("detok_stream.json");
        var codes = GoldenTensor.I64(g.GetProperty("codes")).Select(c => (int)c).ToArray();
        var seed = g.GetProperty("seed").GetUInt32();

        using var a = new ReplyAudioPipeline(fixture.Detokenizer, fixture.Vocoder, seed);
        var oneByOne = new List<float>();
        var finals = 0;
        void Collect(ReadOnlySpan<float> pcm, bool isFinal)
        {
            oneByOne.AddRange(pcm.ToArray());
            finals += isFinal ? 1 : 0;
        }

        var chunksBeforeEnd = 0;
        foreach (var code in codes)
        {
            chunksBeforeEnd += a.PushCode(code, Collect);
        }

        var atEnd = a.Complete(Collect);
        Assert.Equal(3, chunksBeforeEnd + atEnd);
        Assert.Equal(1, finals);
        Assert.True(a.IsFinished);
        Assert.Equal(oneByOne.Count, a.SamplesOutput);

        using var b = new ReplyAudioPipeline(fixture.Detokenizer, fixture.Vocoder, seed);
        var allAtOnce = new List<float>();
        b.PushCodes(codes, (pcm, _) => allAtOnce.AddRange(pcm.ToArray()));
        b.Complete((pcm, _) => allAtOnce.AddRange(pcm.ToArray()));

        GoldenTensor.Exact([.. oneByOne], [.. allAtOnce], "one at a time vs all at once");
        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("stitched_audio")), [.. oneByOne], fixture.AudioTol, "stitched audio");
    }

    [Fact]
    public void Reset_after_barge_in_starts_the_next_reply_clean()
    {
        var codes = Enumerable.Range(0, 15).Select(i => (i * 53) % 512).ToArray();
        using var fresh = new ReplyAudioPipeline(fixture.Detokenizer, fixture.Vocoder, 4);
        var expected = new List<float>();
        fresh.PushCodes(codes, (pcm, _) => expected.AddRange(pcm.ToArray()));
        fresh.Complete((pcm, _) => expected.AddRange(pcm.ToArray()));

        using var reused = new ReplyAudioPipeline(fixture.Detokenizer, fixture.Vocoder, 4);
        reused.PushCodes([.. Enumerable.Range(0, 20).Select(i => (i * 7) % 512)], (_, _) => { });
        Assert.True(reused.Detokenizer.CacheFrames > 0);
        Assert.True(reused.Stitcher.HeldSamples > 0);
        reused.Reset();
        Assert.Equal(0, reused.Detokenizer.CacheFrames);
        Assert.Equal(0, reused.Stitcher.HeldSamples);
        var actual = new List<float>();
        reused.PushCodes(codes, (pcm, _) => actual.AddRange(pcm.ToArray()));
        reused.Complete((pcm, _) => actual.AddRange(pcm.ToArray()));
        GoldenTensor.Exact([.. expected], [.. actual], "reply after Reset");
    }

    [Fact]
    public void Cancelled_token_stops_before_running_a_chunk()
    {
        using var pipeline = new ReplyAudioPipeline(fixture.Detokenizer, fixture.Vocoder);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        pipeline.PushCodes([1, 2, 3], (_, _) => { });
        Assert.ThrowsAny<OperationCanceledException>(() => pipeline.PushCodes([4, 5, 6, 7], (_, _) => { }, cts.Token));
        Assert.Equal(0, pipeline.Detokenizer.ChunkCount);
    }
}
