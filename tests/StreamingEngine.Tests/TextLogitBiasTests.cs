using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

/// <summary><c>sampling.text_logit_bias</c> through the real decoder: the bias reaches the reply and the end-of-turn estimate.</summary>
[Collection(PackCollection.Name)]
public sealed class TextLogitBiasTests(PackFixture fixture)
{
    private static string BiasedPack(string name, string bias)
    {
        var dir = ScratchPack.CopyDemo("bias", name, linkGolden: true);
        ScratchPack.EditManifest(dir, m => m["sampling"]!["text_logit_bias"] = System.Text.Json.Nodes.JsonNode.Parse(bias));
        return dir;
    }

    [Fact]
    public void The_demo_pack_bias_is_loaded_as_a_dense_row()
    {
        var declared = fixture.Pack.Manifest.Sampling!.TextLogitBias;
        var row = fixture.Generator.TextLogitBias.Span;
        if (declared is null || declared.Count == 0)
        {
            Assert.True(row.IsEmpty);
            return;
        }

        Assert.Equal(fixture.Decoder.VocabSize, row.Length);
        foreach (var (key, value) in declared)
        {
            Assert.Equal((float)value, row[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)]);
        }

        Assert.Equal(declared.Count, row.ToArray().Count(v => v != 0));
    }

    [Fact]
    public void A_large_bias_on_a_first_word_steers_the_reply_to_it()
    {
        var c = EngineTestSupport.E2eCases(fixture)[0];
        var turn = EngineTestSupport.GoldenTurn(fixture, c);
        var vocab = fixture.Pack.TextVocabulary!;
        var sorry = Enumerable.Range(0, vocab.Count).Single(i => vocab.GetToken(i) == "Sorry,");
        using var pack = ModelPackLoader.Load(BiasedPack("sorry", $$"""{"{{sorry}}": 40}"""));
        var decoder = new DualHeadDecoder(pack);
        var generator = new ReplyGenerator(decoder);
        using var state = decoder.CreateState();
        var result = generator.Generate(state, turn, EngineTestSupport.GoldenOptions(fixture, c));
        Assert.StartsWith("Sorry,", result.Text, StringComparison.Ordinal);
        Assert.NotEqual(c.GetProperty("reply_text").GetString(), result.Text);

        using var state2 = decoder.CreateState();
        var estimate = generator.EstimateCompletion(state2, turn, OutputMode.TextOnly, 1);
        Assert.Equal("Sorry,", estimate.FirstWord);
        Assert.Equal(0, state2.Length);
    }
}
