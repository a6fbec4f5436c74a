using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// One cache tensor that grows along <c>axis</c> call by call: <see cref="Current"/> is the next call's past input,
/// <see cref="PrepareOutput"/> provides the present output slot and <see cref="Commit"/> makes the present current.
/// Not thread-safe (owned by one per-caller state object).
/// </summary>
internal sealed class GrowingCache : IDisposable
{
    private readonly long[] _shape;
    private readonly int _axis;
    private readonly int _outer;
    private readonly int _inner;
    private readonly int _block;
    private readonly int _elementSize;
    private readonly OnnxTensorElementType _type;
    private float[] _current;
    private float[] _spare;
    private OnnxTensor _currentTensor;
    private OnnxTensor? _pending;

    /// <param name="dims">The tensor's dims with any value at <paramref name="axis"/> (it is replaced by the length).</param>
    /// <param name="axis">The axis that grows.</param>
    /// <param name="type">Element type.</param>
    /// <param name="strategy">Requested strategy (<see cref="KvCacheStrategy.PingPong"/> needs float32).</param>
    /// <param name="blockPositions">Capacity granularity of the ping-pong buffers, in positions along the axis.</param>
    public GrowingCache(ReadOnlySpan<long> dims, int axis, OnnxTensorElementType type, KvCacheStrategy strategy, int blockPositions)
    {
        _shape = dims.ToArray();
        _axis = axis;
        _type = type;
        _elementSize = OnnxTensor.ElementSize(type);
        _block = Math.Max(1, blockPositions);
        long outer = 1, inner = 1;
        for (var d = 0; d < axis; d++)
        {
            outer *= dims[d];
        }

        for (var d = axis + 1; d < dims.Length; d++)
        {
            inner *= dims[d];
        }

        _outer = checked((int)outer);
        _inner = checked((int)inner);
        Strategy = strategy == KvCacheStrategy.PingPong && type == OnnxTensorElementType.Float ? KvCacheStrategy.PingPong : KvCacheStrategy.OrtAllocated;
        _current = [];
        _spare = [];
        _currentTensor = CreateEmpty();
    }

    /// <summary>The strategy in effect.</summary>
    public KvCacheStrategy Strategy { get; }

    /// <summary>Positions held along the grow axis.</summary>
    public int Length { get; private set; }

    /// <summary>The past input for the next call.</summary>
    public OnnxTensor Current => _currentTensor;

    /// <summary>Elements per position (product of all dims but the grow axis).</summary>
    public int ElementsPerPosition => _outer * _inner;

    /// <summary>The present output slot for a call that leaves <paramref name="newLength"/> positions: a pre-allocated view (ping-pong) or null (ORT allocates).</summary>
    public OnnxTensor? PrepareOutput(int newLength)
    {
        if (Strategy == KvCacheStrategy.OrtAllocated)
        {
            return null;
        }

        var needed = _outer * newLength * _inner;
        if (_spare.Length < Math.Max(needed, 1))
        {
            var capacity = ((newLength / _block) + 1) * _block;
            _spare = new float[_outer * capacity * _inner];
        }

        _pending?.Dispose();
        _pending = OnnxTensor.FromArray(_spare, WithLength(newLength));
        return _pending;
    }

    /// <summary>After a successful run: <paramref name="produced"/> (the output slot's tensor) becomes current.</summary>
    public void Commit(OnnxTensor produced, int newLength)
    {
        var old = _currentTensor;
        _currentTensor = produced;
        if (Strategy == KvCacheStrategy.PingPong)
        {
            _pending = null;
            (_current, _spare) = (_spare, _current);
        }

        Length = newLength;
        old.Dispose();
    }

    /// <summary>After a failed run: drops the prepared output (the cache keeps its previous content).</summary>
    public void Abort()
    {
        _pending?.Dispose();
        _pending = null;
    }

    /// <summary>Keeps the first <paramref name="length"/> positions (truncating the end is valid for RoPE'd caches).</summary>
    public void Truncate(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(length, Length);
        if (length == Length)
        {
            return;
        }

        var old = _currentTensor;
        if (Strategy == KvCacheStrategy.PingPong)
        {
            // In place: block o moves from o·L·inner to o·length·inner (forward, so overlapping copies are safe).
            var span = _current.AsSpan();
            for (var o = 1; o < _outer; o++)
            {
                span.Slice(o * Length * _inner, length * _inner).CopyTo(span.Slice(o * length * _inner));
            }

            _currentTensor = OnnxTensor.FromArray(_current, WithLength(length));
        }
        else
        {
            var fresh = OnnxTensor.Allocate(_type, WithLength(length));
            var src = old.GetRawData();
            var dst = fresh.GetRawData();
            var rowBytes = _inner * _elementSize;
            for (var o = 0; o < _outer; o++)
            {
                src.Slice(o * Length * rowBytes, length * rowBytes).CopyTo(dst.Slice(o * length * rowBytes));
            }

            _currentTensor = fresh;
        }

        Length = length;
        old.Dispose();
    }

    /// <summary>Empties the cache (a new turn or conversation); buffers are kept.</summary>
    public void Reset()
    {
        Abort();
        var old = _currentTensor;
        _currentTensor = CreateEmpty();
        Length = 0;
        old.Dispose();
    }

    /// <summary>The current values as raw bytes (contiguous, shape with <see cref="Length"/> on the axis).</summary>
    public ReadOnlySpan<byte> RawValues => _currentTensor.GetRawData();

    public void Dispose()
    {
        Abort();
        _currentTensor.Dispose();
    }

    private OnnxTensor CreateEmpty()
    {
        if (Strategy == KvCacheStrategy.PingPong)
        {
            if (_current.Length == 0)
            {
                _current = new float[_outer * _block * _inner];
            }

            return OnnxTensor.FromArray(_current, WithLength(0));
        }

        return OnnxTensor.Allocate(_type, WithLength(0));
    }

    private long[] WithLength(int length)
    {
        _shape[_axis] = length;
        return _shape;
    }
}
