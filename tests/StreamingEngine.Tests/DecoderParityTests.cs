using System.Text.Json;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class DecoderParityTests(PackFixture fixture)
{
    [Theory]
    [InlineData(KvCacheStrategy.PingPong)]
    [InlineData(KvCacheStrategy.OrtAllocated)]
    public void Golden_prefill_and_steps_match(KvCacheStrategy strategy)
    {
        var golden = fixture.Golden("decoder_steps.json");
        var tol = fixture.Tol;
        using var state = fixture.Decoder.CreateState(strategy, blockPositions: 16);
        Assert.Equal(strategy, state.CacheStrategy);
        var prefill = golden.GetProperty("prefill");
        var inputs = prefill.GetProperty("inputs");
        var outputs = prefill.GetProperty("outputs");
        Assert.Equal(0, GoldenTensor.Shape(inputs.GetProperty("past_key_0"))[2]);
        var logits = state.Prefill(
            GoldenTensor.I64(inputs.GetProperty("text_ids")),
            GoldenTensor.I64(inputs.GetProperty("audio_ids")),
            GoldenTensor.F32(inputs.GetProperty("features")),
            GoldenTensor.F32(inputs.GetProperty("feature_mask")));
        GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("text_logits")), logits.Text, tol, "prefill text_logits");
        GoldenTensor.Near(GoldenTensor.F32(outputs.GetProperty("audio_logits")), logits.Audio, tol, "prefill audio_logits");
        ComparePresents(state, outputs, "prefill");

        var s = 0;
        foreach (var step in golden.GetProperty("steps").EnumerateArray())
        {
            var i = step.GetProperty("inputs");
            var o = step.GetProperty("outputs");
            var l = state.Step(GoldenTensor.I64(i.GetProperty("text_ids"))[0], GoldenTensor.I64(i.GetProperty("audio_ids"))[0]);
            GoldenTensor.Near(GoldenTensor.F32(o.GetProperty("text_logits")), l.Text, tol, $"step {s} text_logits");
            GoldenTensor.Near(GoldenTensor.F32(o.GetProperty("audio_logits")), l.Audio, tol, $"step {s} audio_logits");
            s++;
        }

        // The golden keeps only the final cache shape (the step logits already check the whole chain).
        var finalShape = golden.GetProperty("final_present_shape").EnumerateArray().Select(d => d.GetInt32()).ToArray();
        Assert.Equal(finalShape[2], state.Length);
        for (var e = 0; e < fixture.Decoder.NumEntries; e++)
        {
            Assert.Equal(finalShape.Aggregate(1, (a, b) => a * b), state.GetCache(e, value: false).Length);
        }
    }

    private void ComparePresents(DecoderState state, JsonElement outputs, string what)
    {
        var kv = fixture.Pack.Manifest.Decoder!.KvCache!;
        for (var e = 0; e < fixture.Decoder.NumEntries; e++)
        {
            var key = outputs.GetProperty(KvCacheSection.Expand(kv.PresentKey!, e));
            var value = outputs.GetProperty(KvCacheSection.Expand(kv.PresentValue!, e));
            Assert.Equal(GoldenTensor.Shape(key)[2], state.Length);
            GoldenTensor.Near(GoldenTensor.F32(key), state.GetCache(e, value: false), fixture.Tol, $"{what} present_key_{e}");
            GoldenTensor.Near(GoldenTensor.F32(value), state.GetCache(e, value: true), fixture.Tol, $"{what} present_value_{e}");
        }
    }
}
