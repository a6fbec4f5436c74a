using System.Runtime.InteropServices;
using System.Text;

namespace VoiceAgent.Core.Onnx;

/// <summary>
/// A loaded model (<c>OrtSession</c>). <see cref="Run(ReadOnlySpan{string}, ReadOnlySpan{OnnxTensor}, ReadOnlySpan{string}, Span{OnnxTensor?}, OnnxRunOptions?, CancellationToken)"/>
/// may be called from many threads at once (ORT's Run is thread-safe on one session); per-stream state stays with the
/// caller. Input and output names are encoded to UTF-8 once, at creation, so runs do not re-encode strings.
/// </summary>
public sealed unsafe class OnnxSession : IDisposable
{
    // Runs with at most this many inputs+outputs keep their pointer arrays on the stack.
    private const int StackSlots = 64;

    private readonly OrtSessionHandle _handle;
    private readonly nint[] _inputNames;
    private readonly nint[] _outputNames;
    private readonly Dictionary<string, int> _inputIndex;
    private readonly Dictionary<string, int> _outputIndex;

    /// <summary>Loads a model file.</summary>
    public OnnxSession(string modelPath, OnnxSessionOptions? options = null)
        : this(modelPath, default, fromFile: true, options)
    {
    }

    /// <summary>Loads a model from memory (ORT parses it during construction; the bytes need not outlive the call).</summary>
    public OnnxSession(ReadOnlySpan<byte> model, OnnxSessionOptions? options = null)
        : this(null, model, fromFile: false, options)
    {
    }

    private OnnxSession(string? modelPath, ReadOnlySpan<byte> model, bool fromFile, OnnxSessionOptions? options)
    {
        options ??= OnnxSessionOptions.Default;
        Runtime = OrtRuntime.Shared;
        var api = OrtRuntime.Api;
        if (fromFile && !File.Exists(modelPath))
        {
            throw new FileNotFoundException($"ONNX model not found: '{modelPath}'.", modelPath);
        }

        _handle = new OrtSessionHandle();
        try
        {
            using (var sessionOptions = options.CreateNative(Runtime, out var usesCuda))
            {
                UsesCuda = usesCuda;
                nint native;
                var nativeOptions = sessionOptions.DangerousGetHandle();
                if (fromFile)
                {
                    // ORTCHAR_T is char (UTF-8) on Unix and wchar_t (UTF-16) on Windows.
                    if (OperatingSystem.IsWindows())
                    {
                        fixed (char* pPath = modelPath + "\0")
                        {
                            api.Check(api.CreateSession(Runtime.Env, (byte*)pPath, nativeOptions, &native));
                        }
                    }
                    else
                    {
                        fixed (byte* pPath = OnnxSessionOptions.Utf8Z(modelPath!))
                        {
                            api.Check(api.CreateSession(Runtime.Env, pPath, nativeOptions, &native));
                        }
                    }
                }
                else
                {
                    fixed (byte* pModel = model)
                    {
                        api.Check(api.CreateSessionFromArray(Runtime.Env, pModel, (nuint)model.Length, nativeOptions, &native));
                    }
                }

                _handle.Attach(native);
            }

            Inputs = ReadMetadata(isInput: true);
            Outputs = ReadMetadata(isInput: false);
            (_inputNames, _outputNames) = CacheNames(_handle, Inputs, Outputs);
            _inputIndex = Inputs.ToDictionary(m => m.Name, m => m.Index, StringComparer.Ordinal);
            _outputIndex = Outputs.ToDictionary(m => m.Name, m => m.Index, StringComparer.Ordinal);
        }
        catch
        {
            _handle.Dispose();
            throw;
        }
    }

    /// <summary>The runtime the session belongs to.</summary>
    public OrtRuntime Runtime { get; }

    /// <summary>The model's inputs, in graph order.</summary>
    public IReadOnlyList<OnnxNodeMetadata> Inputs { get; }

    /// <summary>The model's outputs, in graph order.</summary>
    public IReadOnlyList<OnnxNodeMetadata> Outputs { get; }

    /// <summary>Whether the CUDA execution provider was appended (false after a CPU fallback).</summary>
    public bool UsesCuda { get; }

    /// <summary>The preferred execution provider: <see cref="OrtRuntime.CudaProvider"/> or <see cref="OrtRuntime.CpuProvider"/>.</summary>
    public string ExecutionProvider => UsesCuda ? OrtRuntime.CudaProvider : OrtRuntime.CpuProvider;

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => _handle.IsClosed;

    internal OrtSessionHandle Handle => _handle;

    /// <summary>Index of the input called <paramref name="name"/>; throws <see cref="ArgumentException"/> listing the real names otherwise.</summary>
    public int GetInputIndex(string name) => _inputIndex.TryGetValue(name, out var i)
        ? i
        : throw new ArgumentException($"The model has no input '{name}'; inputs: {string.Join(", ", Inputs.Select(m => m.Name))}.", nameof(name));

    /// <summary>Index of the output called <paramref name="name"/>; throws <see cref="ArgumentException"/> listing the real names otherwise.</summary>
    public int GetOutputIndex(string name) => _outputIndex.TryGetValue(name, out var i)
        ? i
        : throw new ArgumentException($"The model has no output '{name}'; outputs: {string.Join(", ", Outputs.Select(m => m.Name))}.", nameof(name));

    /// <summary>
    /// Runs the model on named inputs and fills <paramref name="outputs"/> for the named outputs. A null slot receives a
    /// new tensor ORT allocates (the caller owns and disposes it); a non-null slot is a pre-allocated tensor of the right
    /// shape that ORT writes into. With a cancellable <paramref name="cancellationToken"/>, cancelling terminates the run
    /// and throws <see cref="OperationCanceledException"/>; a run whose <paramref name="runOptions"/> were terminated
    /// throws it too (the options stay terminated until <see cref="OnnxRunOptions.ResetTerminate"/>).
    /// </summary>
    public void Run(
        ReadOnlySpan<string> inputNames,
        ReadOnlySpan<OnnxTensor> inputs,
        ReadOnlySpan<string> outputNames,
        Span<OnnxTensor?> outputs,
        OnnxRunOptions? runOptions = null,
        CancellationToken cancellationToken = default)
    {
        if (inputNames.Length != inputs.Length)
        {
            throw new ArgumentException($"{inputNames.Length} input names but {inputs.Length} input values.", nameof(inputs));
        }

        if (outputNames.Length != outputs.Length)
        {
            throw new ArgumentException($"{outputNames.Length} output names but {outputs.Length} output slots.", nameof(outputs));
        }

        var total = 2 * (inputs.Length + outputs.Length);
        var slots = total <= StackSlots ? stackalloc nint[StackSlots] : new nint[total];
        var inNames = slots[..inputs.Length];
        var outNames = slots.Slice(inputs.Length, outputs.Length);
        for (var i = 0; i < inputNames.Length; i++)
        {
            inNames[i] = _inputNames[GetInputIndex(inputNames[i])];
        }

        for (var i = 0; i < outputNames.Length; i++)
        {
            outNames[i] = _outputNames[GetOutputIndex(outputNames[i])];
        }

        RunCore(inNames, inputs, outNames, outputs, slots[(inputs.Length + outputs.Length)..total], runOptions, cancellationToken);
    }

    /// <summary>Runs the model and returns new tensors for the named outputs (owned by the caller).</summary>
    public OnnxTensor[] Run(
        ReadOnlySpan<string> inputNames,
        ReadOnlySpan<OnnxTensor> inputs,
        ReadOnlySpan<string> outputNames,
        OnnxRunOptions? runOptions = null,
        CancellationToken cancellationToken = default)
    {
        var outputs = new OnnxTensor?[outputNames.Length];
        Run(inputNames, inputs, outputNames, outputs, runOptions, cancellationToken);
        return outputs!;
    }

    /// <summary>
    /// The lookup-free path: <paramref name="inputs"/> are all inputs in <see cref="Inputs"/> order and
    /// <paramref name="outputs"/> receive the first <c>outputs.Length</c> outputs in <see cref="Outputs"/> order
    /// (null slots get new tensors, non-null slots are written in place).
    /// </summary>
    public void Run(
        ReadOnlySpan<OnnxTensor> inputs,
        Span<OnnxTensor?> outputs,
        OnnxRunOptions? runOptions = null,
        CancellationToken cancellationToken = default)
    {
        if (inputs.Length != _inputNames.Length)
        {
            throw new ArgumentException($"The model takes {_inputNames.Length} inputs; {inputs.Length} were given.", nameof(inputs));
        }

        if (outputs.Length > _outputNames.Length)
        {
            throw new ArgumentException($"The model has {_outputNames.Length} outputs; {outputs.Length} slots were given.", nameof(outputs));
        }

        var total = inputs.Length + outputs.Length;
        var slots = total <= StackSlots ? stackalloc nint[StackSlots] : new nint[total];
        RunCore(_inputNames, inputs, _outputNames.AsSpan(0, outputs.Length), outputs, slots[..total], runOptions, cancellationToken);
    }

    /// <summary>Creates an I/O binding for this session (use one per thread).</summary>
    public OnnxIoBinding CreateIoBinding() => new(this);

    /// <summary>Releases the session once no run is in flight any more.</summary>
    public void Dispose() => _handle.Dispose();

    /// <summary>The cached NUL-terminated UTF-8 name of input <paramref name="index"/> (lives as long as the session handle).</summary>
    internal byte* InputNamePointer(int index) => (byte*)_inputNames[index];

    /// <summary>The cached NUL-terminated UTF-8 name of output <paramref name="index"/>.</summary>
    internal byte* OutputNamePointer(int index) => (byte*)_outputNames[index];

    /// <summary>Maps a failed run to the exception callers should see: cancellation when the run was terminated on purpose.</summary>
    internal static Exception RunFailure(OrtException error, OnnxRunOptions? runOptions, CancellationToken cancellationToken)
    {
        if (runOptions is { IsTerminateRequested: true } && error.ErrorCode == OrtErrorCode.Fail)
        {
            return cancellationToken.IsCancellationRequested
                ? new OperationCanceledException("The ONNX Runtime run was cancelled.", error, cancellationToken)
                : new OperationCanceledException("The ONNX Runtime run was terminated through its run options.", error);
        }

        return error;
    }

    /// <summary>
    /// Starts cancellation plumbing for a run: when the token can cancel, the run gets terminate-able options (its own
    /// unless the caller passed some) and a registration that terminates them. Dispose the returned scope after the run.
    /// </summary>
    internal static RunCancellation BeginCancellation(ref OnnxRunOptions? runOptions, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!cancellationToken.CanBeCanceled)
        {
            return default;
        }

        OnnxRunOptions? owned = null;
        if (runOptions is null)
        {
            runOptions = owned = new OnnxRunOptions();
        }

        var registration = cancellationToken.UnsafeRegister(static state => ((OnnxRunOptions)state!).Terminate(), runOptions);
        return new RunCancellation(registration, owned);
    }

    private void RunCore(
        ReadOnlySpan<nint> inNames,
        ReadOnlySpan<OnnxTensor> inputs,
        ReadOnlySpan<nint> outNames,
        Span<OnnxTensor?> outputs,
        Span<nint> values,
        OnnxRunOptions? runOptions,
        CancellationToken cancellationToken)
    {
        var api = OrtRuntime.Api;
        var inValues = values[..inputs.Length];
        var outValues = values.Slice(inputs.Length, outputs.Length);
        using var cancellation = BeginCancellation(ref runOptions, cancellationToken);

        // Hold a reference on every handle the native call reads so a concurrent Dispose cannot free it mid-run.
        var sessionRef = false;
        var runOptionsRef = false;
        var inputRefs = 0;
        var outputRefs = 0;
        try
        {
            _handle.DangerousAddRef(ref sessionRef);
            runOptions?.Handle.DangerousAddRef(ref runOptionsRef);
            for (; inputRefs < inputs.Length; inputRefs++)
            {
                var handle = inputs[inputRefs].Handle;
                var added = false;
                handle.DangerousAddRef(ref added);
                inValues[inputRefs] = handle.DangerousGetHandle();
            }

            for (; outputRefs < outputs.Length; outputRefs++)
            {
                if (outputs[outputRefs] is { } preallocated)
                {
                    var added = false;
                    preallocated.Handle.DangerousAddRef(ref added);
                    outValues[outputRefs] = preallocated.Handle.DangerousGetHandle();
                }
                else
                {
                    outValues[outputRefs] = 0;
                }
            }

            nint status;
            fixed (nint* pInNames = inNames)
            fixed (nint* pInValues = inValues)
            fixed (nint* pOutNames = outNames)
            fixed (nint* pOutValues = outValues)
            {
                status = api.Run(
                    _handle.DangerousGetHandle(),
                    runOptionsRef ? runOptions!.Handle.DangerousGetHandle() : 0,
                    (byte**)pInNames,
                    pInValues,
                    (nuint)inputs.Length,
                    (byte**)pOutNames,
                    (nuint)outputs.Length,
                    pOutValues);
            }

            if (status != 0)
            {
                // ORT does not hand out outputs from a failed run, but release any it did allocate rather than leak.
                for (var i = 0; i < outputs.Length; i++)
                {
                    if (outputs[i] is null && outValues[i] != 0)
                    {
                        api.ReleaseValue(outValues[i]);
                    }
                }

                throw RunFailure(api.ToException(status), runOptions, cancellationToken);
            }
        }
        finally
        {
            for (var i = 0; i < outputRefs; i++)
            {
                outputs[i]?.Handle.DangerousRelease();
            }

            for (var i = 0; i < inputRefs; i++)
            {
                inputs[i].Handle.DangerousRelease();
            }

            if (runOptionsRef)
            {
                runOptions!.Handle.DangerousRelease();
            }

            if (sessionRef)
            {
                _handle.DangerousRelease();
            }
        }

        // Only after the references above are dropped, so the loop there touches pre-allocated outputs alone.
        for (var i = 0; i < outputs.Length; i++)
        {
            outputs[i] ??= OnnxTensor.FromOwnedNative(outValues[i]);
        }
    }

    private OnnxNodeMetadata[] ReadMetadata(bool isInput)
    {
        var api = OrtRuntime.Api;
        var session = _handle.DangerousGetHandle();
        nuint count;
        api.Check(isInput ? api.SessionGetInputCount(session, &count) : api.SessionGetOutputCount(session, &count));
        var result = new OnnxNodeMetadata[(int)count];
        for (var i = 0; i < result.Length; i++)
        {
            byte* rawName;
            api.Check(isInput
                ? api.SessionGetInputName(session, (nuint)i, Runtime.DefaultAllocator, &rawName)
                : api.SessionGetOutputName(session, (nuint)i, Runtime.DefaultAllocator, &rawName));
            string name;
            try
            {
                name = Marshal.PtrToStringUTF8((nint)rawName) ?? string.Empty;
            }
            finally
            {
                api.Check(api.AllocatorFree(Runtime.DefaultAllocator, rawName));
            }

            using var typeInfo = new OrtPlainHandle(OrtHandleKind.TypeInfo);
            nint nativeTypeInfo;
            api.Check(isInput
                ? api.SessionGetInputTypeInfo(session, (nuint)i, &nativeTypeInfo)
                : api.SessionGetOutputTypeInfo(session, (nuint)i, &nativeTypeInfo));
            typeInfo.Attach(nativeTypeInfo);
            result[i] = ReadTensorInfo(api, name, i, nativeTypeInfo);
        }

        return result;
    }

    private static OnnxNodeMetadata ReadTensorInfo(OrtApi api, string name, int index, nint typeInfo)
    {
        // The tensor info is owned by the type info (never released on its own); it is null for non-tensor values.
        nint tensorInfo;
        api.Check(api.CastTypeInfoToTensorInfo(typeInfo, &tensorInfo));
        if (tensorInfo == 0)
        {
            return new OnnxNodeMetadata(name, index, false, OnnxTensorElementType.Undefined, [], []);
        }

        int type;
        nuint rank;
        api.Check(api.GetTensorElementType(tensorInfo, &type));
        api.Check(api.GetDimensionsCount(tensorInfo, &rank));
        var dims = new long[(int)rank];
        var symbols = new string[(int)rank];
        if (rank > 0)
        {
            var symbolPtrs = new nint[(int)rank];
            fixed (long* pDims = dims)
            fixed (nint* pSymbols = symbolPtrs)
            {
                api.Check(api.GetDimensions(tensorInfo, pDims, rank));
                api.Check(api.GetSymbolicDimensions(tensorInfo, (byte**)pSymbols, rank));
            }

            for (var d = 0; d < symbols.Length; d++)
            {
                symbols[d] = symbolPtrs[d] == 0 ? string.Empty : Marshal.PtrToStringUTF8(symbolPtrs[d]) ?? string.Empty;
            }
        }

        return new OnnxNodeMetadata(name, index, true, (OnnxTensorElementType)type, dims, symbols);
    }

    /// <summary>Encodes every name once into one native block owned by the session handle; returns pointers into it.</summary>
    private static (nint[] Inputs, nint[] Outputs) CacheNames(OrtSessionHandle handle, IReadOnlyList<OnnxNodeMetadata> inputs, IReadOnlyList<OnnxNodeMetadata> outputs)
    {
        var all = inputs.Concat(outputs).Select(m => m.Name).ToArray();
        var size = all.Sum(n => Encoding.UTF8.GetByteCount(n) + 1);
        var block = (byte*)NativeMemory.Alloc((nuint)Math.Max(size, 1));
        handle.NameBlock = block;
        var pointers = new nint[all.Length];
        var offset = 0;
        for (var i = 0; i < all.Length; i++)
        {
            var span = new Span<byte>(block + offset, size - offset);
            var written = Encoding.UTF8.GetBytes(all[i], span);
            span[written] = 0;
            pointers[i] = (nint)(block + offset);
            offset += written + 1;
        }

        return (pointers[..inputs.Count], pointers[inputs.Count..]);
    }
}

/// <summary>Disposes a run's cancellation registration before the run options it may touch.</summary>
internal readonly struct RunCancellation(CancellationTokenRegistration registration, OnnxRunOptions? ownedOptions) : IDisposable
{
    public void Dispose()
    {
        // Unregistering waits for a callback already running, so the options are never terminated after release.
        registration.Dispose();
        ownedOptions?.Dispose();
    }
}
