using System.Threading.Channels;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>The per-reply composition: codes in, bounded PCM chunks out, barge-in.</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class ReplyAudioSynthesizerTests(SpeechPackFixture fixture)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Streams_the_golden_reply_as_pcm_chunks()
    {
        var g = fixture.Golden("detok_stream.json");
        var codes = GoldenTensor.I64(g.GetProperty("codes")).Select(c => (int)c).ToArray();
        await using var synth = new ReplyAudioSynthesizer(fixture.Detokenizer, fixture.Vocoder, new ReplyAudioOptions { Seed = g.GetProperty("seed").GetUInt32(), OutputCapacity = 1 });
        Assert.Equal(16000, synth.SampleRate);
        var reader = Task.Run(() => ReadAll(synth.Audio));
        foreach (var code in codes)
        {
            synth.PushCode(code);
        }

        synth.Complete();
        Assert.Throws<InvalidOperationException>(() => synth.PushCode(1));
        var chunks = await reader.WaitAsync(Timeout);
        await synth.Completion.WaitAsync(Timeout);
        var calls = g.GetProperty("vocoder_calls").EnumerateArray().ToArray();
        Assert.Equal(calls.Length, chunks.Count);
        long start = 0;
        for (var i = 0; i < chunks.Count; i++)
        {
            Assert.Equal(i, chunks[i].Index);
            Assert.Equal(start, chunks[i].StartSample);
            Assert.Equal(i == chunks.Count - 1, chunks[i].IsFinal);
            GoldenTensor.Near(GoldenTensor.F32(calls[i].GetProperty("audio_out")), chunks[i].Samples.Span, fixture.AudioTol, $"chunk {i}");
            start += chunks[i].Length;
        }

        // First packet: (4 F − O) frames of audio.
        var s = fixture.Detokenizer.Settings;
        Assert.Equal(((s.FirstChunkTokens * s.Upsample) - fixture.Vocoder.Settings.LookaheadFrames - fixture.Vocoder.Settings.OverlapFrames) * fixture.Vocoder.Settings.HopLength, chunks[0].Length);
        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("stitched_audio")), chunks.SelectMany(c => c.Samples.ToArray()).ToArray(), fixture.AudioTol, "stitched audio");
        foreach (var c in chunks)
        {
            c.Dispose();
            Assert.True(c.Samples.IsEmpty);
        }
    }

    [Fact]
    public async Task Empty_reply_completes_with_an_empty_final_chunk()
    {
        await using var synth = new ReplyAudioSynthesizer(fixture.Detokenizer, fixture.Vocoder);
        synth.Complete();
        var chunks = await ReadAll(synth.Audio).WaitAsync(Timeout);
        var only = Assert.Single(chunks);
        Assert.True(only.IsFinal);
        Assert.Equal(0, only.Length);
    }

    [Fact]
    public async Task Cancel_drops_buffered_audio_and_state_at_once()
    {
        var random = new Random(8);
        await using var synth = new ReplyAudioSynthesizer(fixture.Detokenizer, fixture.Vocoder, new ReplyAudioOptions { OutputCapacity = 1 });
        for (var i = 0; i < 60; i++)
        {
            synth.PushCode(random.Next(512));
        }

        // Wait for the first chunk, then leave the synthesizer blocked on the full channel.
        Assert.True(await synth.Audio.WaitToReadAsync().AsTask().WaitAsync(Timeout));
        synth.Cancel();
        Assert.True(synth.IsCancelled);
        Assert.False(synth.Audio.TryRead(out _));
        await synth.Audio.Completion.WaitAsync(Timeout);
        await synth.Completion.WaitAsync(Timeout);
        Assert.False(synth.Audio.TryRead(out _));

        // Pushing after barge-in is ignored; Complete is harmless.
        synth.PushCode(3);
        synth.Complete();
    }

    [Fact]
    public async Task Caller_token_cancels_synthesis()
    {
        using var cts = new CancellationTokenSource();
        await using var synth = new ReplyAudioSynthesizer(fixture.Detokenizer, fixture.Vocoder, null, cts.Token);
        for (var i = 0; i < 40; i++)
        {
            synth.PushCode(i);
        }

        await cts.CancelAsync();
        await synth.Completion.WaitAsync(Timeout);
        Assert.True(synth.IsCancelled);
        await synth.Audio.Completion.WaitAsync(Timeout);
    }

    [Fact]
    public void Rejects_codes_outside_the_codebook()
    {
        using var synth = new ReplyAudioSynthesizer(fixture.Detokenizer, fixture.Vocoder);
        Assert.Throws<ArgumentOutOfRangeException>(() => synth.PushCode(fixture.Detokenizer.Settings.CodebookSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => synth.PushCode(-1));
    }

    private static async Task<List<ReplyAudioChunk>> ReadAll(ChannelReader<ReplyAudioChunk> reader)
    {
        var list = new List<ReplyAudioChunk>();
        await foreach (var chunk in reader.ReadAllAsync())
        {
            list.Add(chunk);
        }

        return list;
    }
}
