using System.Globalization;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// Checks a manifest's fields and the relations between them (what manifest.schema.json states plus the cross-field
/// rules of training/validate_manifest.py), failing on the first problem with a <see cref="ModelPackException"/> that
/// names the file and the field.
/// </summary>
internal sealed partial class ManifestValidator
{
    private static readonly string[] DTypes = ["float32", "float16", "bfloat16", "int64", "int32", "bool"];
    private static readonly string[] RequiredSpecials =
        ["msg_end", "user_msg_start", "assistant_msg_start", "media_begin", "media_end", "text_blank", "text_eos", "speech_ct", "speech_ctd"];

    private readonly string _file;

    private ManifestValidator(string file) => _file = file;

    /// <summary>Validates <paramref name="m"/> (read from <paramref name="file"/>, as displayed).</summary>
    public static void Validate(ModelPackManifest m, string file) => new ManifestValidator(file).Run(m);

    internal ModelPackException Fail(string field, string text) => new(_file, field, text);

    private void Run(ModelPackManifest m)
    {
        var version = Req(m.SchemaVersion, "schema_version");
        if (version != 1)
        {
            throw Fail("schema_version", $"schema_version is {version} but this engine reads version 1.");
        }

        Req(m.Name, "name");
        var audio = Req(m.Audio, "audio");
        AtLeast(Req(audio.InputSampleRate, "audio.input_sample_rate"), 8000, "audio.input_sample_rate");
        if (audio.InputChannels is { } channels)
        {
            AtLeast(channels, 1, "audio.input_channels");
        }

        ValidateMel(Req(m.Mel, "mel"));
        var graphs = Req(m.Graphs, "graphs");
        if (graphs.Count == 0)
        {
            throw Fail("graphs", "graphs is empty but must describe at least one graph.");
        }

        foreach (var (name, graph) in graphs)
        {
            ValidateGraph($"graphs.{name}", graph);
        }

        var vocab = ValidateVocab(Req(m.Vocab, "vocab"));
        var tokenizer = Req(m.Tokenizer, "tokenizer");
        ValidateTokenizer(tokenizer, graphs, vocab, m.Mel!);
        var decoder = Req(m.Decoder, "decoder");
        ValidateDecoder(decoder, graphs, vocab, tokenizer);
        var specials = Req(m.SpecialTokens, "special_tokens");
        foreach (var name in RequiredSpecials)
        {
            if (!specials.ContainsKey(name))
            {
                throw Fail($"special_tokens.{name}", $"special_tokens.{name} is missing.");
            }
        }

        foreach (var (name, id) in specials)
        {
            if (id < 0 || id >= vocab.TextVocabSize)
            {
                throw Fail($"special_tokens.{name}", $"special_tokens.{name} is {id} but must be in [0, vocab.text_vocab_size = {vocab.TextVocabSize}).");
            }
        }

        ValidateStream(Req(m.Stream, "stream"), specials);
        ValidateSpeech(m, graphs);
        var sampling = Req(m.Sampling, "sampling");
        ValidateSampler(Req(sampling.Text, "sampling.text"), "sampling.text", vocab.Size);
        ValidateSampler(Req(sampling.Audio, "sampling.audio"), "sampling.audio", vocab.Size);
        ValidateLogitBias(sampling.TextLogitBias, "sampling.text_logit_bias", vocab.Size);
        if (m.Golden?.Tolerance is { } tolerance)
        {
            foreach (var (name, value) in tolerance)
            {
                if (!(value > 0) || double.IsInfinity(value))
                {
                    throw Fail($"golden.tolerance.{name}", $"golden.tolerance.{name} is {Num(value)} but must be a positive number.");
                }
            }
        }
    }

    private void ValidateMel(MelSection mel)
    {
        AtLeast(Req(mel.SampleRate, "mel.sample_rate"), 8000, "mel.sample_rate");
        AtLeast(Req(mel.NFft, "mel.n_fft"), 1, "mel.n_fft");
        AtLeast(Req(mel.HopLength, "mel.hop_length"), 1, "mel.hop_length");
        AtLeast(Req(mel.WinLength, "mel.win_length"), 1, "mel.win_length");
        OneOf(Req(mel.Window, "mel.window"), "mel.window", "hann_periodic", "hann_symmetric");
        AtLeast(Req(mel.NMels, "mel.n_mels"), 1, "mel.n_mels");
        OneOf(Req(mel.MelScale, "mel.mel_scale"), "mel.mel_scale", "slaney", "htk");
        OneOf(Req(mel.MelNorm, "mel.mel_norm"), "mel.mel_norm", "slaney", "none");
        OneOf(Req(mel.Log, "mel.log"), "mel.log", "log10", "ln");
        Positive(Req(mel.LogFloor, "mel.log_floor"), "mel.log_floor");
        Finite(Req(mel.ClampBelowMax, "mel.clamp_below_max"), "mel.clamp_below_max");
        OneOf(Req(mel.ClampMode, "mel.clamp_mode"), "mel.clamp_mode", "running_max", "global_max", "none");
        Finite(Req(mel.Offset, "mel.offset"), "mel.offset");
        var divisor = Req(mel.Divisor, "mel.divisor");
        if (divisor == 0 || !double.IsFinite(divisor))
        {
            throw Fail("mel.divisor", $"mel.divisor is {Num(divisor)} but must be a finite, non-zero number.");
        }

        OneOf(Req(mel.Framing, "mel.framing"), "mel.framing", "streaming", "whisper");
        if (mel.LeftPad is { } pad)
        {
            OneOf(pad, "mel.left_pad", "reflect", "zeros");
        }

        if (mel.FrameGroup is { } group)
        {
            AtLeast(group, 1, "mel.frame_group");
        }
    }

    private void ValidateGraph(string path, GraphSpec graph)
    {
        Req(graph.File, $"{path}.file");
        AtLeast(Req(graph.Opset, $"{path}.opset"), 7, $"{path}.opset");
        foreach (var (kind, list) in new[] { ("inputs", graph.Inputs), ("outputs", graph.Outputs) })
        {
            var tensors = Req(list, $"{path}.{kind}");
            if (tensors.Count == 0)
            {
                throw Fail($"{path}.{kind}", $"{path}.{kind} is empty but must list at least one tensor.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            for (var i = 0; i < tensors.Count; i++)
            {
                var t = tensors[i];
                var at = $"{path}.{kind}[{i}]";
                var name = Req(t.Name, $"{at}.name");
                if (!seen.Add(name))
                {
                    throw Fail($"{at}.name", $"{at}.name '{name}' appears twice in {path}.{kind}.");
                }

                OneOf(Req(t.Dtype, $"{at}.dtype"), $"{at}.dtype", DTypes);
                var dims = Req(t.Dims, $"{at}.dims");
                for (var d = 0; d < dims.Count; d++)
                {
                    if (dims[d].Symbol is { } s ? s.Length == 0 : dims[d].Value < 0)
                    {
                        throw Fail($"{at}.dims[{d}]", $"{at}.dims[{d}] is {dims[d]} but must be a size >= 0 or a non-empty symbolic name.");
                    }
                }
            }
        }

        if (graph.Sha256 is { } sha && (sha.Length != 64 || !sha.All(char.IsAsciiHexDigit)))
        {
            throw Fail($"{path}.sha256", $"{path}.sha256 is '{sha}' but must be 64 hexadecimal digits.");
        }

        if (graph.Bytes is { } bytes)
        {
            AtLeast(bytes, 0, $"{path}.bytes");
        }
    }

    private (long Size, long TextVocabSize, long AudioOffset, long AudioSize) ValidateVocab(VocabSection vocab)
    {
        var size = AtLeast(Req(vocab.Size, "vocab.size"), 1, "vocab.size");
        var text = AtLeast(Req(vocab.TextVocabSize, "vocab.text_vocab_size"), 1, "vocab.text_vocab_size");
        var offset = AtLeast(Req(vocab.AudioTokenOffset, "vocab.audio_token_offset"), 0, "vocab.audio_token_offset");
        var audio = AtLeast(Req(vocab.AudioVocabSize, "vocab.audio_vocab_size"), 1, "vocab.audio_vocab_size");
        if (text > offset)
        {
            throw Fail("vocab.text_vocab_size", $"vocab.text_vocab_size is {text} but must not exceed vocab.audio_token_offset ({offset}): text and audio ids would overlap.");
        }

        if (offset + audio > size)
        {
            throw Fail("vocab.audio_vocab_size", $"vocab.audio_token_offset + vocab.audio_vocab_size is {offset + audio} but must not exceed vocab.size ({size}).");
        }

        var tokens = Req(vocab.TextTokens, "vocab.text_tokens");
        OneOf(Req(tokens.Type, "vocab.text_tokens.type"), "vocab.text_tokens.type", "word", "tiktoken", "bpe", "sentencepiece");
        Req(tokens.File, "vocab.text_tokens.file");
        return (size, text, offset, audio);
    }

    private void ValidateTokenizer(
        TokenizerSection t,
        IReadOnlyDictionary<string, GraphSpec> graphs,
        (long Size, long TextVocabSize, long AudioOffset, long AudioSize) vocab,
        MelSection mel)
    {
        var graphName = Req(t.Graph, "tokenizer.graph");
        var graph = GraphRef(graphs, graphName, "tokenizer.graph");
        var mode = OneOf(Req(t.Mode, "tokenizer.mode"), "tokenizer.mode", "streaming_step", "whole_utterance");
        Positive(Req(t.TokenRateHz, "tokenizer.token_rate_hz"), "tokenizer.token_rate_hz");
        var codebook = AtLeast(Req(t.CodebookSize, "tokenizer.codebook_size"), 2, "tokenizer.codebook_size");
        if (codebook > vocab.AudioSize)
        {
            throw Fail("tokenizer.codebook_size", $"tokenizer.codebook_size is {codebook} but vocab.audio_vocab_size is only {vocab.AudioSize}.");
        }

        var featureDim = AtLeast(Req(t.FeatureDim, "tokenizer.feature_dim"), 1, "tokenizer.feature_dim");
        if (t.FeatureGraph is { } featureGraph)
        {
            GraphRef(graphs, featureGraph, "tokenizer.feature_graph");
        }

        if (mode != "streaming_step")
        {
            return;
        }

        // The streaming step contract (docs/model-pack.md §2): mel chunk in, token/feature/CTC out, caches carried.
        var frames = AtLeast(Req(t.FramesPerStep, "tokenizer.frames_per_step"), 1, "tokenizer.frames_per_step");
        if (t.TokensPerStep is { } tps && tps != 1)
        {
            throw Fail("tokenizer.tokens_per_step", $"tokenizer.tokens_per_step is {tps} but a streaming_step tokenizer must emit 1 token per step.");
        }

        var cache = Req(t.Cache, "tokenizer.cache");
        var inputs = Req(cache.Inputs, "tokenizer.cache.inputs");
        var outputs = Req(cache.Outputs, "tokenizer.cache.outputs");
        if (inputs.Count == 0 || inputs.Count != outputs.Count)
        {
            throw Fail("tokenizer.cache.outputs", $"tokenizer.cache.outputs has {outputs.Count} names but tokenizer.cache.inputs has {inputs.Count}; they must pair up (at least one).");
        }

        var growAxis = Req(cache.GrowAxis, "tokenizer.cache.grow_axis");
        AtLeast(Req(cache.GrowPerStep, "tokenizer.cache.grow_per_step"), 1, "tokenizer.cache.grow_per_step");
        if (cache.InitialLength is { } initial && initial != 0)
        {
            throw Fail("tokenizer.cache.initial_length", $"tokenizer.cache.initial_length is {initial} but turns start from empty caches (0).");
        }

        AtLeast(Req(cache.MaxLength, "tokenizer.cache.max_length"), cache.GrowPerStep!.Value, "tokenizer.cache.max_length");
        var mels = Req(mel.NMels, "mel.n_mels");
        CheckTensor(graph, graphName, "inputs", "mel", "float32", [1, frames, mels], "tokenizer.frames_per_step / mel.n_mels");
        for (var i = 0; i < inputs.Count; i++)
        {
            var input = FindTensor(graph.Inputs!, inputs[i], $"tokenizer.cache.inputs[{i}]", $"graphs.{graphName}.inputs");
            var output = FindTensor(graph.Outputs!, outputs[i], $"tokenizer.cache.outputs[{i}]", $"graphs.{graphName}.outputs");
            if (growAxis < 0 || growAxis >= input.Dims!.Count || !input.Dims[growAxis].IsSymbolic)
            {
                throw Fail("tokenizer.cache.grow_axis", $"tokenizer.cache.grow_axis is {growAxis} but graphs.{graphName} input '{inputs[i]}' has no symbolic dimension there (dims {Dims(input.Dims!)}).");
            }

            if (output.Dims!.Count != input.Dims.Count || output.Dtype != input.Dtype)
            {
                throw Fail($"tokenizer.cache.outputs[{i}]", $"tokenizer.cache.outputs[{i}] '{outputs[i]}' ({output.Dtype} {Dims(output.Dims)}) does not match its input '{inputs[i]}' ({input.Dtype} {Dims(input.Dims)}).");
            }
        }

        CheckTensor(graph, graphName, "outputs", "token", "int64", [1], "tokenizer.tokens_per_step");
        CheckTensor(graph, graphName, "outputs", "feature", "float32", [1, featureDim], "tokenizer.feature_dim");
        if (t.Ctc is { } ctc)
        {
            var output = Req(ctc.Output, "tokenizer.ctc.output");
            var spec = FindTensor(graph.Outputs!, output, "tokenizer.ctc.output", $"graphs.{graphName}.outputs");
            if (spec.Dtype != "int64")
            {
                throw Fail("tokenizer.ctc.output", $"tokenizer.ctc.output '{output}' is {spec.Dtype} in graphs.{graphName}.outputs but CTC ids must be int64.");
            }

            var blank = Req(ctc.BlankId, "tokenizer.ctc.blank_id");
            var chars = Req(ctc.Chars, "tokenizer.ctc.chars");
            if (chars.Count == 0)
            {
                throw Fail("tokenizer.ctc.chars", "tokenizer.ctc.chars is empty.");
            }

            var offset = ctc.CharIdOffset ?? 1;
            if (blank >= offset && blank < offset + chars.Count)
            {
                throw Fail("tokenizer.ctc.blank_id", $"tokenizer.ctc.blank_id {blank} collides with a character id (ids {offset}..{offset + chars.Count - 1} are tokenizer.ctc.chars).");
            }
        }
    }

    private void ValidateDecoder(
        DecoderSection d,
        IReadOnlyDictionary<string, GraphSpec> graphs,
        (long Size, long TextVocabSize, long AudioOffset, long AudioSize) vocab,
        TokenizerSection tokenizer)
    {
        var graphName = Req(d.Graph, "decoder.graph");
        var graph = GraphRef(graphs, graphName, "decoder.graph");
        Req(d.Architecture, "decoder.architecture");
        AtLeast(Req(d.HiddenSize, "decoder.hidden_size"), 1, "decoder.hidden_size");
        var layers = AtLeast(Req(d.NumLayers, "decoder.num_layers"), 1, "decoder.num_layers");
        var audioLayers = AtLeast(Req(d.NumAudioLayers, "decoder.num_audio_layers"), 0, "decoder.num_audio_layers");
        var branch = AtLeast(Req(d.AudioBranchLayerIndex, "decoder.audio_branch_layer_index"), 0, "decoder.audio_branch_layer_index");
        if (branch >= layers)
        {
            throw Fail("decoder.audio_branch_layer_index", $"decoder.audio_branch_layer_index is {branch} but must be below decoder.num_layers ({layers}).");
        }

        var heads = AtLeast(Req(d.NumAttentionHeads, "decoder.num_attention_heads"), 1, "decoder.num_attention_heads");
        var kvHeads = AtLeast(Req(d.NumKvHeads, "decoder.num_kv_heads"), 1, "decoder.num_kv_heads");
        if (heads % kvHeads != 0)
        {
            throw Fail("decoder.num_kv_heads", $"decoder.num_kv_heads is {kvHeads} but must divide decoder.num_attention_heads ({heads}).");
        }

        var headDim = AtLeast(Req(d.HeadDim, "decoder.head_dim"), 1, "decoder.head_dim");
        Positive(Req(d.RopeTheta, "decoder.rope_theta"), "decoder.rope_theta");
        if (d.MaxPositions is { } maxPositions)
        {
            AtLeast(maxPositions, 2, "decoder.max_positions");
        }

        var featureDim = AtLeast(Req(d.FeatureDim, "decoder.feature_dim"), 1, "decoder.feature_dim");
        if (featureDim != tokenizer.FeatureDim)
        {
            throw Fail("decoder.feature_dim", $"decoder.feature_dim is {featureDim} but tokenizer.feature_dim is {tokenizer.FeatureDim}.");
        }

        OneOf(Req(d.Logits, "decoder.logits"), "decoder.logits", "last_position");
        var kv = Req(d.KvCache, "decoder.kv_cache");
        var entries = Req(kv.NumEntries, "decoder.kv_cache.num_entries");
        if (entries != layers + audioLayers)
        {
            throw Fail("decoder.kv_cache.num_entries", $"decoder.kv_cache.num_entries is {entries} but decoder.num_layers + decoder.num_audio_layers is {layers + audioLayers}.");
        }

        Req(kv.Layout, "decoder.kv_cache.layout");
        var kvType = kv.Dtype ?? d.Dtype;
        if (kvType is not null)
        {
            OneOf(kvType, kv.Dtype is null ? "decoder.dtype" : "decoder.kv_cache.dtype", "float32", "float16", "bfloat16");
        }

        var patterns = new[]
        {
            (Req(kv.PastKey, "decoder.kv_cache.past_key"), "decoder.kv_cache.past_key", "inputs", "past_seq"),
            (Req(kv.PastValue, "decoder.kv_cache.past_value"), "decoder.kv_cache.past_value", "inputs", "past_seq"),
            (Req(kv.PresentKey, "decoder.kv_cache.present_key"), "decoder.kv_cache.present_key", "outputs", "total_seq"),
            (Req(kv.PresentValue, "decoder.kv_cache.present_value"), "decoder.kv_cache.present_value", "outputs", "total_seq"),
        };
        foreach (var (pattern, field, kind, _) in patterns)
        {
            if (!pattern.Contains("{i}", StringComparison.Ordinal))
            {
                throw Fail(field, $"{field} is '{pattern}' but must contain '{{i}}'.");
            }
        }

        for (var i = 0; i < entries; i++)
        {
            foreach (var (pattern, field, kind, _) in patterns)
            {
                var name = KvCacheSection.Expand(pattern, i);
                var list = kind == "inputs" ? graph.Inputs! : graph.Outputs!;
                var spec = FindTensor(list, name, field, $"graphs.{graphName}.{kind}");
                var at = $"graphs.{graphName}.{kind}[{IndexOf(list, name)}]";
                var dims = spec.Dims!;
                if (dims.Count != 4)
                {
                    throw Fail($"{at}.dims", $"{at}.dims is {Dims(dims)} but a KV cache entry has 4 dims (batch, kv_heads, seq, head_dim).");
                }

                if (dims[1].Value is { } h && h != kvHeads)
                {
                    throw Fail($"{at}.dims[1]", $"{at}.dims[1] is {h} but decoder.num_kv_heads is {kvHeads}.");
                }

                if (dims[3].Value is { } hd && hd != headDim)
                {
                    throw Fail($"{at}.dims[3]", $"{at}.dims[3] is {hd} but decoder.head_dim is {headDim}.");
                }

                if (!dims[2].IsSymbolic)
                {
                    throw Fail($"{at}.dims[2]", $"{at}.dims[2] is {dims[2]} but the sequence axis of a KV cache must be symbolic.");
                }

                if (kvType is not null && spec.Dtype != kvType)
                {
                    throw Fail($"{at}.dtype", $"{at}.dtype is {spec.Dtype} but the KV cache dtype is {kvType}.");
                }
            }
        }

        CheckTensor(graph, graphName, "inputs", "text_ids", "int64", [1, null], null);
        CheckTensor(graph, graphName, "inputs", "audio_ids", "int64", [1, null], null);
        CheckTensor(graph, graphName, "inputs", "features", "float32", [1, null, featureDim], "decoder.feature_dim");
        CheckTensor(graph, graphName, "inputs", "feature_mask", "float32", [1, null], null);
        CheckTensor(graph, graphName, "outputs", "text_logits", "float32", [1, vocab.Size], "vocab.size");
        CheckTensor(graph, graphName, "outputs", "audio_logits", "float32", [1, vocab.Size], "vocab.size");
        var expectedInputs = 4 + (2 * entries);
        if (graph.Inputs!.Count != expectedInputs)
        {
            throw Fail($"graphs.{graphName}.inputs", $"graphs.{graphName}.inputs lists {graph.Inputs.Count} tensors but the decoder contract has {expectedInputs} (text_ids, audio_ids, features, feature_mask and {2 * entries} KV caches).");
        }
    }

    private void ValidateStream(StreamSection s, IReadOnlyDictionary<string, long> specials)
    {
        AtLeast(Req(s.AudioDelay, "stream.audio_delay"), 0, "stream.audio_delay");
        Special(Req(s.TextBlank, "stream.text_blank"), "stream.text_blank", specials);
        Special(Req(s.TextEos, "stream.text_eos"), "stream.text_eos", specials);
        var modes = Req(s.OutputModeTokens, "stream.output_mode_tokens");
        Special(Req(modes.Text, "stream.output_mode_tokens.text"), "stream.output_mode_tokens.text", specials);
        Special(Req(modes.TextAndAudio, "stream.output_mode_tokens.text_and_audio"), "stream.output_mode_tokens.text_and_audio", specials);
        var stops = Req(s.StopAudioTokens, "stream.stop_audio_tokens");
        if (stops.Count == 0)
        {
            throw Fail("stream.stop_audio_tokens", "stream.stop_audio_tokens is empty but must name at least one token.");
        }

        for (var i = 0; i < stops.Count; i++)
        {
            Special(stops[i], $"stream.stop_audio_tokens[{i}]", specials);
        }

        if (s.MaxNewTokens is { } max)
        {
            AtLeast(max, 1, "stream.max_new_tokens");
        }

        if (s.MaxReplyAudioTokens is { } maxAudio)
        {
            AtLeast(maxAudio, 1, "stream.max_reply_audio_tokens");
        }

        if (s.HistoryTurns is { } history)
        {
            AtLeast(history, 0, "stream.history_turns");
        }
    }

    private void ValidateLogitBias(IReadOnlyDictionary<string, double>? bias, string path, long vocabSize)
    {
        if (bias is null)
        {
            return;
        }

        foreach (var (key, value) in bias)
        {
            if (!long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id >= vocabSize)
            {
                throw Fail($"{path}.{key}", $"{path}.{key} is not a token id: the keys must be ids in [0, vocab.size = {vocabSize}).");
            }

            if (!double.IsFinite(value))
            {
                throw Fail($"{path}.{key}", $"{path}.{key} is {Num(value)} but must be a finite number.");
            }
        }
    }

    private void ValidateSampler(SamplerSection s, string path, long vocabSize)
    {
        var temperature = Req(s.Temperature, $"{path}.temperature");
        if (!(temperature >= 0) || !double.IsFinite(temperature))
        {
            throw Fail($"{path}.temperature", $"{path}.temperature is {Num(temperature)} but must be a finite number >= 0.");
        }

        var topK = AtLeast(Req(s.TopK, $"{path}.top_k"), 0, $"{path}.top_k");
        if (topK > vocabSize)
        {
            throw Fail($"{path}.top_k", $"{path}.top_k is {topK} but vocab.size is {vocabSize}.");
        }

        var penalty = Req(s.RepetitionPenalty, $"{path}.repetition_penalty");
        if (!(penalty > 0) || !double.IsFinite(penalty))
        {
            throw Fail($"{path}.repetition_penalty", $"{path}.repetition_penalty is {Num(penalty)} but must be a finite number > 0 (1 = off).");
        }

        AtLeast(Req(s.RepetitionWindow, $"{path}.repetition_window"), 0, $"{path}.repetition_window");
    }

    private void Special(string name, string field, IReadOnlyDictionary<string, long> specials)
    {
        if (!specials.ContainsKey(name))
        {
            throw Fail(field, $"{field} is '{name}' but special_tokens has no such token.");
        }
    }

    private GraphSpec GraphRef(IReadOnlyDictionary<string, GraphSpec> graphs, string name, string field) =>
        graphs.TryGetValue(name, out var g)
            ? g
            : throw Fail(field, $"{field} is '{name}' but graphs has no such entry (graphs: {string.Join(", ", graphs.Keys)}).");

    private TensorSpec FindTensor(IReadOnlyList<TensorSpec> list, string name, string field, string listPath)
    {
        foreach (var t in list)
        {
            if (t.Name == name)
            {
                return t;
            }
        }

        throw Fail(field, $"{field} needs a tensor '{name}' but {listPath} has none.");
    }

    private static int IndexOf(IReadOnlyList<TensorSpec> list, string name)
    {
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i].Name == name)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>Checks a contract tensor of a graph: present, dtype, rank, and the fixed dims given (null = symbolic expected).</summary>
    private void CheckTensor(GraphSpec graph, string graphName, string kind, string name, string dtype, long?[] dims, string? dimSource)
    {
        var list = kind == "inputs" ? graph.Inputs! : graph.Outputs!;
        var index = IndexOf(list, name);
        var at = $"graphs.{graphName}.{kind}[{index}]";
        if (index < 0)
        {
            throw Fail($"graphs.{graphName}.{kind}", $"graphs.{graphName}.{kind} lacks '{name}', which the engine contract requires.");
        }

        var spec = list[index];
        if (spec.Dtype != dtype)
        {
            throw Fail($"{at}.dtype", $"{at}.dtype is {spec.Dtype} but '{name}' must be {dtype}.");
        }

        if (spec.Dims!.Count != dims.Length)
        {
            throw Fail($"{at}.dims", $"{at}.dims is {Dims(spec.Dims)} but '{name}' has {dims.Length} dims.");
        }

        for (var d = 0; d < dims.Length; d++)
        {
            if (dims[d] is { } expected && spec.Dims[d].Value is { } actual && actual != expected)
            {
                var why = dimSource is null ? string.Empty : $" (from {dimSource})";
                throw Fail($"{at}.dims[{d}]", $"{at}.dims[{d}] is {actual} but must be {expected}{why}.");
            }

            if (dims[d] is null && !spec.Dims[d].IsSymbolic)
            {
                throw Fail($"{at}.dims[{d}]", $"{at}.dims[{d}] is {spec.Dims[d]} but must be symbolic (it is the sequence length).");
            }
        }
    }

    private T Req<T>(T? value, string field)
        where T : struct =>
        value ?? throw Fail(field, $"{field} is missing.");

    private T Req<T>(T? value, string field)
        where T : class =>
        value ?? throw Fail(field, $"{field} is missing.");

    private string Req(string? value, string field) =>
        string.IsNullOrEmpty(value) ? throw Fail(field, $"{field} is missing or empty.") : value;

    private long AtLeast(long value, long minimum, string field) =>
        value >= minimum ? value : throw Fail(field, $"{field} is {value} but must be >= {minimum}.");

    private int AtLeast(int value, int minimum, string field) =>
        value >= minimum ? value : throw Fail(field, $"{field} is {value} but must be >= {minimum}.");

    private void Positive(double value, string field)
    {
        if (!(value > 0) || !double.IsFinite(value))
        {
            throw Fail(field, $"{field} is {Num(value)} but must be a finite number > 0.");
        }
    }

    private void Finite(double value, string field)
    {
        if (!double.IsFinite(value))
        {
            throw Fail(field, $"{field} is {Num(value)} but must be finite.");
        }
    }

    private string OneOf(string value, string field, params string[] allowed) =>
        Array.IndexOf(allowed, value) >= 0
            ? value
            : throw Fail(field, $"{field} is '{value}' but must be one of {string.Join(", ", allowed)}.");

    internal static string Dims(IReadOnlyList<ManifestDim> dims) => $"[{string.Join(", ", dims)}]";

    private static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);
}
