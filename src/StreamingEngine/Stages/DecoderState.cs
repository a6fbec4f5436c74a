using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// One conversation's decoder state: the KV cache of every entry, the number of positions it holds, the fed positions
/// themselves (ids, features, mask — so kept turns can be re-prefilled, docs/model-pack.md §7), where each user turn
/// starts, whether a closing position is pending, and the step buffers (inputs and logits are pre-allocated tensors
/// reused by every <see cref="Step"/>). Not thread-safe: one call at a time. A failed or cancelled call leaves the
/// state as it was before the call.
/// </summary>
public sealed class DecoderState : IDisposable
{
    private const int InitialPositions = 256;

    private readonly DualHeadDecoder _decoder;
    private readonly GrowingCache[] _caches;
    private readonly OnnxTensor[] _inputs;
    private readonly OnnxTensor?[] _outputs;
    private readonly OnnxRunOptions _runOptions = new();
    private readonly long[] _stepText = new long[1];
    private readonly long[] _stepAudio = new long[1];
    private readonly float[] _stepFeatures;
    private readonly float[] _stepMask = new float[1];
    private readonly OnnxTensor _stepTextTensor;
    private readonly OnnxTensor _stepAudioTensor;
    private readonly OnnxTensor _stepFeaturesTensor;
    private readonly OnnxTensor _stepMaskTensor;
    private readonly float[] _textLogits;
    private readonly float[] _audioLogits;
    private readonly OnnxTensor _textLogitsTensor;
    private readonly OnnxTensor _audioLogitsTensor;
    private readonly List<int> _turnStarts = [];
    private readonly int _blockPositions;

    // History of every position in the cache (feature rows stored only where the mask is non-zero).
    private long[] _histText = new long[InitialPositions];
    private long[] _histAudio = new long[InitialPositions];
    private float[] _histMask = new float[InitialPositions];
    private int[] _histFeatureRow = new int[InitialPositions];
    private float[] _histFeatures;
    private int _featureRows;
    private bool _hasLogits;

    internal DecoderState(DualHeadDecoder decoder, KvCacheStrategy strategy, int blockPositions)
    {
        _decoder = decoder;
        _blockPositions = blockPositions;
        var f = decoder.FeatureDim;
        _stepFeatures = new float[f];
        _histFeatures = new float[64 * f];
        _stepTextTensor = OnnxTensor.FromArray(_stepText, 1, 1);
        _stepAudioTensor = OnnxTensor.FromArray(_stepAudio, 1, 1);
        _stepFeaturesTensor = OnnxTensor.FromArray(_stepFeatures, 1, 1, f);
        _stepMaskTensor = OnnxTensor.FromArray(_stepMask, 1, 1);
        _textLogits = new float[decoder.VocabSize];
        _audioLogits = new float[decoder.VocabSize];
        _textLogitsTensor = OnnxTensor.FromArray(_textLogits, 1, decoder.VocabSize);
        _audioLogitsTensor = OnnxTensor.FromArray(_audioLogits, 1, decoder.VocabSize);
        _caches = new GrowingCache[2 * decoder.NumEntries];
        for (var i = 0; i < _caches.Length; i++)
        {
            _caches[i] = new GrowingCache(decoder.CacheDims, decoder.CacheAxis, decoder.CacheType, strategy, blockPositions);
        }

        _inputs = new OnnxTensor[decoder.Session.Inputs.Count];
        _outputs = new OnnxTensor?[decoder.Session.Outputs.Count];
    }

    /// <summary>The decoder this state runs on.</summary>
    public DualHeadDecoder Decoder => _decoder;

    /// <summary>Positions in the cache.</summary>
    public int Length { get; private set; }

    /// <summary>The strategy the caches use.</summary>
    public KvCacheStrategy CacheStrategy => _caches[0].Strategy;

    /// <summary>
    /// Whether the last reply's closing position <c>(text_blank, msg_end)</c> was produced but not fed; the next turn's
    /// prefill must start with it (docs/model-pack.md §6.3, §7). Set by the reply generator.
    /// </summary>
    public bool ClosingPending { get; set; }

    /// <summary>User turns recorded (prefills with a turn start).</summary>
    public int TurnCount => _turnStarts.Count;

    /// <summary>Positions trimmed off the front of the conversation so far (<see cref="TrimOldestTurns"/>, <see cref="Reprefill"/>).</summary>
    public long DroppedPositions { get; private set; }

    /// <summary>Whole turns trimmed off the front of the conversation so far.</summary>
    public int DroppedTurns { get; private set; }

    /// <summary>Cache position of each recorded turn's <c>user_msg_start</c>.</summary>
    public IReadOnlyList<int> TurnStarts => _turnStarts;

    /// <summary>Text-head logits of the last call (empty before the first).</summary>
    public ReadOnlySpan<float> TextLogits => _hasLogits ? _textLogits : [];

    /// <summary>Audio-head logits of the last call (empty before the first).</summary>
    public ReadOnlySpan<float> AudioLogits => _hasLogits ? _audioLogits : [];

    /// <summary>Text ids of every cached position.</summary>
    public ReadOnlySpan<long> HistoryTextIds => _histText.AsSpan(0, Length);

    /// <summary>Audio ids of every cached position.</summary>
    public ReadOnlySpan<long> HistoryAudioIds => _histAudio.AsSpan(0, Length);

    /// <summary>
    /// Feeds <c>seq</c> new positions (prefill; any length ≥ 1) and returns the logits of the last one.
    /// <paramref name="features"/> is row-major <c>[seq, FeatureDim]</c>.
    /// </summary>
    public DecoderLogits Prefill(ReadOnlySpan<long> textIds, ReadOnlySpan<long> audioIds, ReadOnlySpan<float> features, ReadOnlySpan<float> featureMask, CancellationToken cancellationToken = default)
    {
        var seq = textIds.Length;
        var f = _decoder.FeatureDim;
        if (seq == 0 || audioIds.Length != seq || featureMask.Length != seq || features.Length != seq * f)
        {
            throw new ArgumentException($"A prefill needs seq ≥ 1 positions with seq text ids, seq audio ids, seq × {f} features and seq mask values; got {textIds.Length}, {audioIds.Length}, {features.Length}, {featureMask.Length}.");
        }

        // Prefill happens once per turn, so its input arrays are plain allocations.
        var text = textIds.ToArray();
        var audio = audioIds.ToArray();
        var feats = features.ToArray();
        var mask = featureMask.ToArray();
        using var textTensor = OnnxTensor.FromArray(text, 1, seq);
        using var audioTensor = OnnxTensor.FromArray(audio, 1, seq);
        using var featTensor = OnnxTensor.FromArray(feats, 1, seq, f);
        using var maskTensor = OnnxTensor.FromArray(mask, 1, seq);
        Run(seq, textTensor, audioTensor, featTensor, maskTensor, cancellationToken);
        var first = Length - seq;
        for (var p = 0; p < seq; p++)
        {
            Record(first + p, text[p], audio[p], mask[p], feats.AsSpan(p * f, f));
        }

        return Logits;
    }

    /// <summary>Prefills <paramref name="prompt"/> and records a user turn starting at its <see cref="DecoderPrompt.TurnStart"/>.</summary>
    public DecoderLogits PrefillTurn(DecoderPrompt prompt, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var start = Length;
        Prefill(prompt.TextIds, prompt.AudioIds, prompt.Features, prompt.FeatureMask, cancellationToken);
        if (prompt.TurnStart >= 0)
        {
            _turnStarts.Add(start + prompt.TurnStart);
        }

        ClosingPending = false;
        return Logits;
    }

    /// <summary>Feeds one generated position <c>(text_id, audio_id)</c> (features 0, mask 0) and returns its logits. Allocates nothing.</summary>
    public DecoderLogits Step(long textId, long audioId, CancellationToken cancellationToken = default)
    {
        _stepText[0] = textId;
        _stepAudio[0] = audioId;
        Run(1, _stepTextTensor, _stepAudioTensor, _stepFeaturesTensor, _stepMaskTensor, cancellationToken);
        Record(Length - 1, textId, audioId, 0f, default);
        return Logits;
    }

    /// <summary>The current length, pending closing and turn count, to <see cref="Rollback"/> to later.</summary>
    public DecoderCheckpoint CreateCheckpoint() => new(Length, ClosingPending, TurnCount, DroppedPositions, DroppedTurns);

    /// <summary>
    /// Where <paramref name="checkpoint"/>'s length lies in the cache now: trims since the checkpoint moved every kept
    /// position forward by what they dropped. Negative when the checkpoint lies in history that has been dropped.
    /// </summary>
    public int PositionOf(DecoderCheckpoint checkpoint) => (int)(checkpoint.Length - (DroppedPositions - checkpoint.DroppedPositions));

    /// <summary>How many of <paramref name="checkpoint"/>'s turns are still in the state (≤ 0 when trims dropped all of them).</summary>
    public int TurnsOf(DecoderCheckpoint checkpoint) => checkpoint.TurnCount - (DroppedTurns - checkpoint.DroppedTurns);

    /// <summary>
    /// <see cref="Rollback"/> unless a trim has dropped the checkpoint's place since (then everything after it went with
    /// that history, and this changes nothing and returns false).
    /// </summary>
    public bool TryRollback(DecoderCheckpoint checkpoint)
    {
        if (PositionOf(checkpoint) < 0 || TurnsOf(checkpoint) < 0)
        {
            return false;
        }

        Rollback(checkpoint);
        return true;
    }

    /// <summary>Returns to <paramref name="checkpoint"/> by truncating the END of the cache (e.g. to drop an abandoned reply on barge-in).</summary>
    public void Rollback(DecoderCheckpoint checkpoint)
    {
        var length = PositionOf(checkpoint);
        var turns = TurnsOf(checkpoint);
        if (length < 0 || turns < 0)
        {
            throw new ArgumentException($"The checkpoint ({checkpoint.Length} positions, {checkpoint.TurnCount} turns) lies in history that a trim has dropped since.", nameof(checkpoint));
        }

        if (length > Length || turns > TurnCount)
        {
            throw new ArgumentException($"The checkpoint ({checkpoint.Length} positions, {checkpoint.TurnCount} turns) is ahead of the state ({Length} positions, {TurnCount} turns); it belongs to a later state.", nameof(checkpoint));
        }

        Truncate(length);
        ClosingPending = checkpoint.ClosingPending;
        _turnStarts.RemoveRange(turns, _turnStarts.Count - turns);
    }

    /// <summary>
    /// Keeps the first <paramref name="length"/> positions (truncating the end is always valid: RoPE keys of kept
    /// positions do not change). Turns starting at or after <paramref name="length"/> are forgotten; the closing
    /// flag is cleared. Logits are not recomputed.
    /// </summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        foreach (var cache in _caches)
        {
            cache.Truncate(length);
        }

        Length = length;
        _featureRows = 0;
        for (var p = length - 1; p >= 0; p--)
        {
            if (_histFeatureRow[p] >= 0)
            {
                _featureRows = _histFeatureRow[p] + 1;
                break;
            }
        }

        _turnStarts.RemoveAll(s => s >= length);
        ClosingPending = false;
    }

    /// <summary>
    /// Drops the oldest whole turns so that at most <paramref name="keepTurns"/> remain, then rebuilds the cache by
    /// re-prefilling the kept turns' stored positions from an empty cache (docs/model-pack.md §7: positions are never
    /// cut out of a cache). The closing flag is kept, except with 0 turns kept: then the conversation starts afresh
    /// (an empty cache has no reply to close). Returns the number of positions dropped.
    /// </summary>
    public int TrimOldestTurns(int keepTurns, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(keepTurns);
        if (TurnCount <= keepTurns)
        {
            return 0;
        }

        if (keepTurns == 0)
        {
            var all = Length;
            DroppedTurns += TurnCount;
            DroppedPositions += all;
            Truncate(0);
            return all;
        }

        var from = _turnStarts[TurnCount - keepTurns];
        Reprefill(from, cancellationToken);
        return from;
    }

    /// <summary>
    /// Forgets positions before <paramref name="from"/> (which should be a turn start) and re-prefills the rest from an
    /// empty cache; with 0, rebuilds the whole cache. The closing flag is kept.
    /// </summary>
    public void Reprefill(int from, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(from);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(from, Length);
        var kept = GetHistory(from, Length);
        var starts = _turnStarts.Where(s => s >= from).Select(s => s - from).ToArray();
        var closing = ClosingPending;

        // Build the new cache in a scratch state, then take its caches, so a failure leaves this state untouched.
        using var scratch = new DecoderState(_decoder, CacheStrategy, _blockPositions);
        scratch.Prefill(kept.TextIds, kept.AudioIds, kept.Features, kept.FeatureMask, cancellationToken);
        for (var i = 0; i < _caches.Length; i++)
        {
            (_caches[i], scratch._caches[i]) = (scratch._caches[i], _caches[i]);
        }

        scratch._textLogits.CopyTo(_textLogits.AsSpan());
        scratch._audioLogits.CopyTo(_audioLogits.AsSpan());
        _hasLogits = true;
        Length = 0;
        _featureRows = 0;
        for (var p = 0; p < kept.Length; p++)
        {
            Record(p, kept.TextIds[p], kept.AudioIds[p], kept.FeatureMask[p], kept.Features.AsSpan(p * kept.FeatureDim, kept.FeatureDim));
        }

        Length = kept.Length;
        DroppedTurns += _turnStarts.Count - starts.Length;
        DroppedPositions += from;
        _turnStarts.Clear();
        _turnStarts.AddRange(starts);
        ClosingPending = closing;
    }

    /// <summary>A copy of the cached positions <c>[start, end)</c> as a prompt (for re-prefilling elsewhere).</summary>
    public DecoderPrompt GetHistory(int start, int end)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(end, Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, end);
        var n = end - start;
        var f = _decoder.FeatureDim;
        var features = new float[n * f];
        for (var p = 0; p < n; p++)
        {
            var row = _histFeatureRow[start + p];
            if (row >= 0)
            {
                _histFeatures.AsSpan(row * f, f).CopyTo(features.AsSpan(p * f));
            }
        }

        return new DecoderPrompt(
            _histText.AsSpan(start, n).ToArray(),
            _histAudio.AsSpan(start, n).ToArray(),
            features,
            _histMask.AsSpan(start, n).ToArray(),
            f,
            _turnStarts.Contains(start) ? 0 : -1);
    }

    /// <summary>A new conversation: empties the cache, history and turns.</summary>
    public void Clear()
    {
        foreach (var cache in _caches)
        {
            cache.Reset();
        }

        Length = 0;
        _featureRows = 0;
        _turnStarts.Clear();
        ClosingPending = false;
        _hasLogits = false;
    }

    /// <summary>The cached keys (<paramref name="value"/> false) or values of entry <paramref name="entry"/>, <c>[1, kv_heads, Length, head_dim]</c> (float32 caches).</summary>
    public ReadOnlySpan<float> GetCache(int entry, bool value) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(_caches[(2 * entry) + (value ? 1 : 0)].RawValues);

    public void Dispose()
    {
        foreach (var cache in _caches)
        {
            cache.Dispose();
        }

        _stepTextTensor.Dispose();
        _stepAudioTensor.Dispose();
        _stepFeaturesTensor.Dispose();
        _stepMaskTensor.Dispose();
        _textLogitsTensor.Dispose();
        _audioLogitsTensor.Dispose();
        _runOptions.Dispose();
    }

    private DecoderLogits Logits => new(_textLogits, _audioLogits);

    private void Run(int seq, OnnxTensor text, OnnxTensor audio, OnnxTensor features, OnnxTensor mask, CancellationToken cancellationToken)
    {
        var d = _decoder;
        var newLength = Length + seq;
        if (newLength > d.MaxPositions)
        {
            throw new InvalidOperationException(
                $"The conversation would hold {newLength} positions but decoder.max_positions is {d.MaxPositions}; trim old turns (TrimOldestTurns) first.");
        }

        _inputs[d.TextIdsIndex] = text;
        _inputs[d.AudioIdsIndex] = audio;
        _inputs[d.FeaturesIndex] = features;
        _inputs[d.FeatureMaskIndex] = mask;
        _outputs[d.TextLogitsIndex] = _textLogitsTensor;
        _outputs[d.AudioLogitsIndex] = _audioLogitsTensor;
        for (var i = 0; i < _caches.Length; i++)
        {
            _inputs[d.PastIndices[i]] = _caches[i].Current;
            _outputs[d.PresentIndices[i]] = _caches[i].PrepareOutput(newLength);
        }

        if (_runOptions.IsTerminateRequested)
        {
            _runOptions.ResetTerminate();
        }

        try
        {
            d.Session.Run(_inputs, _outputs, _runOptions, cancellationToken);
        }
        catch
        {
            foreach (var cache in _caches)
            {
                cache.Abort();
            }

            for (var i = 0; i < _caches.Length; i++)
            {
                _outputs[d.PresentIndices[i]] = null;
            }

            throw;
        }

        for (var i = 0; i < _caches.Length; i++)
        {
            _caches[i].Commit(_outputs[d.PresentIndices[i]]!, newLength);
            _outputs[d.PresentIndices[i]] = null;
        }

        Length = newLength;
        _hasLogits = true;
    }

    private void Record(int p, long text, long audio, float mask, ReadOnlySpan<float> features)
    {
        if (p >= _histText.Length)
        {
            var size = Math.Max(_histText.Length * 2, p + 1);
            Array.Resize(ref _histText, size);
            Array.Resize(ref _histAudio, size);
            Array.Resize(ref _histMask, size);
            Array.Resize(ref _histFeatureRow, size);
        }

        _histText[p] = text;
        _histAudio[p] = audio;
        _histMask[p] = mask;
        if (mask != 0f && !features.IsEmpty)
        {
            var f = _decoder.FeatureDim;
            if ((_featureRows + 1) * f > _histFeatures.Length)
            {
                Array.Resize(ref _histFeatures, _histFeatures.Length * 2);
            }

            features.CopyTo(_histFeatures.AsSpan(_featureRows * f));
            _histFeatureRow[p] = _featureRows++;
        }
        else
        {
            _histFeatureRow[p] = -1;
        }
    }
}
