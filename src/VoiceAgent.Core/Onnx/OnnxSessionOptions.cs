using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace VoiceAgent.Core.Onnx;

/// <summary>
/// Plain, immutable session settings; <see cref="OnnxSession"/> turns them into a native <c>OrtSessionOptions</c> that
/// lives only for the session's creation.
/// </summary>
public sealed record OnnxSessionOptions
{
    /// <summary>ORT's defaults: all optimizations, sequential execution, default thread pools.</summary>
    public static OnnxSessionOptions Default { get; } = new();

    /// <summary>One intra-op and one inter-op thread: the setting for many small concurrent runs (Silero's own wrapper uses it).</summary>
    public static OnnxSessionOptions SingleThreaded { get; } = new() { IntraOpThreads = 1, InterOpThreads = 1 };

    /// <summary>Threads used inside one operator; 0 lets ORT choose (one per physical core).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Threads used across independent nodes in <see cref="OnnxExecutionMode.Parallel"/>; 0 lets ORT choose.</summary>
    public int InterOpThreads { get; init; }

    /// <summary>Graph optimization level.</summary>
    public OnnxGraphOptimizationLevel GraphOptimizationLevel { get; init; } = OnnxGraphOptimizationLevel.All;

    /// <summary>Sequential or parallel node execution.</summary>
    public OnnxExecutionMode ExecutionMode { get; init; } = OnnxExecutionMode.Sequential;

    /// <summary>Use ORT's CPU arena allocator (faster repeated allocation, memory is kept rather than returned).</summary>
    public bool EnableMemoryArena { get; init; } = true;

    /// <summary>Let ORT pre-plan buffers from the first run's shapes (helps fixed-shape models).</summary>
    public bool EnableMemoryPattern { get; init; } = true;

    /// <summary>
    /// Try to append the CUDA execution provider. When the library cannot load it (no CUDA build, or the provider
    /// libraries missing, as with the npm build), the session falls back to CPU and one line goes to <see cref="Log"/>.
    /// </summary>
    public bool UseCuda { get; init; }

    /// <summary>CUDA device ordinal used when <see cref="UseCuda"/> is set.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>Extra CUDA provider options (ORT's string keys, e.g. <c>cudnn_conv_algo_search</c>).</summary>
    public IReadOnlyDictionary<string, string>? CudaProviderOptions { get; init; }

    /// <summary>Fixes symbolic dimensions (e.g. <c>batch</c> = 1) so ORT can plan static shapes.</summary>
    public IReadOnlyDictionary<string, long>? FreeDimensionOverrides { get; init; }

    /// <summary>Raw <c>AddSessionConfigEntry</c> key/value pairs.</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }

    /// <summary>Per-session ORT log severity; null keeps the env's level.</summary>
    public OrtLoggingLevel? LogLevel { get; init; }

    /// <summary>Receives this binding's own diagnostic lines (currently only the CUDA fallback notice).</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Builds the native options; <paramref name="usesCuda"/> tells whether the CUDA provider was appended.</summary>
    internal unsafe OrtPlainHandle CreateNative(OrtRuntime runtime, out bool usesCuda)
    {
        var api = OrtRuntime.Api;
        var handle = new OrtPlainHandle(OrtHandleKind.SessionOptions);
        try
        {
            nint native;
            api.Check(api.CreateSessionOptions(&native));
            handle.Attach(native);

            api.Check(api.SetIntraOpNumThreads(native, IntraOpThreads));
            api.Check(api.SetInterOpNumThreads(native, InterOpThreads));
            api.Check(api.SetSessionGraphOptimizationLevel(native, (int)GraphOptimizationLevel));
            api.Check(api.SetSessionExecutionMode(native, (int)ExecutionMode));
            api.Check(EnableMemoryArena ? api.EnableCpuMemArena(native) : api.DisableCpuMemArena(native));
            api.Check(EnableMemoryPattern ? api.EnableMemPattern(native) : api.DisableMemPattern(native));
            if (LogLevel is { } level)
            {
                api.Check(api.SetSessionLogSeverityLevel(native, (int)level));
            }

            if (FreeDimensionOverrides is not null)
            {
                foreach (var (name, value) in FreeDimensionOverrides)
                {
                    fixed (byte* pName = Utf8Z(name))
                    {
                        api.Check(api.AddFreeDimensionOverrideByName(native, pName, value));
                    }
                }
            }

            if (ConfigEntries is not null)
            {
                foreach (var (key, value) in ConfigEntries)
                {
                    fixed (byte* pKey = Utf8Z(key))
                    fixed (byte* pValue = Utf8Z(value))
                    {
                        api.Check(api.AddSessionConfigEntry(native, pKey, pValue));
                    }
                }
            }

            usesCuda = UseCuda && TryAppendCuda(runtime, native);
            return handle;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    internal static byte[] Utf8Z(string text)
    {
        var bytes = new byte[Encoding.UTF8.GetByteCount(text) + 1];
        Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    /// <summary>
    /// Appends CUDA through the V2 options path. Any failure (provider not compiled in, provider library or CUDA
    /// missing) is reported in one line and the session continues on CPU, which ORT always has.
    /// </summary>
    private unsafe bool TryAppendCuda(OrtRuntime runtime, nint sessionOptions)
    {
        if (!runtime.HasProvider(OrtRuntime.CudaProvider))
        {
            Log?.Invoke($"ONNX Runtime {runtime.Version}: CUDA was requested but this build has no {OrtRuntime.CudaProvider}; using CPU.");
            return false;
        }

        var api = OrtRuntime.Api;
        using var cuda = new OrtPlainHandle(OrtHandleKind.CudaProviderOptions);
        try
        {
            nint native;
            api.Check(api.CreateCudaProviderOptions(&native));
            cuda.Attach(native);

            var entries = new List<KeyValuePair<string, string>>
            {
                new("device_id", CudaDeviceId.ToString(CultureInfo.InvariantCulture)),
            };
            if (CudaProviderOptions is not null)
            {
                entries.AddRange(CudaProviderOptions);
            }

            var keys = entries.Select(e => Utf8Z(e.Key)).ToArray();
            var values = entries.Select(e => Utf8Z(e.Value)).ToArray();
            var handles = new List<GCHandle>(keys.Length * 2);
            try
            {
                var keyPtrs = stackalloc byte*[keys.Length];
                var valuePtrs = stackalloc byte*[keys.Length];
                for (var i = 0; i < keys.Length; i++)
                {
                    var k = GCHandle.Alloc(keys[i], GCHandleType.Pinned);
                    handles.Add(k);
                    var v = GCHandle.Alloc(values[i], GCHandleType.Pinned);
                    handles.Add(v);
                    keyPtrs[i] = (byte*)k.AddrOfPinnedObject();
                    valuePtrs[i] = (byte*)v.AddrOfPinnedObject();
                }

                api.Check(api.UpdateCudaProviderOptions(native, keyPtrs, valuePtrs, (nuint)keys.Length));
            }
            finally
            {
                foreach (var h in handles)
                {
                    h.Free();
                }
            }

            api.Check(api.SessionOptionsAppendExecutionProviderCudaV2(sessionOptions, native));
            return true;
        }
        catch (OrtException ex)
        {
            var reason = ex.OrtMessage.ReplaceLineEndings(" ").Trim();
            Log?.Invoke($"ONNX Runtime {runtime.Version}: CUDA execution provider unavailable ({ex.ErrorCode}: {reason}); using CPU.");
            return false;
        }
    }
}
