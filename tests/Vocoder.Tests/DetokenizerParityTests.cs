using System.Text.Json;
using Xunit.Abstractions;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>The detokenizer against golden/detok_steps.json and golden/detok_stream.json (read at test time).</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class DetokenizerParityTests(SpeechPackFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Noise_check_matches_golden_exactly()
    {
        var cases = fixture.Golden("detok_steps.json").GetProperty("noise_check").EnumerateArray().ToArray();
        Assert.NotEmpty(cases);
        foreach (var c in cases)
        {
            var seed = c.GetProperty("seed").GetUInt32();
            var first = c.GetProperty("first_frame").GetInt64();
            var frames = c.GetProperty("n_frames").GetInt32();
            var expected = GoldenTensor.F32(c.GetProperty("noise"));
            var actual = new float[frames * 80];
            DeterministicNoise.Fill(seed, first, frames, 80, actual);
            GoldenTensor.Exact(expected, actual, $"noise seed {seed} frames [{first}, {first + frames})");
            for (var i = 0; i < actual.Length; i++)
            {
                Assert.Equal(actual[i], DeterministicNoise.Sample(seed, (ulong)((first * 80) + i)));
            }
        }
    }

    [Fact]
    public void SplitMix64_matches_the_reference_sequence()
    {
        // splitmix64 state 0 → first outputs of the published generator (Vigna's splitmix64.c, seed 0).
        Assert.Equal(0xE220A8397B1DCDAFUL, DeterministicNoise.SplitMix64(0));
        Assert.Equal(0x6E789E6AA1B965F4UL, DeterministicNoise.SplitMix64(0x9E3779B97F4A7C15UL));
    }

    [Fact]
    public void Step_cases_match_golden()
    {
        var cases = fixture.Golden("detok_steps.json").GetProperty("cases").EnumerateArray().ToArray();
        Assert.NotEmpty(cases);
        foreach (var (c, n) in cases.Select((c, n) => (c, n)))
        {
            var inputs = c.GetProperty("inputs");
            var outputs = c.GetProperty("outputs");
            var cacheShape = GoldenTensor.Shape(inputs.GetProperty("cache_k"));
            var result = fixture.Detokenizer.RunStep(
                GoldenTensor.F32(inputs.GetProperty("x_t")),
                GoldenTensor.I64(inputs.GetProperty("tokens")),
                GoldenTensor.F32(inputs.GetProperty("t"))[0],
                GoldenTensor.I64(inputs.GetProperty("start_frame"))[0],
                GoldenTensor.F32(inputs.GetProperty("cache_k")),
                GoldenTensor.F32(inputs.GetProperty("cache_v")),
                cacheShape[2]);
            GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("velocity")), result.Velocity, fixture.Tol, $"case {n} velocity");
            GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("k_chunk")), result.KChunk, fixture.Tol, $"case {n} k_chunk");
            GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("v_chunk")), result.VChunk, fixture.Tol, $"case {n} v_chunk");
        }
    }

    [Fact]
    public void Stream_reproduces_golden_chunks_noise_velocities_mel_and_cache()
    {
        var g = fixture.Golden("detok_stream.json");
        var codes = GoldenTensor.I64(g.GetProperty("codes")).Select(c => (int)c).ToArray();
        var seed = g.GetProperty("seed").GetUInt32();
        var goldenChunks = g.GetProperty("chunks").EnumerateArray().ToArray();
        var plan = g.GetProperty("plan").EnumerateArray().Select(GoldenTensor.Ints).ToArray();
        AssertScheduleMatches(g.GetProperty("schedule"));

        using var stream = fixture.Detokenizer.CreateStream(seed);
        var observed = new List<(int Chunk, int Step, float[] X, float[] V)>();
        stream.StepObserver = (chunk, step, x, v) => observed.Add((chunk, step, x.ToArray(), v.ToArray()));
        var mels = new List<float[]>();
        var infos = new List<(int S, int E, int W, int Start, int CacheIn, bool Final)>();
        float[]? cacheKAfter0 = null;
        float[]? cacheVAfter0 = null;

        void Drain()
        {
            while (stream.TryDecodeNext(out var chunk))
            {
                mels.Add(chunk.Mel.ToArray());
                infos.Add((chunk.CodeStart, chunk.CodeEnd, chunk.WindowEnd, chunk.StartFrame, chunk.CacheFramesIn, chunk.IsFinal));
                if (chunk.Index == 0)
                {
                    cacheKAfter0 = stream.CacheK.ToArray();
                    cacheVAfter0 = stream.CacheV.ToArray();
                }
            }
        }

        foreach (var code in codes)
        {
            stream.PushCode(code);
            Drain();
        }

        Assert.True(infos.Count < plan.Length, "the last chunk must wait for the end of the reply");
        stream.Complete();
        Drain();
        Assert.True(stream.IsFinished);

        Assert.Equal(plan.Length, infos.Count);
        Assert.Equal(goldenChunks.Length, infos.Count);
        for (var i = 0; i < infos.Count; i++)
        {
            var gc = goldenChunks[i];
            Assert.Equal(plan[i], new[] { infos[i].S, infos[i].E, infos[i].W });
            Assert.Equal(GoldenTensor.Ints(gc.GetProperty("emit")), new[] { infos[i].S, infos[i].E });
            Assert.Equal(GoldenTensor.Ints(gc.GetProperty("window")), new[] { infos[i].S, infos[i].W });
            Assert.Equal(gc.GetProperty("start_frame").GetInt32(), infos[i].Start);
            Assert.Equal(gc.GetProperty("cache_frames_in").GetInt32(), infos[i].CacheIn);
            Assert.Equal(i == infos.Count - 1, infos[i].Final);

            // The Euler start state is the deterministic noise, bit for bit.
            var steps = observed.Where(o => o.Chunk == i).OrderBy(o => o.Step).ToArray();
            Assert.Equal(fixture.Detokenizer.Settings.EulerSteps, steps.Length);
            GoldenTensor.Exact(GoldenTensor.F32(gc.GetProperty("noise")), steps[0].X, $"chunk {i} start noise");
            var velocities = gc.GetProperty("euler_velocities").EnumerateArray().ToArray();
            Assert.NotEmpty(velocities);
            for (var k = 0; k < velocities.Length; k++)
            {
                GoldenTensor.Near(GoldenTensor.F32(velocities[k]), steps[k].V, fixture.Tol, $"chunk {i} Euler step {k} velocity");
            }

            GoldenTensor.Near(GoldenTensor.F32(gc.GetProperty("mel")), mels[i], fixture.Tol, $"chunk {i} mel");
            if (gc.GetProperty("cache_write_k_chunk").ValueKind != JsonValueKind.Null)
            {
                Assert.Equal(0, gc.GetProperty("cache_frames_in").GetInt32());
                GoldenTensor.Near(GoldenTensor.F32(gc.GetProperty("cache_write_k_chunk")), cacheKAfter0!, fixture.Tol, $"chunk {i} cache-write k_chunk");
                GoldenTensor.Near(GoldenTensor.F32(gc.GetProperty("cache_write_v_chunk")), cacheVAfter0!, fixture.Tol, $"chunk {i} cache-write v_chunk");
            }
        }

        var allMel = mels.SelectMany(m => m).ToArray();
        output.WriteLine($"all emitted mel: max |diff| vs golden {GoldenTensor.MaxDiff(GoldenTensor.F32(g.GetProperty("mel")), allMel).Worst:g3} (tolerance {fixture.Tol}); noise values checked bit-exact: {goldenChunks.Sum(c => GoldenTensor.F32(c.GetProperty("noise")).Length)}");
        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("mel")), allMel, fixture.Tol, "all emitted mel");
        Assert.Equal(codes.Length * 4, stream.EmittedFrames);
    }

    [Fact]
    public void Pushing_codes_one_at_a_time_or_all_at_once_gives_identical_mel()
    {
        var codes = GoldenTensor.I64(fixture.Golden("detok_stream.json").GetProperty("codes")).Select(c => (int)c).ToArray();
        var oneByOne = SpeechRun.Mel(fixture.Detokenizer, codes, seed: 5, oneAtATime: true);
        var allAtOnce = SpeechRun.Mel(fixture.Detokenizer, codes, seed: 5, oneAtATime: false);
        Assert.Equal(oneByOne.Count, allAtOnce.Count);
        for (var i = 0; i < oneByOne.Count; i++)
        {
            GoldenTensor.Exact(oneByOne[i].Mel, allAtOnce[i].Mel, $"chunk {i}");
            Assert.Equal(oneByOne[i].Final, allAtOnce[i].Final);
        }
    }

    [Fact]
    public void Seed_changes_the_noise_and_Reset_restarts_the_reply()
    {
        var codes = Enumerable.Range(0, 9).Select(i => (i * 37) % 512).ToArray();
        using var stream = fixture.Detokenizer.CreateStream(1);
        Assert.Equal(1u, stream.Seed);
        stream.PushCodes(codes);
        stream.Complete();
        var a = SpeechRun.DrainMel(stream);
        stream.Reset();
        Assert.Equal(0, stream.CodeCount);
        Assert.Equal(0, stream.CacheFrames);
        Assert.False(stream.IsCompleted);
        stream.PushCodes(codes);
        stream.Complete();
        var b = SpeechRun.DrainMel(stream);
        stream.Reset(seed: 2);
        stream.PushCodes(codes);
        stream.Complete();
        var c = SpeechRun.DrainMel(stream);
        GoldenTensor.Exact(a.SelectMany(x => x.Mel).ToArray(), b.SelectMany(x => x.Mel).ToArray(), "same seed after Reset");
        Assert.NotEqual(a.SelectMany(x => x.Mel), c.SelectMany(x => x.Mel));
    }

    [Fact]
    public void Reply_shorter_than_first_chunk_plus_lookahead_is_one_final_chunk()
    {
        var s = fixture.Detokenizer.Settings;
        var n = s.FirstChunkTokens + s.LookaheadTokens - 1;
        using var stream = fixture.Detokenizer.CreateStream();
        for (var i = 0; i < n; i++)
        {
            stream.PushCode((i * 91) % 512);
            Assert.False(stream.HasReadyChunk);
        }

        stream.Complete();
        var chunks = SpeechRun.DrainMel(stream);
        var chunk = Assert.Single(chunks);
        Assert.True(chunk.Final);
        Assert.Equal(n * s.Upsample * s.MelBins, chunk.Mel.Length);
        Assert.False(stream.TryDecodeNext(out _));
    }

    [Fact]
    public void Empty_reply_ends_with_an_empty_final_chunk()
    {
        using var stream = fixture.Detokenizer.CreateStream();
        Assert.False(stream.TryDecodeNext(out _));
        stream.Complete();
        Assert.True(stream.TryDecodeNext(out var chunk));
        Assert.True(chunk.IsFinal);
        Assert.Equal(0, chunk.Frames);
        Assert.False(stream.TryDecodeNext(out _));
    }

    [Fact]
    public void Without_lookahead_a_reply_ending_on_a_chunk_boundary_still_gets_a_final_chunk()
    {
        var d = new FlowMatchingDetokenizer(fixture.Detokenizer.Session, fixture.Detokenizer.Settings with { LookaheadTokens = 0 });
        using var stream = d.CreateStream();
        var s = d.Settings;
        stream.PushCodes([.. Enumerable.Range(0, s.FirstChunkTokens + s.ChunkTokens).Select(i => (i * 13) % 512)]);
        var running = SpeechRun.DrainMel(stream);
        Assert.Equal(2, running.Count);
        Assert.All(running, c => Assert.False(c.Final));
        stream.Complete();
        var last = Assert.Single(SpeechRun.DrainMel(stream));
        Assert.True(last.Final);
        Assert.Empty(last.Mel);
    }

    [Theory]
    [InlineData(40, 40)]
    [InlineData(750, 60)]
    public void Cache_appends_the_clean_call_and_drops_the_oldest_frames_beyond_the_cap(int cap, int codeCount)
    {
        var d = new FlowMatchingDetokenizer(fixture.Detokenizer.Session, fixture.Detokenizer.Settings with { MaxCacheFrames = cap });
        var s = d.Settings;
        var random = new Random(3);
        var codes = Enumerable.Range(0, codeCount).Select(_ => random.Next(s.CodebookSize)).ToArray();
        using var stream = d.CreateStream(11);
        stream.PushCodes(codes);
        stream.Complete();
        var perFrame = s.CacheFloatsPerFrame / (s.NumLayers * s.NumHeads);
        var blocks = s.NumLayers * s.NumHeads;
        while (true)
        {
            var beforeK = stream.CacheK.ToArray();
            var beforeV = stream.CacheV.ToArray();
            var framesIn = stream.CacheFrames;
            if (!stream.TryDecodeNext(out var chunk))
            {
                break;
            }

            Assert.Equal(framesIn, chunk.CacheFramesIn);
            var e = chunk.Frames;
            var codeStart = chunk.CodeStart;
            var tokens = Enumerable.Range(0, e).Select(i => (long)codes[codeStart + (i / s.Upsample)]).ToArray();
            var clean = d.RunStep(chunk.Mel, tokens, (float)s.TClean, chunk.StartFrame, beforeK, beforeV, framesIn);
            var total = framesIn + e;
            var keep = Math.Min(total, cap);
            Assert.Equal(keep, stream.CacheFrames);
            var expectedK = new float[blocks * keep * perFrame];
            var expectedV = new float[expectedK.Length];
            for (var j = 0; j < blocks; j++)
            {
                // Concatenate [old frames | new frames] of block j, keep the last `keep`.
                var joinedK = beforeK.AsSpan(j * framesIn * perFrame, framesIn * perFrame).ToArray().Concat(clean.KChunk.AsSpan(j * e * perFrame, e * perFrame).ToArray()).ToArray();
                var joinedV = beforeV.AsSpan(j * framesIn * perFrame, framesIn * perFrame).ToArray().Concat(clean.VChunk.AsSpan(j * e * perFrame, e * perFrame).ToArray()).ToArray();
                joinedK.AsSpan((total - keep) * perFrame).CopyTo(expectedK.AsSpan(j * keep * perFrame));
                joinedV.AsSpan((total - keep) * perFrame).CopyTo(expectedV.AsSpan(j * keep * perFrame));
            }

            GoldenTensor.Near(expectedK, stream.CacheK, fixture.Tol, $"cache K after chunk {chunk.Index}");
            GoldenTensor.Near(expectedV, stream.CacheV, fixture.Tol, $"cache V after chunk {chunk.Index}");
            Assert.Equal(chunk.StartFrame + e - keep, stream.CacheStartFrame);
        }

        Assert.True(stream.IsFinished);
        Assert.Equal(codeCount * s.Upsample, stream.EmittedFrames);
    }

    private void AssertScheduleMatches(JsonElement schedule)
    {
        var s = fixture.Detokenizer.Settings;
        var v = fixture.Vocoder.Settings;
        Assert.Equal(schedule.GetProperty("first_chunk_tokens").GetInt32(), s.FirstChunkTokens);
        Assert.Equal(schedule.GetProperty("chunk_tokens").GetInt32(), s.ChunkTokens);
        Assert.Equal(schedule.GetProperty("lookahead_tokens").GetInt32(), s.LookaheadTokens);
        Assert.Equal(schedule.GetProperty("euler_steps").GetInt32(), s.EulerSteps);
        Assert.Equal(schedule.GetProperty("t_clean").GetDouble(), s.TClean);
        Assert.Equal(schedule.GetProperty("max_cache_frames").GetInt32(), s.MaxCacheFrames);
        Assert.Equal(schedule.GetProperty("vocoder_overlap_frames").GetInt32(), v.OverlapFrames);
        Assert.Equal(schedule.GetProperty("vocoder_left_context_frames").GetInt32(), v.LeftContextFrames);
    }
}

/// <summary>Runs the stages the simple way for tests.</summary>
internal static class SpeechRun
{
    public static List<(float[] Mel, bool Final)> DrainMel(DetokenizerStream stream)
    {
        var result = new List<(float[], bool)>();
        while (stream.TryDecodeNext(out var chunk))
        {
            result.Add((chunk.Mel.ToArray(), chunk.IsFinal));
        }

        return result;
    }

    public static List<(float[] Mel, bool Final)> Mel(FlowMatchingDetokenizer detokenizer, int[] codes, uint seed, bool oneAtATime)
    {
        using var stream = detokenizer.CreateStream(seed);
        var result = new List<(float[] Mel, bool Final)>();
        if (oneAtATime)
        {
            foreach (var code in codes)
            {
                stream.PushCode(code);
                result.AddRange(DrainMel(stream));
            }
        }
        else
        {
            stream.PushCodes(codes);
        }

        stream.Complete();
        result.AddRange(DrainMel(stream));
        return result;
    }

    /// <summary>Stitches mel chunks; returns each push's audio.</summary>
    public static List<float[]> Stitch(BigVganVocoder vocoder, IReadOnlyList<(float[] Mel, bool Final)> chunks)
    {
        using var stitcher = vocoder.CreateStitcher();
        return [.. chunks.Select(c => stitcher.Push(c.Mel, c.Final).ToArray())];
    }
}
