using VoiceAgent.StreamingEngine.Sampling;

namespace VoiceAgent.StreamingEngine.Tests;

public sealed class TokenSamplerTests
{
    private static float[] RandomLogits(int n, int seed)
    {
        var random = new Random(seed);
        var logits = new float[n];
        for (var i = 0; i < n; i++)
        {
            logits[i] = (float)((random.NextDouble() * 8) - 4);
        }

        return logits;
    }

    [Fact]
    public void Greedy_is_argmax_with_first_index_on_ties()
    {
        var sampler = new TokenSampler(SamplerSettings.Greedy, 640);
        for (var seed = 0; seed < 20; seed++)
        {
            var logits = RandomLogits(640, seed);
            var max = logits.Max();
            Assert.Equal(Array.IndexOf(logits, max), sampler.Sample(logits));
        }

        var tie = new float[640];
        tie[7] = 3;
        tie[9] = 3;
        Assert.Equal(7, sampler.Sample(tie));
    }

    [Fact]
    public void Logit_bias_is_added_before_the_choice_and_leaves_the_input_alone()
    {
        var bias = new float[640];
        bias[29] = -0.7f;
        bias[40] = 0.5f;
        var sampler = new TokenSampler(SamplerSettings.Greedy, 640, logitBias: bias);
        var logits = new float[640];
        logits[29] = 1.0f;   // 0.3 after the bias
        logits[33] = 0.6f;
        Assert.Equal(33, sampler.Sample(logits));
        Assert.Equal(1.0f, logits[29]);
        logits[40] = 0.2f;   // 0.7 after the bias
        Assert.Equal(40, sampler.Sample(logits));
        var scores = new float[640];
        sampler.GetPenalizedLogits(logits, scores);
        Assert.Equal(1.0f - 0.7f, scores[29], 6);
        Assert.Throws<ArgumentException>(() => new TokenSampler(SamplerSettings.Greedy, 640, logitBias: new float[10]));
    }

    [Fact]
    public void Top_k_one_is_greedy_at_any_temperature()
    {
        var sampler = new TokenSampler(new SamplerSettings(1.5, 1, 1, 0), 640, seed: 3);
        for (var seed = 0; seed < 20; seed++)
        {
            var logits = RandomLogits(640, seed);
            Assert.Equal(TokenSampler.ArgMax(logits), sampler.Sample(logits));
        }
    }

    [Fact]
    public void Seeded_sampling_is_reproducible_and_stays_in_the_top_k()
    {
        var settings = new SamplerSettings(1.0, 5, 1, 0);
        var a = new TokenSampler(settings, 640, seed: 42);
        var b = new TokenSampler(settings, 640, seed: 42);
        var c = new TokenSampler(settings, 640, seed: 43);
        var logits = RandomLogits(640, 1);
        var top5 = logits.Select((v, i) => (v, i)).OrderByDescending(x => x.v).Take(5).Select(x => (long)x.i).ToHashSet();
        var sa = Enumerable.Range(0, 200).Select(_ => a.Sample(logits)).ToArray();
        var sb = Enumerable.Range(0, 200).Select(_ => b.Sample(logits)).ToArray();
        var sc = Enumerable.Range(0, 200).Select(_ => c.Sample(logits)).ToArray();
        Assert.Equal(sa, sb);
        Assert.NotEqual(sa, sc);
        Assert.All(sa, id => Assert.Contains(id, top5));
        Assert.True(sa.Distinct().Count() > 1);

        // Reset reseeds.
        a.Reset();
        Assert.Equal(sa[..20], Enumerable.Range(0, 20).Select(_ => a.Sample(logits)).ToArray());

        // All-vocabulary sampling (top_k 0) is reproducible too.
        var all1 = new TokenSampler(new SamplerSettings(0.7, 0, 1, 0), 640, seed: 5);
        var all2 = new TokenSampler(new SamplerSettings(0.7, 0, 1, 0), 640, seed: 5);
        Assert.Equal(Enumerable.Range(0, 50).Select(_ => all1.Sample(logits)), Enumerable.Range(0, 50).Select(_ => all2.Sample(logits)));
    }

    [Fact]
    public void Repetition_penalty_lowers_repeated_ids_within_the_window_only()
    {
        var sampler = new TokenSampler(new SamplerSettings(0, 0, 2.0, 2), 16);
        var logits = new float[16];
        logits[3] = 2.0f;
        logits[7] = 1.5f;
        logits[9] = -1.0f;
        Assert.Equal(3, sampler.Sample(logits));

        sampler.Accept(3);
        Assert.Equal(7, sampler.Sample(logits));
        var penalized = new float[16];
        sampler.GetPenalizedLogits(logits, penalized);
        Assert.Equal(1.0f, penalized[3]);
        Assert.Equal(1.5f, penalized[7]);

        sampler.Accept(9);
        sampler.GetPenalizedLogits(logits, penalized);
        Assert.Equal(-2.0f, penalized[9]);

        // Id 3 slides out of the 2-wide window: no penalty any more.
        sampler.Accept(1);
        Assert.Equal(3, sampler.Sample(logits));
        sampler.GetPenalizedLogits(logits, penalized);
        Assert.Equal(2.0f, penalized[3]);

        // Repeats inside the window are penalised once, not per occurrence.
        sampler.Accept(3);
        sampler.Accept(3);
        sampler.GetPenalizedLogits(logits, penalized);
        Assert.Equal(1.0f, penalized[3]);
    }

    [Fact]
    public void Sampling_allocates_nothing()
    {
        var sampler = new TokenSampler(new SamplerSettings(0.8, 10, 1.3, 32), 640, seed: 1);
        var greedy = new TokenSampler(SamplerSettings.Greedy, 640);
        var logits = RandomLogits(640, 2);
        for (var i = 0; i < 100; i++)
        {
            sampler.Accept(sampler.Sample(logits));
            greedy.Sample(logits);
        }

        var allocated = SteadyAllocation.Measure(() =>
        {
            for (var i = 0; i < 1000; i++)
            {
                sampler.Accept(sampler.Sample(logits));
                greedy.Sample(logits);
            }
        }).Bytes;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Invalid_settings_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplerSettings(-1, 0, 1, 0), 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplerSettings(1, -1, 1, 0), 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplerSettings(1, 0, 0, 0), 10));
    }
}
