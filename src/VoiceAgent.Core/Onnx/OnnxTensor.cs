using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VoiceAgent.Core.Onnx;

/// <summary>
/// An owned ONNX Runtime tensor (<c>OrtValue</c>). Either it wraps caller memory without copying (the memory stays
/// pinned until <see cref="Dispose"/>), or ORT allocated it (outputs, <see cref="Allocate{T}"/>). Spans returned by
/// <see cref="GetSpan{T}"/> point straight at the tensor's buffer and are valid only until the tensor is disposed.
/// </summary>
public sealed unsafe class OnnxTensor : IDisposable
{
    private readonly OrtValueHandle _handle;
    private OnnxTensorElementType _elementType;
    private long[]? _shape;
    private long _elementCount;
    private void* _data;

    private OnnxTensor(OrtValueHandle handle, OnnxTensorElementType elementType, long[]? shape, void* data)
    {
        _handle = handle;
        _elementType = elementType;
        _data = data;
        if (shape is not null)
        {
            _elementCount = CountElements(shape);
            _shape = shape;
        }
    }

    /// <summary>The element type.</summary>
    public OnnxTensorElementType ElementType
    {
        get
        {
            EnsureTypeAndShape();
            return _elementType;
        }
    }

    /// <summary>The dimensions; empty for a scalar (rank 0).</summary>
    public ReadOnlySpan<long> Shape
    {
        get
        {
            EnsureTypeAndShape();
            return _shape;
        }
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => Shape.Length;

    /// <summary>Number of elements (1 for a scalar).</summary>
    public long ElementCount
    {
        get
        {
            EnsureTypeAndShape();
            return _elementCount;
        }
    }

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _handle.IsClosed;

    internal OrtValueHandle Handle => _handle;

    /// <summary>
    /// Wraps <paramref name="data"/> (no copy; pinned until <see cref="Dispose"/>). The shape's element count may be
    /// smaller than the array; an empty shape makes a scalar from the first element.
    /// </summary>
    public static OnnxTensor FromArray<T>(T[] data, params ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(data);
        return FromMemory(new Memory<T>(data), shape);
    }

    /// <summary>Wraps <paramref name="data"/> (no copy; pinned via <see cref="Memory{T}.Pin"/> until <see cref="Dispose"/>).</summary>
    public static OnnxTensor FromMemory<T>(Memory<T> data, params ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        var elementType = ElementTypeOf<T>();
        var dims = ValidateShape(shape);
        var count = CountElements(dims);
        if (count > data.Length)
        {
            throw new ArgumentException($"Shape [{string.Join(", ", dims)}] needs {count} elements but the memory holds {data.Length}.", nameof(shape));
        }

        var runtime = OrtRuntime.Shared;
        var api = OrtRuntime.Api;
        var pin = data.Pin();
        var handle = new OrtValueHandle();
        try
        {
            nint native;
            fixed (long* pShape = dims)
            {
                api.Check(api.CreateTensorWithDataAsOrtValue(
                    runtime.CpuMemoryInfo, pin.Pointer, (nuint)(count * sizeof(T)), pShape, (nuint)dims.Length, (int)elementType, &native));
            }

            handle.SetPin(pin);
            handle.Attach(native);
        }
        catch
        {
            pin.Dispose();
            handle.Dispose();
            throw;
        }

        return new OnnxTensor(handle, elementType, dims, pin.Pointer);
    }

    /// <summary>A tensor whose buffer ORT allocates (zero-filled) and frees on <see cref="Dispose"/>.</summary>
    public static OnnxTensor Allocate<T>(params ReadOnlySpan<long> shape)
        where T : unmanaged => Allocate(ElementTypeOf<T>(), shape);

    /// <summary>A tensor of <paramref name="elementType"/> whose buffer ORT allocates (zero-filled).</summary>
    public static OnnxTensor Allocate(OnnxTensorElementType elementType, params ReadOnlySpan<long> shape)
    {
        var elementSize = ElementSize(elementType);
        var dims = ValidateShape(shape);
        var runtime = OrtRuntime.Shared;
        var api = OrtRuntime.Api;
        var handle = new OrtValueHandle();
        void* data;
        try
        {
            nint native;
            fixed (long* pShape = dims)
            {
                api.Check(api.CreateTensorAsOrtValue(runtime.DefaultAllocator, pShape, (nuint)dims.Length, (int)elementType, &native));
            }

            handle.Attach(native);
            api.Check(api.GetTensorMutableData(native, &data));
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        // ORT's CPU allocator does not clear memory; zeros make fresh state tensors (RNN state, KV caches) usable as is.
        var bytes = (nuint)(CountElements(dims) * elementSize);
        if (bytes > 0)
        {
            NativeMemory.Clear(data, bytes);
        }

        return new OnnxTensor(handle, elementType, dims, data);
    }

    /// <summary>A rank-0 tensor holding <paramref name="value"/> (e.g. Silero's <c>sr</c>).</summary>
    public static OnnxTensor Scalar<T>(T value)
        where T : unmanaged
    {
        var tensor = Allocate<T>();
        *(T*)tensor._data = value;
        return tensor;
    }

    /// <summary>A writable view of the elements; <typeparamref name="T"/> must match <see cref="ElementType"/>.</summary>
    public Span<T> GetSpan<T>()
        where T : unmanaged
    {
        var expected = ElementTypeOf<T>();
        var actual = ElementType;
        if (expected != actual)
        {
            throw new InvalidOperationException($"The tensor holds {actual} elements, not {expected} ({typeof(T).Name}).");
        }

        return new Span<T>(DataPointer(), checked((int)_elementCount));
    }

    /// <summary>A read-only view of the elements; <typeparamref name="T"/> must match <see cref="ElementType"/>.</summary>
    public ReadOnlySpan<T> GetReadOnlySpan<T>()
        where T : unmanaged => GetSpan<T>();

    /// <summary>The raw bytes of a tensor of any fixed-size element type (e.g. <see cref="OnnxTensorElementType.BFloat16"/>).</summary>
    public Span<byte> GetRawData()
    {
        var size = ElementSize(ElementType);
        return new Span<byte>(DataPointer(), checked((int)(_elementCount * size)));
    }

    /// <summary>Copies the elements into a new array.</summary>
    public T[] ToArray<T>()
        where T : unmanaged => GetReadOnlySpan<T>().ToArray();

    /// <summary>Releases the native value (and the pin on wrapped memory). Views obtained earlier become invalid.</summary>
    public void Dispose() => _handle.Dispose();

    /// <inheritdoc/>
    public override string ToString() => IsDisposed
        ? "OnnxTensor(disposed)"
        : $"OnnxTensor({ElementType}[{string.Join(", ", _shape!)}])";

    /// <summary>Takes ownership of a value ORT returned (run outputs, bound outputs).</summary>
    internal static OnnxTensor FromOwnedNative(nint native) => new(new OrtValueHandle(native), OnnxTensorElementType.Undefined, null, null);

    /// <summary>The ONNX element type for a .NET element type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static OnnxTensorElementType ElementTypeOf<T>()
        where T : unmanaged
    {
        // typeof(T) comparisons on value types fold to a constant per instantiation.
        if (typeof(T) == typeof(float)) return OnnxTensorElementType.Float;
        if (typeof(T) == typeof(long)) return OnnxTensorElementType.Int64;
        if (typeof(T) == typeof(Half)) return OnnxTensorElementType.Float16;
        if (typeof(T) == typeof(int)) return OnnxTensorElementType.Int32;
        if (typeof(T) == typeof(bool)) return OnnxTensorElementType.Bool;
        if (typeof(T) == typeof(byte)) return OnnxTensorElementType.UInt8;
        if (typeof(T) == typeof(sbyte)) return OnnxTensorElementType.Int8;
        if (typeof(T) == typeof(short)) return OnnxTensorElementType.Int16;
        if (typeof(T) == typeof(ushort)) return OnnxTensorElementType.UInt16;
        if (typeof(T) == typeof(double)) return OnnxTensorElementType.Double;
        if (typeof(T) == typeof(uint)) return OnnxTensorElementType.UInt32;
        if (typeof(T) == typeof(ulong)) return OnnxTensorElementType.UInt64;
        throw new NotSupportedException($"{typeof(T).Name} has no ONNX tensor element type.");
    }

    /// <summary>Bytes per element for the fixed-size types this binding can hold.</summary>
    public static int ElementSize(OnnxTensorElementType elementType) => elementType switch
    {
        OnnxTensorElementType.Float or OnnxTensorElementType.Int32 or OnnxTensorElementType.UInt32 => 4,
        OnnxTensorElementType.Int64 or OnnxTensorElementType.UInt64 or OnnxTensorElementType.Double
            or OnnxTensorElementType.Complex64 => 8,
        OnnxTensorElementType.Float16 or OnnxTensorElementType.BFloat16 or OnnxTensorElementType.Int16
            or OnnxTensorElementType.UInt16 => 2,
        OnnxTensorElementType.UInt8 or OnnxTensorElementType.Int8 or OnnxTensorElementType.Bool
            or OnnxTensorElementType.Float8E4M3FN or OnnxTensorElementType.Float8E4M3FNUZ
            or OnnxTensorElementType.Float8E5M2 or OnnxTensorElementType.Float8E5M2FNUZ
            or OnnxTensorElementType.Float8E8M0 => 1,
        OnnxTensorElementType.Complex128 => 16,
        _ => throw new NotSupportedException($"{elementType} tensors are not supported by this binding."),
    };

    private static long[] ValidateShape(ReadOnlySpan<long> shape)
    {
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor dimensions must be concrete (>= 0); got [{string.Join(", ", shape.ToArray())}].", nameof(shape));
            }
        }

        return shape.ToArray();
    }

    private static long CountElements(ReadOnlySpan<long> shape)
    {
        long count = 1;
        foreach (var d in shape)
        {
            count = checked(count * d);
        }

        return count;
    }

    private void* DataPointer()
    {
        if (_data is null)
        {
            var api = OrtRuntime.Api;
            var addRef = false;
            _handle.DangerousAddRef(ref addRef);
            try
            {
                void* data;
                api.Check(api.GetTensorMutableData(_handle.DangerousGetHandle(), &data));
                _data = data;
            }
            finally
            {
                _handle.DangerousRelease();
            }
        }

        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        EnsureTypeAndShape();
        return _data;
    }

    /// <summary>Reads type and shape from ORT once (outputs only; wrapped tensors know theirs from creation).</summary>
    private void EnsureTypeAndShape()
    {
        if (Volatile.Read(ref _shape) is not null)
        {
            return;
        }

        var api = OrtRuntime.Api;
        var addRef = false;
        _handle.DangerousAddRef(ref addRef);
        try
        {
            nint info;
            api.Check(api.GetTensorTypeAndShape(_handle.DangerousGetHandle(), &info));
            OrtHandle.TrackTransient(1);
            try
            {
                int type;
                nuint rank;
                api.Check(api.GetTensorElementType(info, &type));
                api.Check(api.GetDimensionsCount(info, &rank));
                var dims = new long[(int)rank];
                fixed (long* pDims = dims)
                {
                    api.Check(api.GetDimensions(info, pDims, rank));
                }

                _elementType = (OnnxTensorElementType)type;
                _elementCount = CountElements(dims);
                Volatile.Write(ref _shape, dims);
            }
            finally
            {
                api.ReleaseTensorTypeAndShapeInfo(info);
                OrtHandle.TrackTransient(-1);
            }
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }
}
