using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>One tokenizer step's outputs (views into the stream's buffers, valid until its next step).</summary>
public readonly ref struct TokenizerStep
{
    internal TokenizerStep(int index, long token, ReadOnlySpan<float> feature, ReadOnlySpan<long> ctcIds)
    {
        Index = index;
        Token = token;
        Feature = feature;
        CtcIds = ctcIds;
    }

    /// <summary>0-based step of the turn.</summary>
    public int Index { get; }

    /// <summary>Semantic token (0..codebook_size−1).</summary>
    public long Token { get; }

    /// <summary>Continuous feature of the chunk.</summary>
    public ReadOnlySpan<float> Feature { get; }

    /// <summary>Greedy CTC ids of the chunk's frames.</summary>
    public ReadOnlySpan<long> CtcIds { get; }
}

/// <summary>
/// Per-turn state of the <see cref="SemanticTokenizer"/>: the growing caches, a partial chunk of mel frames, and the
/// turn's tokens, features and CTC ids so far. Input, output and cache tensors are created once and reused, so a step
/// allocates nothing managed beyond the cache views (see docs/engine.md). Not thread-safe; <see cref="Reset"/> at the
/// start of every user turn.
/// </summary>
public sealed class SemanticTokenizerStream : IDisposable
{
    private const int InitialSteps = 64;

    private readonly SemanticTokenizer _tokenizer;
    private readonly float[] _mel;
    private readonly long[] _token = new long[1];
    private readonly float[] _feature;
    private readonly long[] _ctc;
    private readonly OnnxTensor _melTensor;
    private readonly OnnxTensor _tokenTensor;
    private readonly OnnxTensor _featureTensor;
    private readonly OnnxTensor? _ctcTensor;
    private readonly GrowingCache[] _caches;
    private readonly OnnxTensor[] _inputs;
    private readonly OnnxTensor?[] _outputs;
    private readonly OnnxRunOptions _runOptions = new();
    private int _pendingFloats;
    private long[] _tokens = new long[InitialSteps];
    private float[] _features;
    private long[] _ctcIds;
    private int _steps;

    internal SemanticTokenizerStream(SemanticTokenizer tokenizer)
    {
        _tokenizer = tokenizer;
        var session = tokenizer.Session;
        _mel = new float[tokenizer.FramesPerStep * tokenizer.MelBins];
        _feature = new float[tokenizer.FeatureDim];
        _ctc = new long[Math.Max(1, tokenizer.CtcIdsPerStep)];
        _features = new float[InitialSteps * tokenizer.FeatureDim];
        _ctcIds = new long[InitialSteps * Math.Max(1, tokenizer.CtcIdsPerStep)];
        _melTensor = OnnxTensor.FromArray(_mel, [.. session.Inputs[tokenizer.MelIndex].Dimensions]);
        _tokenTensor = OnnxTensor.FromArray(_token, [.. session.Outputs[tokenizer.TokenIndex].Dimensions]);
        _featureTensor = OnnxTensor.FromArray(_feature, [.. session.Outputs[tokenizer.FeatureIndex].Dimensions]);
        if (tokenizer.CtcIndex >= 0)
        {
            _ctcTensor = OnnxTensor.FromArray(_ctc, [.. session.Outputs[tokenizer.CtcIndex].Dimensions]);
        }

        _caches = new GrowingCache[tokenizer.CacheInputIndices.Length];
        for (var i = 0; i < _caches.Length; i++)
        {
            // Blocks of 32 steps: 64 frames of [4, 4, ·, 48] float32 = 192 KiB per buffer for the demo.
            _caches[i] = new GrowingCache(tokenizer.CacheDims[i], tokenizer.CacheAxis, tokenizer.CacheTypes[i], tokenizer.CacheStrategy, 32 * tokenizer.CacheGrowPerStep);
        }

        _inputs = new OnnxTensor[session.Inputs.Count];
        _outputs = new OnnxTensor?[session.Outputs.Count];
        _inputs[tokenizer.MelIndex] = _melTensor;
    }

    /// <summary>The tokenizer this stream runs.</summary>
    public SemanticTokenizer Tokenizer => _tokenizer;

    /// <summary>Steps (tokens) so far in this turn.</summary>
    public int StepCount => _steps;

    /// <summary>Cache positions held (2 per step for the demo).</summary>
    public int CacheLength => _caches.Length == 0 ? 0 : _caches[0].Length;

    /// <summary>Whole mel frames buffered towards the next step.</summary>
    public int PendingFrames => _pendingFloats / _tokenizer.MelBins;

    /// <summary>The turn's tokens so far.</summary>
    public ReadOnlySpan<long> Tokens => _tokens.AsSpan(0, _steps);

    /// <summary>The turn's features so far, row-major <c>[StepCount, FeatureDim]</c>.</summary>
    public ReadOnlySpan<float> Features => _features.AsSpan(0, _steps * _tokenizer.FeatureDim);

    /// <summary>The turn's CTC ids so far.</summary>
    public ReadOnlySpan<long> CtcIds => _ctcIds.AsSpan(0, _steps * _tokenizer.CtcIdsPerStep);

    /// <summary>The strategy the caches use.</summary>
    public KvCacheStrategy CacheStrategy => _caches.Length == 0 ? _tokenizer.CacheStrategy : _caches[0].Strategy;

    /// <summary>The greedy CTC transcript of the turn so far.</summary>
    public string Transcript => _tokenizer.Ctc?.Decode(CtcIds) ?? string.Empty;

    /// <summary>
    /// Runs one step on exactly <see cref="SemanticTokenizer.FramesPerStep"/> frame-major mel frames. Frames buffered
    /// by <see cref="PushFrames"/> must not be pending.
    /// </summary>
    /// <exception cref="EncoderCacheFullException">The turn already holds the supported maximum.</exception>
    public TokenizerStep PushChunk(ReadOnlySpan<float> melChunk, CancellationToken cancellationToken = default)
    {
        if (melChunk.Length != _mel.Length)
        {
            throw new ArgumentException($"A chunk is {_tokenizer.FramesPerStep} frames × {_tokenizer.MelBins} bins = {_mel.Length} floats; got {melChunk.Length}.", nameof(melChunk));
        }

        if (_pendingFloats != 0)
        {
            throw new InvalidOperationException($"{PendingFrames} frames from PushFrames are pending; push the rest of that chunk with PushFrames.");
        }

        melChunk.CopyTo(_mel);
        return RunStep(cancellationToken);
    }

    /// <summary>
    /// Buffers frame-major mel frames (any whole number of frames) and runs a step whenever a chunk is complete;
    /// returns the number of steps run (read their results from <see cref="Tokens"/>, <see cref="Features"/>).
    /// </summary>
    public int PushFrames(ReadOnlySpan<float> frames, CancellationToken cancellationToken = default)
    {
        if (frames.Length % _tokenizer.MelBins != 0)
        {
            throw new ArgumentException($"Frames are {_tokenizer.MelBins} floats each; got {frames.Length} floats.", nameof(frames));
        }

        var steps = 0;
        while (!frames.IsEmpty)
        {
            var n = Math.Min(_mel.Length - _pendingFloats, frames.Length);
            frames[..n].CopyTo(_mel.AsSpan(_pendingFloats));
            _pendingFloats += n;
            frames = frames[n..];
            if (_pendingFloats == _mel.Length)
            {
                _pendingFloats = 0;
                try
                {
                    RunStep(cancellationToken);
                }
                catch
                {
                    // The chunk stays buffered so the caller may retry after a cancellation.
                    _pendingFloats = _mel.Length;
                    throw;
                }

                steps++;
            }
        }

        return steps;
    }

    /// <summary>A copy of the turn so far (tokens, features, CTC ids, transcript). Frames of an incomplete chunk are not included.</summary>
    public EncodedTurn ToTurn() => new(Tokens.ToArray(), Features.ToArray(), _tokenizer.FeatureDim, CtcIds.ToArray(), Transcript);

    /// <summary>The current contents of cache <paramref name="index"/> (in <c>tokenizer.cache.inputs</c> order) as float32.</summary>
    public ReadOnlySpan<float> GetCache(int index) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_caches[index].RawValues);

    /// <summary>
    /// Keeps the first <paramref name="stepCount"/> steps of the turn and forgets the later ones (their tokens and
    /// the end of the caches; the pending partial chunk is dropped). Valid because attention is block-causal: earlier
    /// chunks never saw later ones. Use it to cut trailing audio (e.g. silence the VAD marked late).
    /// </summary>
    public void TruncateSteps(int stepCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(stepCount, _steps);
        foreach (var cache in _caches)
        {
            cache.Truncate(stepCount * _tokenizer.CacheGrowPerStep);
        }

        _steps = stepCount;
        _pendingFloats = 0;
    }

    /// <summary>Starts a new turn: empties the caches and the pending chunk, forgets the turn's outputs.</summary>
    public void Reset()
    {
        foreach (var cache in _caches)
        {
            cache.Reset();
        }

        _pendingFloats = 0;
        _steps = 0;
    }

    public void Dispose()
    {
        foreach (var cache in _caches)
        {
            cache.Dispose();
        }

        _melTensor.Dispose();
        _tokenTensor.Dispose();
        _featureTensor.Dispose();
        _ctcTensor?.Dispose();
        _runOptions.Dispose();
    }

    private TokenizerStep RunStep(CancellationToken cancellationToken)
    {
        var t = _tokenizer;
        var newLength = CacheLength + t.CacheGrowPerStep;
        if (newLength > t.MaxCacheLength)
        {
            throw new EncoderCacheFullException(
                $"The tokenizer cache holds {CacheLength} of at most {t.MaxCacheLength} positions (tokenizer.cache.max_length, {t.MaxStepsPerTurn} steps = {t.MaxStepsPerTurn * t.FramesPerStep / 100.0:0.##} s of audio); end the user turn and Reset the stream before that.");
        }

        for (var i = 0; i < _caches.Length; i++)
        {
            _inputs[t.CacheInputIndices[i]] = _caches[i].Current;
        }

        _outputs[t.TokenIndex] = _tokenTensor;
        _outputs[t.FeatureIndex] = _featureTensor;
        if (_ctcTensor is not null)
        {
            _outputs[t.CtcIndex] = _ctcTensor;
        }

        for (var i = 0; i < _caches.Length; i++)
        {
            _outputs[t.CacheOutputIndices[i]] = _caches[i].PrepareOutput(newLength);
        }

        if (_runOptions.IsTerminateRequested)
        {
            _runOptions.ResetTerminate();
        }

        try
        {
            t.Session.Run(_inputs, _outputs, _runOptions, cancellationToken);
        }
        catch
        {
            foreach (var cache in _caches)
            {
                cache.Abort();
            }

            throw;
        }

        for (var i = 0; i < _caches.Length; i++)
        {
            _caches[i].Commit(_outputs[t.CacheOutputIndices[i]]!, newLength);
            _outputs[t.CacheOutputIndices[i]] = null;
        }

        Record();
        var step = _steps - 1;
        return new TokenizerStep(step, _token[0], _feature, _ctc.AsSpan(0, t.CtcIdsPerStep));
    }

    private void Record()
    {
        var t = _tokenizer;
        if (_steps == _tokens.Length)
        {
            Array.Resize(ref _tokens, _tokens.Length * 2);
            Array.Resize(ref _features, _features.Length * 2);
            Array.Resize(ref _ctcIds, _ctcIds.Length * 2);
        }

        _tokens[_steps] = _token[0];
        _feature.CopyTo(_features.AsSpan(_steps * t.FeatureDim));
        _ctc.AsSpan(0, t.CtcIdsPerStep).CopyTo(_ctcIds.AsSpan(_steps * t.CtcIdsPerStep));
        _steps++;
    }
}
