using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Vocoder;

/// <summary>
/// One decoded chunk of mel (a view into the stream's buffers, valid until its next <see cref="DetokenizerStream.TryDecodeNext"/>,
/// <see cref="DetokenizerStream.Reset"/> or dispose).
/// </summary>
public readonly ref struct MelChunk
{
    internal MelChunk(int index, int codeStart, int codeEnd, int windowEnd, int startFrame, int cacheFramesIn, bool isFinal, ReadOnlySpan<float> mel, int bins)
    {
        Index = index;
        CodeStart = codeStart;
        CodeEnd = codeEnd;
        WindowEnd = windowEnd;
        StartFrame = startFrame;
        CacheFramesIn = cacheFramesIn;
        IsFinal = isFinal;
        Mel = mel;
        Frames = mel.Length / bins;
    }

    /// <summary>0-based chunk index in the reply.</summary>
    public int Index { get; }

    /// <summary>First emitted code (<c>s</c>).</summary>
    public int CodeStart { get; }

    /// <summary>End of the emitted codes (<c>e</c>, exclusive).</summary>
    public int CodeEnd { get; }

    /// <summary>End of the decoded window (<c>w</c>, exclusive; <c>w − e</c> look-ahead codes were decoded and discarded).</summary>
    public int WindowEnd { get; }

    /// <summary>Absolute reply frame of <c>Mel</c>'s first frame (<c>4 s</c>).</summary>
    public int StartFrame { get; }

    /// <summary>Prefix-cache frames the chunk attended to.</summary>
    public int CacheFramesIn { get; }

    /// <summary>Whether this is the reply's last chunk (the vocoder stage flushes its held tail on it).</summary>
    public bool IsFinal { get; }

    /// <summary>Emitted frames (0 only for the empty final chunk of a reply that ended exactly on a chunk boundary or had no codes).</summary>
    public int Frames { get; }

    /// <summary>The emitted mel, frame-major <c>[Frames, mel_bins]</c> (normalised vocoder-mel space).</summary>
    public ReadOnlySpan<float> Mel { get; }
}

/// <summary>Called before every Euler graph call (tests and diagnostics): chunk index, step, the state x and the velocity returned.</summary>
internal delegate void EulerStepObserver(int chunk, int step, ReadOnlySpan<float> x, ReadOnlySpan<float> velocity);

/// <summary>
/// Per-reply state of the streaming flow-matching detokenizer (docs/model-pack-part2.md §3): the reply's codes, the
/// chunk counters and the prefix KV cache. <see cref="PushCode"/> only records a code; <see cref="TryDecodeNext"/> runs
/// the next chunk as soon as the schedule allows it (F = first_chunk_tokens codes plus LA look-ahead for chunk 0, C
/// plus LA later, everything left once <see cref="Complete"/> was called), so the caller decides on which thread the
/// graph runs. After <see cref="Complete"/> the stream always ends with exactly one chunk whose
/// <see cref="MelChunk.IsFinal"/> is true (zero frames when nothing was left to emit).
/// <para>
/// Buffers: the window (≤ <see cref="DetokenizerSettings.MaxWindowFrames"/> frames) state, tokens, velocity and K/V
/// outputs are allocated once, their tensors once per distinct frame count, the cache grows by doubling up to its cap
/// and is re-laid out in place; a chunk allocates no arrays in steady state (docs/vocoder.md). Not thread-safe.
/// </para>
/// </summary>
public sealed class DetokenizerStream : IDisposable
{
    private const int InitialCodes = 256;
    private const int InitialCacheFrames = 128;

    private readonly FlowMatchingDetokenizer _owner;
    private readonly DetokenizerSettings _s;
    private readonly float[] _x;
    private readonly long[] _tokens;
    private readonly float[] _velocity;
    private readonly float[] _kChunk;
    private readonly float[] _vChunk;
    private readonly float[] _t = new float[1];
    private readonly long[] _startFrame = new long[1];
    private readonly FrameTensorSet<float> _xTensors;
    private readonly FrameTensorSet<long> _tokenTensors;
    private readonly FrameTensorSet<float> _velocityTensors;
    private readonly FrameTensorSet<float> _kTensors;
    private readonly FrameTensorSet<float> _vTensors;
    private readonly OnnxTensor _tTensor;
    private readonly OnnxTensor _startTensor;
    private readonly OnnxTensor[] _inputs = new OnnxTensor[6];
    private readonly OnnxTensor?[] _eulerOutputs = new OnnxTensor?[1];
    private readonly OnnxTensor?[] _cacheOutputs = new OnnxTensor?[2];
    private readonly OnnxRunOptions _runOptions = new();
    private int[] _codes = new int[InitialCodes];
    private float[] _cacheK = [];
    private float[] _cacheV = [];
    private OnnxTensor? _cacheKTensor;
    private OnnxTensor? _cacheVTensor;
    private int _cacheTensorFrames = -1;
    private int _codeCount;
    private int _emitted;
    private int _chunk;
    private int _cacheFrames;
    private long _cacheStartFrame;
    private bool _completed;
    private bool _finalEmitted;
    private bool _disposed;

    internal DetokenizerStream(FlowMatchingDetokenizer owner, uint seed)
    {
        _owner = owner;
        _s = owner.Settings;
        Seed = seed;
        var maxW = _s.MaxWindowFrames;
        var bins = _s.MelBins;
        _x = GC.AllocateArray<float>(maxW * bins, pinned: true);
        _tokens = GC.AllocateArray<long>(maxW, pinned: true);
        _velocity = GC.AllocateArray<float>(maxW * bins, pinned: true);
        _kChunk = GC.AllocateArray<float>(maxW * _s.CacheFloatsPerFrame, pinned: true);
        _vChunk = GC.AllocateArray<float>(maxW * _s.CacheFloatsPerFrame, pinned: true);
        _xTensors = new FrameTensorSet<float>(_x, [1, -1, bins], maxW);
        _tokenTensors = new FrameTensorSet<long>(_tokens, [1, -1], maxW);
        _velocityTensors = new FrameTensorSet<float>(_velocity, [1, -1, bins], maxW);
        long[] kv = [_s.NumLayers, _s.NumHeads, -1, _s.HeadDim];
        _kTensors = new FrameTensorSet<float>(_kChunk, kv, maxW);
        _vTensors = new FrameTensorSet<float>(_vChunk, kv, maxW);
        _tTensor = OnnxTensor.FromArray(_t, 1);
        _startTensor = OnnxTensor.FromArray(_startFrame, 1);
    }

    /// <summary>The graph wrapper this stream runs.</summary>
    public FlowMatchingDetokenizer Detokenizer => _owner;

    /// <summary>The reply's Euler noise seed.</summary>
    public uint Seed { get; private set; }

    /// <summary>Codes pushed in this reply.</summary>
    public int CodeCount => _codeCount;

    /// <summary>Codes whose mel has been emitted.</summary>
    public int EmittedCodes => _emitted;

    /// <summary>Mel frames emitted so far.</summary>
    public int EmittedFrames => _emitted * _s.Upsample;

    /// <summary>Chunks decoded so far.</summary>
    public int ChunkCount => _chunk;

    /// <summary>Frames in the prefix cache (≤ <see cref="DetokenizerSettings.MaxCacheFrames"/>).</summary>
    public int CacheFrames => _cacheFrames;

    /// <summary>Absolute frame index of the oldest cached frame (&gt; 0 once the cap dropped frames).</summary>
    public long CacheStartFrame => _cacheStartFrame;

    /// <summary>Whether <see cref="Complete"/> was called.</summary>
    public bool IsCompleted => _completed;

    /// <summary>Whether the final chunk has been returned (nothing more will come until <see cref="Reset"/>).</summary>
    public bool IsFinished => _finalEmitted;

    /// <summary>Whether <see cref="TryDecodeNext"/> would decode a chunk now.</summary>
    public bool HasReadyChunk => Plan(out _, out _, out _, out _);

    /// <summary>The reply's codes so far.</summary>
    public ReadOnlySpan<int> Codes => _codes.AsSpan(0, _codeCount);

    /// <summary>Test hook: observes every Euler call.</summary>
    internal EulerStepObserver? StepObserver { get; set; }

    /// <summary>The cached keys, <c>[layers, heads, CacheFrames, head_dim]</c>.</summary>
    internal ReadOnlySpan<float> CacheK => _cacheK.AsSpan(0, _cacheFrames * _s.CacheFloatsPerFrame);

    /// <summary>The cached values.</summary>
    internal ReadOnlySpan<float> CacheV => _cacheV.AsSpan(0, _cacheFrames * _s.CacheFloatsPerFrame);

    /// <summary>Records the next code of the reply (0..codebook_size−1). Runs nothing.</summary>
    public void PushCode(int code)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_completed)
        {
            throw new InvalidOperationException("The reply was completed; Reset the stream before pushing codes of a new reply.");
        }

        if ((uint)code >= (uint)_s.CodebookSize)
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, $"An audio code is in 0..{_s.CodebookSize - 1}.");
        }

        if (_codeCount == _codes.Length)
        {
            Array.Resize(ref _codes, _codes.Length * 2);
        }

        _codes[_codeCount++] = code;
    }

    /// <summary>Records several codes (same as pushing them one by one).</summary>
    public void PushCodes(ReadOnlySpan<int> codes)
    {
        foreach (var code in codes)
        {
            PushCode(code);
        }
    }

    /// <summary>Marks the end of the reply: the remaining codes are decoded as one final chunk.</summary>
    public void Complete()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _completed = true;
    }

    /// <summary>
    /// Decodes the next chunk if the schedule allows it (<c>steps</c> Euler calls over the window plus one
    /// cache-writing call). On an exception (cancellation included) the stream is unchanged and the call may be retried.
    /// </summary>
    public bool TryDecodeNext(out MelChunk chunk, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (!Plan(out var s, out var e, out var w, out var final))
        {
            chunk = default;
            return false;
        }

        var bins = _s.MelBins;
        var index = _chunk;
        var cacheIn = _cacheFrames;
        if (e == s)
        {
            // Nothing left to emit: the empty final chunk that lets the vocoder stage flush.
            _finalEmitted = true;
            _chunk++;
            chunk = new MelChunk(index, s, e, w, s * _s.Upsample, cacheIn, isFinal: true, ReadOnlySpan<float>.Empty, bins);
            return true;
        }

        var frames = RunChunk(s, e, w, cancellationToken);
        _emitted = e;
        _chunk++;
        _finalEmitted = final;
        chunk = new MelChunk(index, s, e, w, s * _s.Upsample, cacheIn, final, _x.AsSpan(0, frames * bins), bins);
        return true;
    }

    /// <summary>Starts a new reply: forgets codes, counters and cache (buffers are kept); optionally a new seed.</summary>
    public void Reset(uint? seed = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (seed is { } newSeed)
        {
            Seed = newSeed;
        }

        _codeCount = 0;
        _emitted = 0;
        _chunk = 0;
        _cacheFrames = 0;
        _cacheStartFrame = 0;
        _completed = false;
        _finalEmitted = false;
    }

    /// <summary>Releases the tensors (no decode may be running).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _xTensors.Dispose();
        _tokenTensors.Dispose();
        _velocityTensors.Dispose();
        _kTensors.Dispose();
        _vTensors.Dispose();
        _tTensor.Dispose();
        _startTensor.Dispose();
        _cacheKTensor?.Dispose();
        _cacheVTensor?.Dispose();
        _runOptions.Dispose();
    }

    /// <summary>§3 step 1: the next chunk <c>[s, e)</c> with window end <c>w</c>, if one can run now.</summary>
    private bool Plan(out int s, out int e, out int w, out bool final)
    {
        s = _emitted;
        e = w = s;
        final = false;
        if (_finalEmitted)
        {
            return false;
        }

        var size = _chunk == 0 ? _s.FirstChunkTokens : _s.ChunkTokens;
        var la = _s.LookaheadTokens;
        var n = _codeCount;
        if (_completed)
        {
            if (n - s < size + la)
            {
                e = w = n;
                final = true;
                return true;
            }
        }
        else if (n < s + size + la)
        {
            return false;
        }

        e = s + size;
        w = e + la;
        return true;
    }

    /// <summary>§3 steps 2–4; returns the emitted frame count (the mel is <c>_x[..E·bins]</c>).</summary>
    private int RunChunk(int s, int e, int w, CancellationToken cancellationToken)
    {
        var up = _s.Upsample;
        var bins = _s.MelBins;
        var f0 = s * up;
        var windowFrames = (w - s) * up;
        var emitFrames = (e - s) * up;
        for (var i = 0; i < windowFrames; i++)
        {
            _tokens[i] = _codes[s + (i / up)];
        }

        DeterministicNoise.Fill(Seed, f0, windowFrames, bins, _x);
        _startFrame[0] = f0;
        PrepareCacheTensors();
        if (_runOptions.IsTerminateRequested)
        {
            _runOptions.ResetTerminate();
        }

        var session = _owner.Session;
        var xTensor = _xTensors.Get(windowFrames);
        _inputs[0] = xTensor;
        _inputs[1] = _tokenTensors.Get(windowFrames);
        _inputs[2] = _tTensor;
        _inputs[3] = _startTensor;
        _inputs[4] = _cacheKTensor!;
        _inputs[5] = _cacheVTensor!;
        _eulerOutputs[0] = _velocityTensors.Get(windowFrames);
        var steps = _s.EulerSteps;
        var dt = (float)(1.0 / steps);
        var count = windowFrames * bins;
        var x = _x.AsSpan(0, count);
        var v = _velocity.AsSpan(0, count);
        for (var i = 0; i < steps; i++)
        {
            _t[0] = (float)((double)i / steps);
            session.Run(FlowMatchingDetokenizer.InputNames, _inputs, FlowMatchingDetokenizer.EulerOutputNames, _eulerOutputs, _runOptions, cancellationToken);
            StepObserver?.Invoke(_chunk, i, x, v);
            for (var j = 0; j < x.Length; j++)
            {
                // Two float32 roundings (v·dt, then the sum), exactly as the reference's x + v * float32(1/steps).
                var delta = v[j] * dt;
                x[j] += delta;
            }
        }

        // Cache write: the emitted (clean) mel at t_clean, same start frame and cache.
        _t[0] = (float)_s.TClean;
        _inputs[0] = _xTensors.Get(emitFrames);
        _inputs[1] = _tokenTensors.Get(emitFrames);
        _cacheOutputs[0] = _kTensors.Get(emitFrames);
        _cacheOutputs[1] = _vTensors.Get(emitFrames);
        session.Run(FlowMatchingDetokenizer.InputNames, _inputs, FlowMatchingDetokenizer.CacheOutputNames, _cacheOutputs, _runOptions, cancellationToken);
        AppendToCache(emitFrames);
        return emitFrames;
    }

    /// <summary>Cache tensors over the current compact layout (re-created only when the frame count or buffer changed).</summary>
    private void PrepareCacheTensors()
    {
        if (_cacheTensorFrames == _cacheFrames && _cacheKTensor is not null)
        {
            return;
        }

        if (_cacheK.Length == 0)
        {
            EnsureCacheCapacity(InitialCacheFrames);
        }

        _cacheKTensor?.Dispose();
        _cacheVTensor?.Dispose();
        long[] shape = [_s.NumLayers, _s.NumHeads, _cacheFrames, _s.HeadDim];
        _cacheKTensor = OnnxTensor.FromArray(_cacheK, shape);
        _cacheVTensor = OnnxTensor.FromArray(_cacheV, shape);
        _cacheTensorFrames = _cacheFrames;
    }

    private void EnsureCacheCapacity(int frames)
    {
        var perFrame = _s.CacheFloatsPerFrame;
        if (_cacheK.Length >= frames * perFrame)
        {
            return;
        }

        var limit = _s.MaxCacheFrames + _s.MaxWindowFrames;
        var current = _cacheK.Length / perFrame;
        var capacity = Math.Min(Math.Max(Math.Max(current * 2, frames), InitialCacheFrames), Math.Max(limit, frames));
        var k = GC.AllocateArray<float>(capacity * perFrame, pinned: true);
        var v = GC.AllocateArray<float>(capacity * perFrame, pinned: true);
        var used = _cacheFrames * perFrame;
        _cacheK.AsSpan(0, used).CopyTo(k);
        _cacheV.AsSpan(0, used).CopyTo(v);
        _cacheK = k;
        _cacheV = v;

        // The old tensors point at the old arrays.
        _cacheKTensor?.Dispose();
        _cacheVTensor?.Dispose();
        _cacheKTensor = _cacheVTensor = null;
        _cacheTensorFrames = -1;
    }

    /// <summary>
    /// §3 step 4: appends the cache-write call's K/V (<c>[L, H, E, hd]</c>) along the frame axis and drops the oldest
    /// frames beyond the cap, re-laying out the compact <c>[L, H, F, hd]</c> buffers in place (one pass of block moves).
    /// </summary>
    private void AppendToCache(int emitFrames)
    {
        var oldFrames = _cacheFrames;
        var total = oldFrames + emitFrames;
        var newFrames = Math.Min(total, _s.MaxCacheFrames);
        var drop = total - newFrames;
        EnsureCacheCapacity(Math.Max(total, newFrames));
        var hd = _s.HeadDim;
        var blocks = _s.NumLayers * _s.NumHeads;
        var keepOld = Math.Max(0, oldFrames - drop);
        var dropOld = oldFrames - keepOld;
        var skipNew = drop - dropOld;
        var takeNew = emitFrames - skipNew;

        // Growing: blocks move to higher offsets, so go from the last block down; shrinking or equal: first block up.
        if (newFrames > oldFrames)
        {
            for (var j = blocks - 1; j >= 0; j--)
            {
                MoveBlock(j, oldFrames, newFrames, dropOld, keepOld, emitFrames, skipNew, takeNew, hd);
            }
        }
        else
        {
            for (var j = 0; j < blocks; j++)
            {
                MoveBlock(j, oldFrames, newFrames, dropOld, keepOld, emitFrames, skipNew, takeNew, hd);
            }
        }

        _cacheFrames = newFrames;
        _cacheStartFrame += drop;
    }

    private void MoveBlock(int j, int oldFrames, int newFrames, int dropOld, int keepOld, int emitFrames, int skipNew, int takeNew, int hd)
    {
        var dst = j * newFrames * hd;
        if (keepOld > 0)
        {
            var src = ((j * oldFrames) + dropOld) * hd;
            _cacheK.AsSpan(src, keepOld * hd).CopyTo(_cacheK.AsSpan(dst));
            _cacheV.AsSpan(src, keepOld * hd).CopyTo(_cacheV.AsSpan(dst));
        }

        if (takeNew > 0)
        {
            var src = ((j * emitFrames) + skipNew) * hd;
            _kChunk.AsSpan(src, takeNew * hd).CopyTo(_cacheK.AsSpan(dst + (keepOld * hd)));
            _vChunk.AsSpan(src, takeNew * hd).CopyTo(_cacheV.AsSpan(dst + (keepOld * hd)));
        }
    }
}
