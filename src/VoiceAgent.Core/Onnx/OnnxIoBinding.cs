namespace VoiceAgent.Core.Onnx;

/// <summary>
/// An <c>OrtIoBinding</c>: inputs and outputs bound once and reused across runs, so the output of step n (for example
/// a KV cache) can be bound as the input of step n+1 without a copy. Not thread-safe: use one binding per thread.
/// The binding keeps its session and every bound tensor alive (their native handles are only released after the
/// binding is), so disposing a bound tensor early cannot leave ORT reading unpinned memory.
/// </summary>
public sealed unsafe class OnnxIoBinding : IDisposable
{
    private readonly OnnxSession _session;
    private readonly OrtIoBindingHandle _handle;

    internal OnnxIoBinding(OnnxSession session)
    {
        _session = session;
        var api = OrtRuntime.Api;
        _handle = new OrtIoBindingHandle(session.Handle);
        try
        {
            nint native;
            api.Check(api.CreateIoBinding(session.Handle.DangerousGetHandle(), &native));
            _handle.Attach(native);
        }
        catch
        {
            _handle.Abandon();
            throw;
        }
    }

    /// <summary>The session the binding runs.</summary>
    public OnnxSession Session => _session;

    /// <summary>Binds <paramref name="value"/> to the input called <paramref name="name"/> (replacing an earlier binding of that name).</summary>
    public void BindInput(string name, OnnxTensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var namePtr = _session.InputNamePointer(_session.GetInputIndex(name));
        Bind(name, namePtr, value, isInput: true);
    }

    /// <summary>Binds a pre-allocated tensor that ORT writes the output called <paramref name="name"/> into.</summary>
    public void BindOutput(string name, OnnxTensor value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var namePtr = _session.OutputNamePointer(_session.GetOutputIndex(name));
        Bind(name, namePtr, value, isInput: false);
    }

    /// <summary>Lets ORT allocate the output called <paramref name="name"/> in CPU memory on each run (shape decided by the run).</summary>
    public void BindOutputToCpu(string name)
    {
        var namePtr = _session.OutputNamePointer(_session.GetOutputIndex(name));
        var api = OrtRuntime.Api;
        var addRef = false;
        _handle.DangerousAddRef(ref addRef);
        try
        {
            api.Check(api.BindOutputToDevice(_handle.DangerousGetHandle(), namePtr, _session.Runtime.CpuMemoryInfo));
            _handle.Retain(name, isInput: false, value: null);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>Runs the session with the bound values (see <see cref="OnnxSession.Run(ReadOnlySpan{OnnxTensor}, Span{OnnxTensor?}, OnnxRunOptions?, CancellationToken)"/> for cancellation).</summary>
    public void Run(OnnxRunOptions? runOptions = null, CancellationToken cancellationToken = default)
    {
        var api = OrtRuntime.Api;
        using var cancellation = OnnxSession.BeginCancellation(ref runOptions, cancellationToken);
        var bindingRef = false;
        var runOptionsRef = false;
        try
        {
            // The binding handle holds a reference on the session, so the session cannot go while the binding is held.
            _handle.DangerousAddRef(ref bindingRef);
            runOptions?.Handle.DangerousAddRef(ref runOptionsRef);
            var status = api.RunWithBinding(
                _session.Handle.DangerousGetHandle(),
                runOptionsRef ? runOptions!.Handle.DangerousGetHandle() : 0,
                _handle.DangerousGetHandle());
            if (status != 0)
            {
                throw OnnxSession.RunFailure(api.ToException(status), runOptions, cancellationToken);
            }
        }
        finally
        {
            if (runOptionsRef)
            {
                runOptions!.Handle.DangerousRelease();
            }

            if (bindingRef)
            {
                _handle.DangerousRelease();
            }
        }
    }

    /// <summary>
    /// The outputs of the last run, in binding order, as new tensors the caller owns (they share ORT's buffers, no copy).
    /// </summary>
    public OnnxTensor[] GetOutputValues()
    {
        var api = OrtRuntime.Api;
        var allocator = _session.Runtime.DefaultAllocator;
        var addRef = false;
        _handle.DangerousAddRef(ref addRef);
        try
        {
            nint* values;
            nuint count;
            api.Check(api.GetBoundOutputValues(_handle.DangerousGetHandle(), allocator, &values, &count));
            if (values is null || count == 0)
            {
                return [];
            }

            var result = new OnnxTensor[(int)count];
            try
            {
                // Ownership of each value moves to its tensor; only the array itself goes back to the allocator.
                for (var i = 0; i < result.Length; i++)
                {
                    result[i] = OnnxTensor.FromOwnedNative(values[i]);
                }
            }
            finally
            {
                api.Check(api.AllocatorFree(allocator, values));
            }

            return result;
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }

    /// <summary>Removes all input bindings (and the references they held).</summary>
    public void ClearBoundInputs() => Clear(isInput: true);

    /// <summary>Removes all output bindings (and the references they held).</summary>
    public void ClearBoundOutputs() => Clear(isInput: false);

    /// <summary>Releases the binding, then the bound tensors' and the session's references.</summary>
    public void Dispose() => _handle.Dispose();

    private void Bind(string name, byte* namePtr, OnnxTensor value, bool isInput)
    {
        var api = OrtRuntime.Api;
        var bindingRef = false;
        var valueRef = false;
        _handle.DangerousAddRef(ref bindingRef);
        try
        {
            value.Handle.DangerousAddRef(ref valueRef);
            var binding = _handle.DangerousGetHandle();
            var native = value.Handle.DangerousGetHandle();
            api.Check(isInput ? api.BindInput(binding, namePtr, native) : api.BindOutput(binding, namePtr, native));

            // The reference taken above now belongs to the binding until the name is rebound, cleared or disposed.
            _handle.Retain(name, isInput, value.Handle);
            valueRef = false;
        }
        finally
        {
            if (valueRef)
            {
                value.Handle.DangerousRelease();
            }

            _handle.DangerousRelease();
        }
    }

    private void Clear(bool isInput)
    {
        var api = OrtRuntime.Api;
        var addRef = false;
        _handle.DangerousAddRef(ref addRef);
        try
        {
            if (isInput)
            {
                api.ClearBoundInputs(_handle.DangerousGetHandle());
            }
            else
            {
                api.ClearBoundOutputs(_handle.DangerousGetHandle());
            }

            _handle.ReleaseRetained(isInput);
        }
        finally
        {
            _handle.DangerousRelease();
        }
    }
}

/// <summary>
/// The native binding plus the references it holds: one on the session (ORT's binding points into it) and one per
/// bound tensor. Released together, binding first, also on the finalizer path.
/// </summary>
internal sealed class OrtIoBindingHandle : OrtHandle
{
    private readonly OrtSessionHandle _session;
    private readonly Dictionary<string, OrtValueHandle?> _inputs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, OrtValueHandle?> _outputs = new(StringComparer.Ordinal);
    private bool _sessionRef;

    internal OrtIoBindingHandle(OrtSessionHandle session)
    {
        _session = session;
        session.DangerousAddRef(ref _sessionRef);
    }

    /// <summary>Drops the session reference when the native binding was never created (so <see cref="Free"/> will not run).</summary>
    internal void Abandon()
    {
        if (IsInvalid && _sessionRef)
        {
            _sessionRef = false;
            _session.DangerousRelease();
        }

        Dispose();
    }

    /// <summary>Records that <paramref name="name"/> now holds <paramref name="value"/> (whose reference the caller transfers), dropping the previous one.</summary>
    internal void Retain(string name, bool isInput, OrtValueHandle? value)
    {
        var map = isInput ? _inputs : _outputs;
        lock (map)
        {
            if (map.TryGetValue(name, out var previous))
            {
                previous?.DangerousRelease();
            }

            map[name] = value;
        }
    }

    internal void ReleaseRetained(bool isInput)
    {
        var map = isInput ? _inputs : _outputs;
        lock (map)
        {
            foreach (var value in map.Values)
            {
                value?.DangerousRelease();
            }

            map.Clear();
        }
    }

    protected override unsafe void Free(nint native)
    {
        OrtRuntime.Api.ReleaseIoBinding(native);
        ReleaseRetained(isInput: true);
        ReleaseRetained(isInput: false);
        if (_sessionRef)
        {
            _sessionRef = false;
            _session.DangerousRelease();
        }
    }
}
