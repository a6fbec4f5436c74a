using System.Buffers;
using System.Runtime.InteropServices;

namespace VoiceAgent.Core.Onnx;

/// <summary>
/// Base of every native handle this binding owns: exactly one <see cref="SafeHandle"/> per ORT object, so a handle is
/// released once (by Dispose or, if the owner was forgotten, by the finalizer) and a call in flight keeps it alive via
/// <see cref="SafeHandle.DangerousAddRef"/>. Every attach/release moves the process-wide live counter that
/// <see cref="OrtRuntime.LiveHandleCount"/> reports, which is how the tests prove nothing leaks.
/// </summary>
internal abstract class OrtHandle : SafeHandle
{
    private static long _liveCount;

    protected OrtHandle()
        : base(0, ownsHandle: true)
    {
    }

    public override bool IsInvalid => handle == 0;

    internal static long LiveCount => Interlocked.Read(ref _liveCount);

    /// <summary>Counts a short-lived handle that is released in a finally block instead of being wrapped (keeps hot paths allocation-free).</summary>
    internal static void TrackTransient(int delta) => Interlocked.Add(ref _liveCount, delta);

    /// <summary>Takes ownership of a freshly created native pointer.</summary>
    internal void Attach(nint native)
    {
        SetHandle(native);
        Interlocked.Increment(ref _liveCount);
    }

    protected sealed override bool ReleaseHandle()
    {
        Free(handle);
        Interlocked.Decrement(ref _liveCount);
        return true;
    }

    protected abstract void Free(nint native);
}

/// <summary>Kinds of handles that need nothing but their ORT release function.</summary>
internal enum OrtHandleKind
{
    SessionOptions,
    RunOptions,
    IoBinding,
    CudaProviderOptions,
    MemoryInfo,
    TypeInfo,
}

/// <summary>A handle whose release is a single ORT call chosen by <see cref="OrtHandleKind"/>.</summary>
internal sealed class OrtPlainHandle(OrtHandleKind kind) : OrtHandle
{
    internal OrtHandleKind Kind { get; } = kind;

    protected override unsafe void Free(nint native)
    {
        var api = OrtRuntime.Api;
        switch (Kind)
        {
            case OrtHandleKind.SessionOptions:
                api.ReleaseSessionOptions(native);
                break;
            case OrtHandleKind.RunOptions:
                api.ReleaseRunOptions(native);
                break;
            case OrtHandleKind.IoBinding:
                api.ReleaseIoBinding(native);
                break;
            case OrtHandleKind.CudaProviderOptions:
                api.ReleaseCudaProviderOptions(native);
                break;
            case OrtHandleKind.MemoryInfo:
                api.ReleaseMemoryInfo(native);
                break;
            case OrtHandleKind.TypeInfo:
                api.ReleaseTypeInfo(native);
                break;
            default:
                throw new InvalidOperationException($"Unknown handle kind {Kind}.");
        }
    }
}

/// <summary>An <c>OrtSession</c> plus the native block of UTF-8 names cached for it (freed with the session so a Run in flight never sees them go).</summary>
internal sealed class OrtSessionHandle : OrtHandle
{
    internal unsafe byte* NameBlock { get; set; }

    protected override unsafe void Free(nint native)
    {
        OrtRuntime.Api.ReleaseSession(native);
        if (NameBlock is not null)
        {
            NativeMemory.Free(NameBlock);
            NameBlock = null;
        }
    }
}

/// <summary>
/// An <c>OrtValue</c>. When it wraps managed memory it also owns the pin: ORT keeps the raw pointer, so the memory is
/// unpinned only after <c>ReleaseValue</c> (also on the finalizer path, where the pin keeps the buffer alive until then).
/// </summary>
internal sealed class OrtValueHandle : OrtHandle
{
    private MemoryHandle _pin;

    internal OrtValueHandle()
    {
    }

    internal OrtValueHandle(nint native) => Attach(native);

    internal void SetPin(MemoryHandle pin) => _pin = pin;

    protected override unsafe void Free(nint native)
    {
        OrtRuntime.Api.ReleaseValue(native);
        _pin.Dispose();
        _pin = default;
    }
}
