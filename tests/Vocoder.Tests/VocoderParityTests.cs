using Xunit.Abstractions;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>The vocoder and the chunk stitcher against golden/vocoder.json and golden/detok_stream.json.</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class VocoderParityTests(SpeechPackFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Vocoder_cases_match_golden()
    {
        var cases = fixture.Golden("vocoder.json").GetProperty("cases").EnumerateArray().ToArray();
        Assert.NotEmpty(cases);
        using var workspace = fixture.Vocoder.CreateWorkspace(8);
        foreach (var (c, n) in cases.Select((c, n) => (c, n)))
        {
            var mel = GoldenTensor.F32(c.GetProperty("inputs").GetProperty("mel"));
            var expected = GoldenTensor.F32(c.GetProperty("outputs").GetProperty("audio"));
            GoldenTensor.Near(expected, fixture.Vocoder.Vocode(mel), fixture.AudioTol, $"case {n} (one-off)");

            // Through a reused workspace (grows from 8 frames).
            GoldenTensor.Near(expected, fixture.Vocoder.Vocode(workspace, mel), fixture.AudioTol, $"case {n} (workspace)");
        }
    }

    [Fact]
    public void Crossfade_weights_match_golden_formula_check()
    {
        var expected = GoldenTensor.F32(fixture.Golden("vocoder.json").GetProperty("crossfade_check"));
        var w = ChunkStitcher.CrossFadeWeights(expected.Length);
        GoldenTensor.Exact(expected, w, "cross-fade weights");
        for (var i = 0; i < w.Length; i++)
        {
            Assert.Equal(1.0, w[i] + w[w.Length - 1 - i], 6);
        }
    }

    [Fact]
    public void Stitcher_on_golden_mel_reproduces_each_call_and_the_stitched_audio()
    {
        var g = fixture.Golden("detok_stream.json");
        var chunks = g.GetProperty("chunks").EnumerateArray().Select(c => GoldenTensor.F32(c.GetProperty("mel"))).ToArray();
        var calls = g.GetProperty("vocoder_calls").EnumerateArray().ToArray();
        Assert.Equal(chunks.Length, calls.Length);
        var outputs = SpeechRun.Stitch(fixture.Vocoder, [.. chunks.Select((m, i) => (m, i == chunks.Length - 1))]);
        for (var i = 0; i < calls.Length; i++)
        {
            GoldenTensor.Near(GoldenTensor.F32(calls[i].GetProperty("audio_out")), outputs[i], fixture.AudioTol, $"vocoder call {i} output");
        }

        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("stitched_audio")), outputs.SelectMany(o => o).ToArray(), fixture.AudioTol, "stitched audio");
    }

    [Fact]
    public void Codes_to_stitched_audio_end_to_end_matches_golden()
    {
        var g = fixture.Golden("detok_stream.json");
        var codes = GoldenTensor.I64(g.GetProperty("codes")).Select(c => (int)c).ToArray();
        var mel = SpeechRun.Mel(fixture.Detokenizer, codes, g.GetProperty("seed").GetUInt32(), oneAtATime: true);
        var outputs = SpeechRun.Stitch(fixture.Vocoder, mel);
        var calls = g.GetProperty("vocoder_calls").EnumerateArray().ToArray();
        Assert.Equal(calls.Length, outputs.Count);
        for (var i = 0; i < calls.Length; i++)
        {
            GoldenTensor.Near(GoldenTensor.F32(calls[i].GetProperty("audio_out")), outputs[i], fixture.AudioTol, $"vocoder call {i} output");
        }

        var stitched = outputs.SelectMany(o => o).ToArray();
        Assert.Equal(codes.Length * 4 * fixture.Vocoder.Settings.HopLength, stitched.Length);
        output.WriteLine($"codes -> stitched audio: max |diff| vs golden {GoldenTensor.MaxDiff(GoldenTensor.F32(g.GetProperty("stitched_audio")), stitched).Worst:g3} (tolerance {fixture.AudioTol})");
        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("stitched_audio")), stitched, fixture.AudioTol, "stitched audio");
    }

    /// <summary>
    /// Chunked vocoding against one vocoder call over all frames: SNR ≥ 30 dB (and within 1 dB of the golden's own
    /// figure), and no clicks: the largest sample-to-sample step at any join (chunk boundary or end of a cross-fade)
    /// is at most 1.5× the largest step anywhere else in the reply.
    /// </summary>
    [Fact]
    public void Stitched_audio_matches_one_whole_call_without_clicks()
    {
        var g = fixture.Golden("detok_stream.json");
        var codes = GoldenTensor.I64(g.GetProperty("codes")).Select(c => (int)c).ToArray();
        var mel = SpeechRun.Mel(fixture.Detokenizer, codes, g.GetProperty("seed").GetUInt32(), oneAtATime: true);
        var outputs = SpeechRun.Stitch(fixture.Vocoder, mel);
        var stitched = outputs.SelectMany(o => o).ToArray();
        var whole = fixture.Vocoder.Vocode(mel.SelectMany(m => m.Mel).ToArray());
        GoldenTensor.Near(GoldenTensor.F32(g.GetProperty("whole_vocoded_audio")), whole, fixture.AudioTol, "whole vocoded audio");
        Assert.Equal(whole.Length, stitched.Length);

        double signal = 0, noise = 0;
        for (var i = 0; i < whole.Length; i++)
        {
            signal += (double)whole[i] * whole[i];
            noise += ((double)stitched[i] - whole[i]) * ((double)stitched[i] - whole[i]);
        }

        var snr = 10 * Math.Log10(signal / Math.Max(noise, 1e-30));
        var goldenSnr = g.GetProperty("stitched_vs_whole_snr_db").GetDouble();
        Assert.True(snr >= 30, $"stitched vs whole SNR {snr:F2} dB < 30 dB");
        Assert.True(Math.Abs(snr - goldenSnr) <= 1.0, $"stitched vs whole SNR {snr:F2} dB but the golden says {goldenSnr:F2} dB");

        var fade = fixture.Vocoder.Settings.CrossFadeSamples;
        var joins = new HashSet<int>();
        var at = 0;
        for (var i = 0; i < outputs.Count - 1; i++)
        {
            at += outputs[i].Length;
            joins.Add(at);
            joins.Add(at + fade);
        }

        double joinStep = 0, otherStep = 0;
        for (var i = 1; i < stitched.Length; i++)
        {
            var step = Math.Abs((double)stitched[i] - stitched[i - 1]);
            if (joins.Contains(i))
            {
                joinStep = Math.Max(joinStep, step);
            }
            else
            {
                otherStep = Math.Max(otherStep, step);
            }
        }

        output.WriteLine($"SNR stitched vs whole {snr:F2} dB (golden {goldenSnr:F2} dB); largest step at joins {joinStep:g4}, elsewhere {otherStep:g4}");
        Assert.True(joinStep <= 1.5 * otherStep, $"largest step at a join {joinStep:g4} > 1.5 × largest step elsewhere {otherStep:g4}");
    }

    [Fact]
    public void Short_final_first_chunk_is_one_plain_vocoder_call()
    {
        var s = fixture.Detokenizer.Settings;
        var codes = Enumerable.Range(0, s.FirstChunkTokens + s.LookaheadTokens - 2).Select(i => (i * 71) % 512).ToArray();
        var mel = SpeechRun.Mel(fixture.Detokenizer, codes, seed: 9, oneAtATime: true);
        var chunk = Assert.Single(mel);
        var outputs = SpeechRun.Stitch(fixture.Vocoder, mel);
        var audio = Assert.Single(outputs);
        Assert.Equal(codes.Length * s.Upsample * fixture.Vocoder.Settings.HopLength, audio.Length);
        GoldenTensor.Exact(fixture.Vocoder.Vocode(chunk.Mel), audio, "single final chunk");
    }

    [Fact]
    public void Stitcher_holds_back_lookahead_and_overlap_until_the_final_chunk()
    {
        var v = fixture.Vocoder.Settings;
        var random = new Random(4);
        var mel = Enumerable.Range(0, 40 * v.MelBins).Select(_ => (float)((random.NextDouble() * 2) - 1)).ToArray();
        using var stitcher = fixture.Vocoder.CreateStitcher();
        var first = stitcher.Push(mel.AsSpan(0, 16 * v.MelBins), isFinal: false).Length;
        Assert.Equal((16 - v.LookaheadFrames - v.OverlapFrames) * v.HopLength, first);
        Assert.Equal(v.CrossFadeSamples, stitcher.HeldSamples);
        var second = stitcher.Push(mel.AsSpan(16 * v.MelBins, 16 * v.MelBins), isFinal: false).Length;
        Assert.Equal(16 * v.HopLength, second);
        var last = stitcher.Push(mel.AsSpan(32 * v.MelBins), isFinal: true).Length;
        Assert.Equal((8 + v.LookaheadFrames + v.OverlapFrames) * v.HopLength, last);
        Assert.Equal(40 * v.HopLength, stitcher.SamplesOutput);
        Assert.True(stitcher.IsFinished);
        Assert.Throws<InvalidOperationException>(() => stitcher.Push(mel.AsSpan(0, v.MelBins), isFinal: true));
        stitcher.Reset();
        Assert.Throws<ArgumentException>(() => stitcher.Push(mel.AsSpan(0, (v.OverlapFrames + v.LookaheadFrames - 1) * v.MelBins), isFinal: false));
    }
}
