namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// The part-2 sections (docs/model-pack-part2.md): <c>detokenizer</c> and <c>vocoder</c>, both present (a speech pack)
/// or both absent (a text-only pack), with the ranges the streaming algorithm relies on and the graph contracts.
/// </summary>
internal sealed partial class ManifestValidator
{
    /// <summary>The Euler step counts the engine accepts.</summary>
    internal const int MaxEulerSteps = 50;

    private void ValidateSpeech(ModelPackManifest m, IReadOnlyDictionary<string, GraphSpec> graphs)
    {
        if (m.Detokenizer is null && m.Vocoder is null)
        {
            return;
        }

        var detokenizer = m.Detokenizer ?? throw Fail("detokenizer", "detokenizer is missing but the manifest has a vocoder section; a speech pack needs both (or neither, for a text-only pack).");
        var vocoder = m.Vocoder ?? throw Fail("vocoder", "vocoder is missing but the manifest has a detokenizer section; a speech pack needs both (or neither, for a text-only pack).");
        var (nMels, upsample, firstTokens, chunkTokens) = ValidateDetokenizer(detokenizer, graphs, m.Vocab!.AudioVocabSize!.Value);
        ValidateVocoder(vocoder, graphs, m.Audio!, nMels, upsample, firstTokens, chunkTokens);
    }

    private (int NMels, int Upsample, int FirstTokens, int ChunkTokens) ValidateDetokenizer(
        DetokenizerSection d, IReadOnlyDictionary<string, GraphSpec> graphs, long audioVocabSize)
    {
        var graphName = Req(d.Graph, "detokenizer.graph");
        var graph = GraphRef(graphs, graphName, "detokenizer.graph");
        var codebook = AtLeast(Req(d.CodebookSize, "detokenizer.codebook_size"), 1, "detokenizer.codebook_size");
        if (codebook < audioVocabSize)
        {
            throw Fail("detokenizer.codebook_size", $"detokenizer.codebook_size is {codebook} but vocab.audio_vocab_size is {audioVocabSize}: codes the decoder can produce would have no embedding.");
        }

        var upsample = AtLeast(Req(d.Upsample, "detokenizer.upsample"), 1, "detokenizer.upsample");
        var nMels = AtLeast(Req(d.NMels, "detokenizer.n_mels"), 1, "detokenizer.n_mels");
        var layers = AtLeast(Req(d.NumLayers, "detokenizer.num_layers"), 1, "detokenizer.num_layers");
        var heads = AtLeast(Req(d.NumHeads, "detokenizer.num_heads"), 1, "detokenizer.num_heads");
        var headDim = AtLeast(Req(d.HeadDim, "detokenizer.head_dim"), 1, "detokenizer.head_dim");

        var flow = Req(d.Flow, "detokenizer.flow");
        if (flow.Solver is { } solver)
        {
            OneOf(solver, "detokenizer.flow.solver", "euler");
        }

        if (flow.Prediction is { } prediction)
        {
            OneOf(prediction, "detokenizer.flow.prediction", "velocity");
        }

        var steps = Req(flow.Steps, "detokenizer.flow.steps");
        if (steps is < 1 or > MaxEulerSteps)
        {
            throw Fail("detokenizer.flow.steps", $"detokenizer.flow.steps is {steps} but must be in 1..{MaxEulerSteps}.");
        }

        var tClean = Req(flow.TClean, "detokenizer.flow.t_clean");
        if (!(tClean > 0 && tClean <= 1))
        {
            throw Fail("detokenizer.flow.t_clean", $"detokenizer.flow.t_clean is {Num(tClean)} but must be in (0, 1].");
        }

        var noise = Req(d.Noise, "detokenizer.noise");
        OneOf(Req(noise.Generator, "detokenizer.noise.generator"), "detokenizer.noise.generator", "splitmix64_box_muller");
        if (noise.DefaultSeed is { } seed && seed is < 0 or > uint.MaxValue)
        {
            throw Fail("detokenizer.noise.default_seed", $"detokenizer.noise.default_seed is {seed} but must be a uint32 (0..{uint.MaxValue}).");
        }

        var chunking = Req(d.Chunking, "detokenizer.chunking");
        var first = AtLeast(Req(chunking.FirstChunkTokens, "detokenizer.chunking.first_chunk_tokens"), 1, "detokenizer.chunking.first_chunk_tokens");
        var chunk = AtLeast(Req(chunking.ChunkTokens, "detokenizer.chunking.chunk_tokens"), 1, "detokenizer.chunking.chunk_tokens");
        AtLeast(Req(chunking.LookaheadTokens, "detokenizer.chunking.lookahead_tokens"), 0, "detokenizer.chunking.lookahead_tokens");

        var cache = Req(d.Cache, "detokenizer.cache");
        AtLeast(Req(cache.MaxFrames, "detokenizer.cache.max_frames"), 1, "detokenizer.cache.max_frames");
        if (cache.GrowAxis is { } axis && axis != 2)
        {
            throw Fail("detokenizer.cache.grow_axis", $"detokenizer.cache.grow_axis is {axis} but the cache layout is [layers, heads, frames, head_dim] (axis 2).");
        }

        if (cache.InitialLength is { } initial && initial != 0)
        {
            throw Fail("detokenizer.cache.initial_length", $"detokenizer.cache.initial_length is {initial} but every reply starts with an empty cache (0).");
        }

        FixedNames(cache.Inputs, "detokenizer.cache.inputs", "cache_k", "cache_v");
        FixedNames(cache.Outputs, "detokenizer.cache.outputs", "k_chunk", "v_chunk");

        // The graph contract (§2).
        var kv = new long?[] { layers, heads, null, headDim };
        CheckTensor(graph, graphName, "inputs", "x_t", "float32", [1, null, nMels], "detokenizer.n_mels");
        CheckTensor(graph, graphName, "inputs", "tokens", "int64", [1, null], null);
        CheckTensor(graph, graphName, "inputs", "t", "float32", [1], null);
        CheckTensor(graph, graphName, "inputs", "start_frame", "int64", [1], null);
        CheckTensor(graph, graphName, "inputs", "cache_k", "float32", kv, "detokenizer.num_layers/num_heads/head_dim");
        CheckTensor(graph, graphName, "inputs", "cache_v", "float32", kv, "detokenizer.num_layers/num_heads/head_dim");
        CheckTensor(graph, graphName, "outputs", "velocity", "float32", [1, null, nMels], "detokenizer.n_mels");
        CheckTensor(graph, graphName, "outputs", "k_chunk", "float32", kv, "detokenizer.num_layers/num_heads/head_dim");
        CheckTensor(graph, graphName, "outputs", "v_chunk", "float32", kv, "detokenizer.num_layers/num_heads/head_dim");
        if (graph.Inputs!.Count != 6)
        {
            throw Fail($"graphs.{graphName}.inputs", $"graphs.{graphName}.inputs lists {graph.Inputs.Count} tensors but the detokenizer contract has 6 (x_t, tokens, t, start_frame, cache_k, cache_v).");
        }

        return (nMels, upsample, first, chunk);
    }

    private void ValidateVocoder(
        VocoderSection v, IReadOnlyDictionary<string, GraphSpec> graphs, AudioSection audio, int nMels, int upsample, int firstTokens, int chunkTokens)
    {
        var graphName = Req(v.Graph, "vocoder.graph");
        var graph = GraphRef(graphs, graphName, "vocoder.graph");
        var rate = AtLeast(Req(v.SampleRate, "vocoder.sample_rate"), 8000, "vocoder.sample_rate");
        if (audio.OutputSampleRate is { } outputRate && outputRate != rate)
        {
            throw Fail("vocoder.sample_rate", $"vocoder.sample_rate is {rate} but audio.output_sample_rate is {outputRate}.");
        }

        var hop = AtLeast(Req(v.HopLength, "vocoder.hop_length"), 1, "vocoder.hop_length");
        if (v.UpsampleRates is { Count: > 0 } rates)
        {
            long product = 1;
            for (var i = 0; i < rates.Count; i++)
            {
                product *= AtLeast(rates[i], 1, $"vocoder.upsample_rates[{i}]");
            }

            if (product != hop)
            {
                throw Fail("vocoder.upsample_rates", $"vocoder.upsample_rates multiply to {product} but vocoder.hop_length is {hop}.");
            }
        }

        if (v.Mel is { } mel)
        {
            if (mel.NMels is { } bins && bins != nMels)
            {
                throw Fail("vocoder.mel.n_mels", $"vocoder.mel.n_mels is {bins} but detokenizer.n_mels is {nMels}.");
            }

            if (mel.HopLength is { } melHop && melHop != hop)
            {
                throw Fail("vocoder.mel.hop_length", $"vocoder.mel.hop_length is {melHop} but vocoder.hop_length is {hop}.");
            }

            if (mel.Mean is { } mean && mean.Count != nMels)
            {
                throw Fail("vocoder.mel.mean", $"vocoder.mel.mean has {mean.Count} values but the mel has {nMels} bins.");
            }

            if (mel.Std is { } std)
            {
                if (std.Count != nMels)
                {
                    throw Fail("vocoder.mel.std", $"vocoder.mel.std has {std.Count} values but the mel has {nMels} bins.");
                }

                for (var i = 0; i < std.Count; i++)
                {
                    Positive(std[i], $"vocoder.mel.std[{i}]");
                }
            }
        }

        var stitching = Req(v.Stitching, "vocoder.stitching");
        var overlap = AtLeast(Req(stitching.OverlapFrames, "vocoder.stitching.overlap_frames"), 0, "vocoder.stitching.overlap_frames");
        AtLeast(Req(stitching.LeftContextFrames, "vocoder.stitching.left_context_frames"), 0, "vocoder.stitching.left_context_frames");
        var lookahead = stitching.LookaheadFrames is { } r ? AtLeast(r, 0, "vocoder.stitching.lookahead_frames") : 0;
        if (stitching.Crossfade is { } crossfade)
        {
            OneOf(crossfade, "vocoder.stitching.crossfade", "raised_cosine");
        }

        // Every non-final mel chunk must cover the look-ahead it discards and the overlap it holds back (§4).
        var smallest = Math.Min(firstTokens, chunkTokens) * upsample;
        if (overlap + lookahead > smallest)
        {
            throw Fail("vocoder.stitching.overlap_frames", $"vocoder.stitching.overlap_frames + lookahead_frames is {overlap + lookahead} but the smallest non-final mel chunk has {smallest} frames (min(detokenizer.chunking.first_chunk_tokens, chunk_tokens) × detokenizer.upsample).");
        }

        CheckTensor(graph, graphName, "inputs", "mel", "float32", [1, null, nMels], "detokenizer.n_mels");
        CheckTensor(graph, graphName, "outputs", "audio", "float32", [1, null], null);
        if (graph.Inputs!.Count != 1)
        {
            throw Fail($"graphs.{graphName}.inputs", $"graphs.{graphName}.inputs lists {graph.Inputs.Count} tensors but the vocoder contract has 1 (mel).");
        }
    }

    private void FixedNames(IReadOnlyList<string>? names, string field, params string[] expected)
    {
        if (names is not null && !names.SequenceEqual(expected, StringComparer.Ordinal))
        {
            throw Fail(field, $"{field} is [{string.Join(", ", names)}] but the engine's contract names are [{string.Join(", ", expected)}].");
        }
    }
}
