using System.Text.Json.Nodes;
using VoiceAgent.StreamingEngine.ModelPacks;
using Xunit.Abstractions;

namespace VoiceAgent.Vocoder.Tests;

/// <summary>The pack loader's part-2 sections: typed settings, graph wrappers, and file+field errors.</summary>
[Collection(SpeechPackCollection.Name)]
public sealed class SpeechPackTests(SpeechPackFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Demo_pack_exposes_detokenizer_and_vocoder_settings_from_the_manifest()
    {
        var pack = fixture.Pack;
        var m = pack.Manifest;
        Assert.True(pack.HasSpeechOutput);
        var d = pack.DetokenizerSettings!;
        Assert.Same(d, pack.Detokenizer!.Settings);
        Assert.Equal(m.Detokenizer!.Chunking!.FirstChunkTokens, d.FirstChunkTokens);
        Assert.Equal(m.Detokenizer.Chunking.ChunkTokens, d.ChunkTokens);
        Assert.Equal(m.Detokenizer.Chunking.LookaheadTokens, d.LookaheadTokens);
        Assert.Equal(m.Detokenizer.Flow!.Steps, d.EulerSteps);
        Assert.Equal(m.Detokenizer.Flow.TClean, d.TClean);
        Assert.Equal(m.Detokenizer.Cache!.MaxFrames, d.MaxCacheFrames);
        Assert.Equal((uint)m.Detokenizer.Noise!.DefaultSeed!.Value, d.DefaultSeed);
        Assert.Equal(m.Detokenizer.NumLayers * m.Detokenizer.NumHeads * m.Detokenizer.HeadDim, d.CacheFloatsPerFrame);
        var v = pack.VocoderSettings!;
        Assert.Same(v, pack.Vocoder!.Settings);
        Assert.Equal(m.Vocoder!.HopLength, v.HopLength);
        Assert.Equal(m.Vocoder.Stitching!.OverlapFrames, v.OverlapFrames);
        Assert.Equal(m.Vocoder.Stitching.LeftContextFrames, v.LeftContextFrames);
        Assert.Equal(m.Audio!.OutputSampleRate, v.SampleRate);
        Assert.Same(pack.GetGraph(m.Detokenizer.Graph!), pack.Detokenizer.Session);
        Assert.Same(pack.GetGraph(m.Vocoder.Graph!), pack.Vocoder.Session);
        Assert.True(pack.AudioTolerance > 0);
    }

    [Fact]
    public void Manifest_only_load_has_settings_but_no_graph_wrappers()
    {
        using var pack = ModelPackLoader.LoadManifestOnly(fixture.Pack.ManifestPath);
        Assert.True(pack.HasSpeechOutput);
        Assert.NotNull(pack.DetokenizerSettings);
        Assert.NotNull(pack.VocoderSettings);
        Assert.Null(pack.Detokenizer);
        Assert.Null(pack.Vocoder);
    }

    [Fact]
    public void Pack_without_part_two_sections_is_a_text_only_pack()
    {
        var dir = ScratchPack.CopyDemo("speech-packs", "text-only", linkGolden: true);
        ScratchPack.EditManifest(dir, m =>
        {
            m.AsObject().Remove("detokenizer");
            m.AsObject().Remove("vocoder");
            m["graphs"]!.AsObject().Remove("detokenizer_step");
            m["graphs"]!.AsObject().Remove("vocoder");
        });
        using var pack = ModelPackLoader.Load(dir);
        Assert.False(pack.HasSpeechOutput);
        Assert.Null(pack.DetokenizerSettings);
        Assert.Null(pack.Detokenizer);
        Assert.Null(pack.Vocoder);
        Assert.NotNull(pack.DecoderGraph);
    }

    public static TheoryData<string> CorruptionCases => new(Corruptions.Keys);

    [Theory]
    [MemberData(nameof(CorruptionCases))]
    public void Corrupted_speech_section_fails_naming_file_and_field(string name)
    {
        var (edit, field) = Corruptions[name];
        var dir = ScratchPack.CopyDemo("speech-packs", name, linkGolden: true);
        ScratchPack.EditManifest(dir, edit);
        var e = Assert.Throws<ModelPackException>(() => ModelPackLoader.Load(dir).Dispose());
        output.WriteLine(e.Message);
        Assert.StartsWith(ScratchPack.Display(Path.Combine(dir, "manifest.json")) + ": ", e.Message, StringComparison.Ordinal);
        Assert.Equal(field, e.Field);
        Assert.Contains(field, e.Message, StringComparison.Ordinal);
    }

    private static readonly Dictionary<string, (Action<JsonNode> Edit, string Field)> Corruptions = new()
    {
        ["chunk_tokens_zero"] = (m => m["detokenizer"]!["chunking"]!["chunk_tokens"] = 0, "detokenizer.chunking.chunk_tokens"),
        ["first_chunk_missing"] = (m => m["detokenizer"]!["chunking"]!.AsObject().Remove("first_chunk_tokens"), "detokenizer.chunking.first_chunk_tokens"),
        ["lookahead_negative"] = (m => m["detokenizer"]!["chunking"]!["lookahead_tokens"] = -1, "detokenizer.chunking.lookahead_tokens"),
        ["steps_zero"] = (m => m["detokenizer"]!["flow"]!["steps"] = 0, "detokenizer.flow.steps"),
        ["steps_too_many"] = (m => m["detokenizer"]!["flow"]!["steps"] = 51, "detokenizer.flow.steps"),
        ["t_clean_above_one"] = (m => m["detokenizer"]!["flow"]!["t_clean"] = 1.5, "detokenizer.flow.t_clean"),
        ["solver_unknown"] = (m => m["detokenizer"]!["flow"]!["solver"] = "heun", "detokenizer.flow.solver"),
        ["noise_generator_unknown"] = (m => m["detokenizer"]!["noise"]!["generator"] = "philox", "detokenizer.noise.generator"),
        ["seed_not_uint32"] = (m => m["detokenizer"]!["noise"]!["default_seed"] = 1L << 33, "detokenizer.noise.default_seed"),
        ["cache_cap_zero"] = (m => m["detokenizer"]!["cache"]!["max_frames"] = 0, "detokenizer.cache.max_frames"),
        ["cache_names_renamed"] = (m => m["detokenizer"]!["cache"]!["inputs"]![0] = "past_k", "detokenizer.cache.inputs"),
        ["head_dim_wrong"] = (m => m["detokenizer"]!["head_dim"] = 64, "graphs.detokenizer_step.inputs[4].dims[3]"),
        ["n_mels_wrong_type"] = (m => m["detokenizer"]!["n_mels"] = "eighty", "detokenizer.n_mels"),
        ["detokenizer_graph_unknown"] = (m => m["detokenizer"]!["graph"] = "dit", "detokenizer.graph"),
        ["codebook_too_small"] = (m => m["detokenizer"]!["codebook_size"] = 100, "detokenizer.codebook_size"),
        ["overlap_above_chunk"] = (m => m["vocoder"]!["stitching"]!["overlap_frames"] = 17, "vocoder.stitching.overlap_frames"),
        ["left_context_negative"] = (m => m["vocoder"]!["stitching"]!["left_context_frames"] = -2, "vocoder.stitching.left_context_frames"),
        ["crossfade_unknown"] = (m => m["vocoder"]!["stitching"]!["crossfade"] = "linear", "vocoder.stitching.crossfade"),
        ["hop_vs_upsample_rates"] = (m => m["vocoder"]!["hop_length"] = 256, "vocoder.upsample_rates"),
        ["sample_rate_vs_output"] = (m => m["vocoder"]!["sample_rate"] = 24000, "vocoder.sample_rate"),
        ["mel_bins_mismatch"] = (m => m["vocoder"]!["mel"]!["n_mels"] = 100, "vocoder.mel.n_mels"),
        ["vocoder_missing"] = (m => m.AsObject().Remove("vocoder"), "vocoder"),
        ["detokenizer_missing"] = (m => m.AsObject().Remove("detokenizer"), "detokenizer"),
        ["vocoder_output_renamed"] = (m => m["graphs"]!["vocoder"]!["outputs"]![0]!["name"] = "wav", "graphs.vocoder.outputs"),
    };



}
