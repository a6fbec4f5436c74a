using System.Text.Json.Nodes;
using VoiceAgent.Core;
using VoiceAgent.StreamingEngine.ModelPacks;
using Xunit.Abstractions;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class ModelPackTests(PackFixture fixture, ITestOutputHelper output)
{
    private static string DemoDir => VoiceAgentPaths.DemoPackDirectory!;

    [Fact]
    public void DemoPack_loads_with_graphs_tokens_and_vocabulary()
    {
        var pack = fixture.Pack;
        Assert.True(pack.HasGraphs);
        Assert.Equal("models/demo/manifest.json", pack.DisplayPath);
        Assert.Equal(pack.Manifest.Graphs!.Count, pack.Graphs.Count);
        var t = pack.Tokens;
        var specials = pack.Manifest.SpecialTokens!;
        Assert.Equal(specials["text_blank"], t.TextBlank);
        Assert.Equal(specials["msg_end"], t.MsgEnd);
        Assert.Equal(pack.Manifest.Stream!.AudioDelay, t.AudioDelay);
        Assert.Equal(pack.Manifest.Vocab!.AudioTokenOffset, t.AudioTokenOffset);
        Assert.Contains(t.MsgEnd, t.StopAudioTokens);
        Assert.NotNull(pack.TextVocabulary);
        Assert.Null(pack.TextVocabulary!.GetWord(t.TextBlank));
        Assert.Null(pack.TextVocabulary.GetWord(t.AudioTokenOffset));
        Assert.True(pack.GraphTolerance <= 1e-3);
        Assert.True(pack.MelTolerance <= 1e-4);
    }

    [Fact]
    public void Kimi_example_manifest_loads_manifest_only()
    {
        var path = Path.Combine(VoiceAgentPaths.Root!, "training", "kimi_manifest_example.json");
        using var pack = ModelPackLoader.LoadManifestOnly(path);
        Assert.False(pack.HasGraphs);
        Assert.Null(pack.TextVocabulary);
        var m = pack.Manifest;
        Assert.Equal(m.Decoder!.NumLayers + m.Decoder.NumAudioLayers, m.Decoder.KvCache!.NumEntries);
        Assert.Equal(m.Vocab!.AudioTokenOffset, pack.Tokens.AudioTokenOffset);
        Assert.Equal(m.Stream!.AudioDelay, pack.Tokens.AudioDelay);
        Assert.Equal(m.Stream.StopAudioTokens!.Count, pack.Tokens.StopAudioTokens.Count);
        Assert.Throws<InvalidOperationException>(() => pack.DecoderGraph);
    }

    [Fact]
    public void Kimi_example_full_load_names_the_missing_graph_file()
    {
        var path = Path.Combine(VoiceAgentPaths.Root!, "training", "kimi_manifest_example.json");
        var e = Assert.Throws<ModelPackException>(() => ModelPackLoader.Load(path));
        Assert.StartsWith("training/kimi_manifest_example.json: ", e.Message, StringComparison.Ordinal);
        Assert.Matches(@"graphs\.\w+\.file", e.Field!);
    }

    public static TheoryData<string> CorruptionCases => new(Corruptions.Keys);

    [Theory]
    [MemberData(nameof(CorruptionCases))]
    public void Corrupted_pack_fails_naming_file_and_field(string name)
    {
        var (apply, field, file) = Corruptions[name];
        var dir = ScratchPack.CopyDemo("packs", name);
        apply(dir);
        var e = Assert.Throws<ModelPackException>(() => ModelPackLoader.Load(dir).Dispose());
        output.WriteLine(e.Message);
        var shownFile = ScratchPack.Display(Path.Combine(dir, file));
        Assert.StartsWith(shownFile + ": ", e.Message, StringComparison.Ordinal);
        if (field is not null)
        {
            Assert.Equal(field, e.Field);
            Assert.Contains(field, e.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Wrong_dtype_message_names_manifest_field_and_graph()
    {
        var dir = ScratchPack.CopyDemo("packs", "dtype-message");
        Corruptions["kv_dtype_float16"].Apply(dir);
        var e = Assert.Throws<ModelPackException>(() => ModelPackLoader.Load(dir).Dispose());
        Assert.EndsWith("graphs.decoder.inputs[4].dtype is float16 but decoder.onnx declares float32.", e.Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, (Action<string> Apply, string? Field, string File)> Corruptions = new()
    {
        // A dtype the graph does not have (consistently in the manifest, so only the graph check can catch it).
        ["kv_dtype_float16"] = (dir => ScratchPack.EditManifest(dir, m =>
        {
            m["decoder"]!["kv_cache"]!["dtype"] = "float16";
            foreach (var list in new[] { "inputs", "outputs" })
            {
                foreach (var t in m["graphs"]!["decoder"]![list]!.AsArray())
                {
                    if (t!["name"]!.GetValue<string>().Contains("_key_", StringComparison.Ordinal) || t["name"]!.GetValue<string>().Contains("_value_", StringComparison.Ordinal))
                    {
                        t["dtype"] = "float16";
                    }
                }
            }
        }), "graphs.decoder.inputs[4].dtype", "manifest.json"),
        ["feature_dtype_contract"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["decoder"]!["inputs"]![2]!["dtype"] = "float16"), "graphs.decoder.inputs[2].dtype", "manifest.json"),
        ["missing_input"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["decoder"]!["inputs"]!.AsArray().RemoveAt(3)), "graphs.decoder.inputs", "manifest.json"),
        ["extra_input"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["encoder_step"]!["inputs"]!.AsArray().Add(
            JsonNode.Parse("""{"name": "extra", "dtype": "float32", "dims": [1]}"""))), "graphs.encoder_step.inputs[3].name", "manifest.json"),
        ["wrong_fixed_dim"] = (dir => ScratchPack.EditManifest(dir, m =>
        {
            var dims = m["graphs"]!["encoder_step"]!["outputs"]![2]!["dims"]!.AsArray();
            dims[0] = dims[0]!.GetValue<int>() + 1;
        }), "graphs.encoder_step.outputs[2].dims[0]", "manifest.json"),
        ["wrong_contract_dim"] = (dir => ScratchPack.EditManifest(dir, m =>
        {
            var dims = m["graphs"]!["decoder"]!["inputs"]![2]!["dims"]!.AsArray();
            dims[2] = dims[2]!.GetValue<int>() - 1;
        }), "graphs.decoder.inputs[2].dims[2]", "manifest.json"),
        ["symbolic_dim_renamed"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["decoder"]!["inputs"]![0]!["dims"]![1] = "length"), "graphs.decoder.inputs[0].dims[1]", "manifest.json"),
        ["bad_token_id"] = (dir => ScratchPack.EditManifest(dir, m => m["special_tokens"]!["text_blank"] = m["vocab"]!["size"]!.GetValue<long>() + 5), "special_tokens.text_blank", "manifest.json"),
        ["negative_delay"] = (dir => ScratchPack.EditManifest(dir, m => m["stream"]!["audio_delay"] = -1), "stream.audio_delay", "manifest.json"),
        ["negative_history_turns"] = (dir => ScratchPack.EditManifest(dir, m => m["stream"]!["history_turns"] = -1), "stream.history_turns", "manifest.json"),
        ["kv_entries_inconsistent"] = (dir => ScratchPack.EditManifest(dir, m => m["decoder"]!["kv_cache"]!["num_entries"] = m["decoder"]!["num_layers"]!.GetValue<int>()), "decoder.kv_cache.num_entries", "manifest.json"),
        ["logit_bias_key_not_an_id"] = (dir => ScratchPack.EditManifest(dir, m => m["sampling"]!["text_logit_bias"] = JsonNode.Parse("""{"Sorry,": -0.7}""")), "sampling.text_logit_bias.Sorry,", "manifest.json"),
        ["logit_bias_id_out_of_range"] = (dir => ScratchPack.EditManifest(dir, m => m["sampling"]!["text_logit_bias"] = JsonNode.Parse("""{"1000000": -0.7}""")), "sampling.text_logit_bias.1000000", "manifest.json"),
        ["temperature_negative"] = (dir => ScratchPack.EditManifest(dir, m => m["sampling"]!["audio"]!["temperature"] = -0.5), "sampling.audio.temperature", "manifest.json"),
        ["required_field_missing"] = (dir => ScratchPack.EditManifest(dir, m => m["decoder"]!.AsObject().Remove("head_dim")), "decoder.head_dim", "manifest.json"),
        ["wrong_json_type"] = (dir => ScratchPack.EditManifest(dir, m => m["decoder"]!["num_layers"] = "four"), "decoder.num_layers", "manifest.json"),
        ["stop_token_unknown"] = (dir => ScratchPack.EditManifest(dir, m => m["stream"]!["stop_audio_tokens"]![0] = "no_such_token"), "stream.stop_audio_tokens[0]", "manifest.json"),
        ["missing_graph_file"] = (dir => File.Delete(Path.Combine(dir, "decoder.onnx")), "graphs.decoder.file", "manifest.json"),
        ["invalid_json"] = (dir =>
        {
            var path = Path.Combine(dir, "manifest.json");
            var text = File.ReadAllText(path);
            File.WriteAllText(path, text[..(text.Length / 2)]);
        }, null, "manifest.json"),
        ["sha_mismatch"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["decoder"]!["sha256"] = new string('0', 64)), "graphs.decoder.sha256", "manifest.json"),
        ["bytes_mismatch"] = (dir => ScratchPack.EditManifest(dir, m => m["graphs"]!["encoder_step"]!["bytes"] = m["graphs"]!["encoder_step"]!["bytes"]!.GetValue<long>() + 1), "graphs.encoder_step.bytes", "manifest.json"),
        ["vocab_bad_key"] = (dir => File.WriteAllText(Path.Combine(dir, "text_vocab.json"), """{"0": "<|msg_end|>", "99999": "Oops"}"""), "99999", "text_vocab.json"),
    };



}
