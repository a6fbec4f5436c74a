using System.Text.Json;
using VoiceAgent.StreamingEngine.Stages;

namespace VoiceAgent.StreamingEngine.Tests;

/// <summary>Helpers shared by the end-to-end and multi-turn tests.</summary>
internal static class EngineTestSupport
{
    /// <summary>PCM → streaming mel → tokenizer, fed in <paramref name="chunk"/>-sample pieces as a live call would.</summary>
    public static EncodedTurn Encode(PackFixture fixture, float[] pcm, int chunk = 320)
    {
        using var encoder = new UserTurnEncoder(fixture.Tokenizer);
        for (var start = 0; start < pcm.Length; start += chunk)
        {
            encoder.PushAudio(pcm.AsSpan(start, Math.Min(chunk, pcm.Length - start)));
        }

        return encoder.Complete();
    }

    /// <summary>The golden case's user turn as the encoder golden stored it.</summary>
    public static EncodedTurn GoldenTurn(PackFixture fixture, JsonElement c) => new(
        GoldenTensor.I64(c.GetProperty("encoder_tokens")),
        GoldenTensor.F32(c.GetProperty("encoder_features")),
        fixture.Decoder.FeatureDim,
        [],
        c.GetProperty("user_transcript").GetString()!);

    public static OutputMode Mode(JsonElement c) => c.GetProperty("mode").GetString() switch
    {
        "speech_ctd" => OutputMode.TextAndAudio,
        "speech_ct" => OutputMode.TextOnly,
        var m => throw new InvalidDataException($"unknown golden mode {m}"),
    };

    /// <summary>
    /// The generation cap the reference used: when the golden reply ended on a stop rule (its last pair is the
    /// closing position), the manifest's cap applies; otherwise the reference ran into its own cap, which is the
    /// number of generated pairs (training/infer.py generate() defaults to 160, the manifest says 200).
    /// </summary>
    public static ReplyOptions GoldenOptions(PackFixture fixture, JsonElement c)
    {
        var text = GoldenTensor.I64(c.GetProperty("generated_text_ids"));
        var audio = GoldenTensor.I64(c.GetProperty("generated_audio_ids"));
        var t = fixture.Pack.Tokens;
        var closed = text.Length > 0 && text[^1] == t.TextBlank && audio[^1] == t.MsgEnd;
        return new ReplyOptions { Mode = Mode(c), MaxNewTokens = closed ? null : text.Length };
    }

    public static JsonElement[] E2eCases(PackFixture fixture) => [.. fixture.Golden("e2e.json").GetProperty("cases").EnumerateArray()];
}
