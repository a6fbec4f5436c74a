using System.Runtime.InteropServices;

namespace VoiceAgent.Core.Onnx;

/// <summary>Settings for the one ONNX Runtime environment of the process; only the first initialization's values count.</summary>
public sealed record OrtRuntimeOptions
{
    /// <summary>Path of <c>libonnxruntime.so.1</c>; null resolves through <see cref="VoiceAgentPaths.ResolveOrtLibrary"/>.</summary>
    public string? LibraryPath { get; init; }

    /// <summary>Severity at which ORT's own logger writes to stderr.</summary>
    public OrtLoggingLevel LogLevel { get; init; } = OrtLoggingLevel.Warning;

    /// <summary>The log id ORT prefixes its messages with.</summary>
    public string LogId { get; init; } = "voiceagent";

    /// <summary>
    /// Sets <c>ORT_DISABLE_TELEMETRY=1</c> in the native environment before the library is loaded. On by default because
    /// the Linux build otherwise writes a device id and an event database under ~/.cache on the first CreateEnv.
    /// </summary>
    public bool DisableTelemetry { get; init; } = true;
}

/// <summary>
/// The process-wide ONNX Runtime: loads the native library once, checks that it offers the C API version this
/// binding was written against, and owns the single <c>OrtEnv</c> (kept for the life of the process, because ORT
/// wants the env to outlive every session and re-creating it is not supported).
/// </summary>
public sealed unsafe partial class OrtRuntime
{
    /// <summary>The <c>ORT_API_VERSION</c> requested from <c>GetApi</c>: ORT 1.30 or any later release that still serves it.</summary>
    public const uint ApiVersion = 30;

    /// <summary>The name ORT gives its CUDA execution provider.</summary>
    public const string CudaProvider = "CUDAExecutionProvider";

    /// <summary>The name ORT gives its CPU execution provider.</summary>
    public const string CpuProvider = "CPUExecutionProvider";

    private static readonly Lock InitLock = new();
    private static volatile OrtRuntime? _instance;
    private static OrtApi? _api;

    private OrtRuntime(string libraryPath, string version, OrtApi api, nint env, nint cpuMemoryInfo, nint defaultAllocator, OrtRuntimeOptions options)
    {
        LibraryPath = libraryPath;
        Version = version;
        Env = env;
        CpuMemoryInfo = cpuMemoryInfo;
        DefaultAllocator = defaultAllocator;
        LogLevel = options.LogLevel;
        AvailableProviders = ReadProviders(api);
    }

    /// <summary>The runtime, initialized with default options on first use.</summary>
    public static OrtRuntime Shared => _instance ?? Initialize();

    /// <summary>Whether the native library has been loaded in this process.</summary>
    public static bool IsInitialized => _instance is not null;

    /// <summary>
    /// Native handles currently owned by live wrappers (sessions, tensors, run options, bindings, and the transient
    /// type-info objects while they exist). The process-wide env and CPU memory info are not counted.
    /// </summary>
    public static long LiveHandleCount => OrtHandle.LiveCount;

    /// <summary>The full path of the loaded library.</summary>
    public string LibraryPath { get; }

    /// <summary>ORT's version string, e.g. <c>1.30.0</c>.</summary>
    public string Version { get; }

    /// <summary>The env's logging level.</summary>
    public OrtLoggingLevel LogLevel { get; }

    /// <summary>Execution providers compiled into the library (compiled in does not mean loadable: see <see cref="OnnxSessionOptions.UseCuda"/>).</summary>
    public IReadOnlyList<string> AvailableProviders { get; }

    internal static OrtApi Api => _api!;

    /// <summary>The process-wide <c>OrtEnv</c>; never released (see the class remarks).</summary>
    internal nint Env { get; }

    /// <summary>CPU memory info (arena allocator, default memory type) used for tensors over managed memory and CPU output binding.</summary>
    internal nint CpuMemoryInfo { get; }

    /// <summary>ORT's default CPU allocator: a singleton that must never be released.</summary>
    internal nint DefaultAllocator { get; }

    /// <summary>Loads and initializes the runtime once; later calls return the same instance (and must not name a different library).</summary>
    public static OrtRuntime Initialize(OrtRuntimeOptions? options = null)
    {
        var existing = _instance;
        if (existing is not null)
        {
            CheckSameLibrary(existing, options);
            return existing;
        }

        lock (InitLock)
        {
            if (_instance is { } raced)
            {
                CheckSameLibrary(raced, options);
                return raced;
            }

            _instance = Create(options ?? new OrtRuntimeOptions());
            return _instance;
        }
    }

    /// <summary>Whether ORT lists <paramref name="provider"/> among its compiled-in execution providers.</summary>
    public bool HasProvider(string provider) => AvailableProviders.Contains(provider, StringComparer.Ordinal);

    private static void CheckSameLibrary(OrtRuntime runtime, OrtRuntimeOptions? options)
    {
        if (options?.LibraryPath is { } requested
            && !string.Equals(Path.GetFullPath(requested), runtime.LibraryPath, StringComparison.Ordinal))
        {
            throw new InvalidOperationException(
                $"ONNX Runtime is already loaded from '{runtime.LibraryPath}'; a process can load only one ('{requested}' was requested).");
        }
    }

    private static OrtRuntime Create(OrtRuntimeOptions options)
    {
        var libraryPath = Path.GetFullPath(VoiceAgentPaths.ResolveOrtLibrary(options.LibraryPath));
        if (!File.Exists(libraryPath))
        {
            throw new FileNotFoundException($"ONNX Runtime library not found at '{libraryPath}'. Run ./voiceagent setup or set {VoiceAgentPaths.OrtLibraryVariable}.", libraryPath);
        }

        if (options.DisableTelemetry)
        {
            DisableNativeTelemetry();
        }

        // The library stays loaded for the life of the process: handles may be finalized at any time until exit.
        var library = NativeLibrary.Load(libraryPath);
        var getApiBase = (delegate* unmanaged<nint*>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        var apiBase = getApiBase();
        var getApi = (delegate* unmanaged<uint, nint*>)apiBase[0];
        var getVersion = (delegate* unmanaged<byte*>)apiBase[1];
        var version = Marshal.PtrToStringUTF8((nint)getVersion()) ?? "unknown";
        var table = getApi(ApiVersion);
        if (table is null)
        {
            throw new NotSupportedException(
                $"ONNX Runtime {version} at '{libraryPath}' does not provide C API version {ApiVersion}; this binding needs ONNX Runtime 1.30 or later.");
        }

        var api = new OrtApi(table);
        nint env;
        var logId = System.Text.Encoding.UTF8.GetBytes(options.LogId + "\0");
        fixed (byte* pLogId = logId)
        {
            api.Check(api.CreateEnv((int)options.LogLevel, pLogId, &env));
        }

        // Belt and braces: the env variable is what actually stops the files; this stops event upload for this env.
        api.Check(api.DisableTelemetryEvents(env));

        nint memoryInfo;
        api.Check(api.CreateCpuMemoryInfo(1 /* OrtArenaAllocator */, 0 /* OrtMemTypeDefault */, &memoryInfo));
        nint allocator;
        api.Check(api.GetAllocatorWithDefaultOptions(&allocator));

        _api = api;
        return new OrtRuntime(libraryPath, version, api, env, memoryInfo, allocator, options);
    }

    private static string[] ReadProviders(OrtApi api)
    {
        byte** names;
        int count;
        api.Check(api.GetAvailableProviders(&names, &count));
        try
        {
            var result = new string[count];
            for (var i = 0; i < count; i++)
            {
                result[i] = Marshal.PtrToStringUTF8((nint)names[i]) ?? string.Empty;
            }

            return result;
        }
        finally
        {
            api.Check(api.ReleaseAvailableProviders(names, count));
        }
    }

    /// <summary>
    /// .NET keeps its own copy of the environment on Unix, so <see cref="Environment.SetEnvironmentVariable(string, string)"/>
    /// never reaches the <c>getenv</c> ORT calls; libc's <c>setenv</c> does.
    /// </summary>
    private static void DisableNativeTelemetry()
    {
        Environment.SetEnvironmentVariable("ORT_DISABLE_TELEMETRY", "1");
        if (!OperatingSystem.IsWindows())
        {
            fixed (byte* name = "ORT_DISABLE_TELEMETRY\0"u8)
            fixed (byte* value = "1\0"u8)
            {
                _ = SetEnv(name, value, 1);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "setenv")]
    private static partial int SetEnv(byte* name, byte* value, int overwrite);
}
