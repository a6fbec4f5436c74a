using Xunit.Abstractions;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>Managed allocation per chunk once buffers and tensors exist (docs/vocoder.md).</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class AllocationTests(SpeechPackFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Chunks_allocate_nothing_once_the_cache_is_at_its_cap_and_little_before()
    {
        // Cap 96 frames: reached after 3 chunks, so later chunks see a constant cache shape.
        var d = new FlowMatchingDetokenizer(fixture.Detokenizer.Session, fixture.Detokenizer.Settings with { MaxCacheFrames = 96 });
        using var pipeline = new ReplyAudioPipeline(d, fixture.Vocoder);
        var samples = 0L;
        PcmHandler sink = (pcm, _) => samples += pcm.Length;
        var s = d.Settings;
        var code = 0;
        void Push(int n)
        {
            for (var i = 0; i < n; i++)
            {
                pipeline.PushCode(code++ % s.CodebookSize, sink);
            }
        }

        // Warm: first reply end to end, then a second reply into the capped steady state.
        Push(40);
        pipeline.Complete(sink);
        pipeline.Reset();
        Push(s.FirstChunkTokens + s.LookaheadTokens + (4 * s.ChunkTokens));
        Assert.Equal(96, pipeline.Detokenizer.CacheFrames);

        var chunks = pipeline.Detokenizer.ChunkCount;
        var (steady, rounds) = SteadyAllocation.Measure(() => Push(4 * s.ChunkTokens));
        Assert.Equal(chunks + (4 * rounds), pipeline.Detokenizer.ChunkCount);

        var growing = SteadyAllocation.Measure(() =>
        {
            pipeline.Reset();
            Push(s.FirstChunkTokens + s.LookaheadTokens + (2 * s.ChunkTokens));
        }).Bytes;
        output.WriteLine($"4 chunks at the cache cap: {steady} B; first 3 chunks of a reply (cache growing): {growing} B");
        Assert.Equal(0, steady);
        Assert.True(growing < 4096, $"{growing} B for 3 chunks of a growing cache");
    }
}
