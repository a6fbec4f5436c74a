using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Stages;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>Where the engine's models come from and how their graphs run.</summary>
public sealed class VoiceAgentEngineOptions
{
    /// <summary>Model-pack folder (default: the committed demo pack, <c>models/demo</c>).</summary>
    public string? PackDirectory { get; set; }

    /// <summary>Silero VAD v5 model (default: the file <c>./voiceagent setup</c> extracts).</summary>
    public string? VadModelPath { get; set; }

    /// <summary>Native ONNX Runtime library (default: <c>VOICEAGENT_ORT_LIB</c>, else the setup folder).</summary>
    public string? OrtLibraryPath { get; set; }

    /// <summary>Intra-op threads per graph run. 1 suits many concurrent sessions (parallelism comes from sessions).</summary>
    public int IntraOpThreads { get; set; } = 1;

    /// <summary>Try the CUDA execution provider first (falls back to CPU with one log line).</summary>
    public bool UseCuda { get; set; }

    /// <summary>Verify the graphs' SHA-256 against the manifest at load (a few hundred ms for the demo pack).</summary>
    public bool VerifySha256 { get; set; } = true;
}

/// <summary>
/// The shared, thread-safe half of VoiceAgent: one loaded model pack (every graph opened once), the VAD model and the
/// stage wrappers. Open any number of <see cref="VoiceSession"/>s on it from any threads; sessions share the graphs
/// and never take a global lock (ORT's Run is thread-safe). Usable without ASP.NET Core, e.g. inside an IVR host.
/// </summary>
public sealed class VoiceAgentEngine : IDisposable
{
    private static readonly Lock ThreadPoolGate = new();
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private long _sessionCounter;
    private int _activeSessions;
    private bool _disposed;

    private VoiceAgentEngine(VoiceAgentEngineOptions options, ILoggerFactory loggerFactory)
    {
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<VoiceAgentEngine>();
        Options = options;
        OrtRuntime.Initialize(new OrtRuntimeOptions { LibraryPath = options.OrtLibraryPath });
        var sessionOptions = new OnnxSessionOptions
        {
            IntraOpThreads = options.IntraOpThreads,
            InterOpThreads = 1,
            UseCuda = options.UseCuda,
            Log = line => _logger.LogWarning("{OrtLine}", line),
        };

        var packDirectory = options.PackDirectory ?? VoiceAgentPaths.DemoPackDirectory
            ?? throw new InvalidOperationException("No model pack configured and no checkout found; set PackDirectory.");
        Pack = ModelPackLoader.Load(packDirectory, new ModelPackLoadOptions { SessionOptions = sessionOptions, VerifySha256 = options.VerifySha256 });
        try
        {
            Vad = new SileroVadModel(options.VadModelPath, sessionOptions);
            Tokenizer = new SemanticTokenizer(Pack);
            Decoder = new DualHeadDecoder(Pack);
            Generator = new ReplyGenerator(Decoder);
        }
        catch
        {
            Vad?.Dispose();
            Pack.Dispose();
            throw;
        }

        _logger.LogInformation(
            "Engine ready: pack {Pack} ({Graphs} graphs), audio output {Audio}, ONNX Runtime {Version}",
            Pack.Manifest.Name,
            Pack.Graphs.Count,
            CanSpeak ? "on" : "off (text-only pack)",
            OrtRuntime.Shared.Version);
    }

    /// <summary>The settings the engine was loaded with.</summary>
    public VoiceAgentEngineOptions Options { get; }

    /// <summary>The loaded model pack (owns the graph sessions).</summary>
    public ModelPack Pack { get; }

    /// <summary>The shared VAD graph.</summary>
    public SileroVadModel Vad { get; }

    /// <summary>The shared streaming tokenizer graph.</summary>
    public SemanticTokenizer Tokenizer { get; }

    /// <summary>The shared dual-head decoder graph.</summary>
    public DualHeadDecoder Decoder { get; }

    /// <summary>Builds prompts and runs the generation loop.</summary>
    public ReplyGenerator Generator { get; }

    /// <summary>Whether the pack can speak (it has a detokenizer and a vocoder).</summary>
    public bool CanSpeak => Pack.Detokenizer is not null && Pack.Vocoder is not null;

    /// <summary>Sessions currently open.</summary>
    public int ActiveSessions => Volatile.Read(ref _activeSessions);

    internal ILoggerFactory LoggerFactory => _loggerFactory;

    /// <summary>Loads the pack and the VAD; throws <see cref="ModelPackException"/> (file and field) on a bad pack.</summary>
    public static VoiceAgentEngine Load(VoiceAgentEngineOptions? options = null, ILoggerFactory? loggerFactory = null) =>
        new(options ?? new VoiceAgentEngineOptions(), loggerFactory ?? NullLoggerFactory.Instance);

    /// <summary>Opens a caller's session (one conversation).</summary>
    public VoiceSession OpenSession(VoiceSessionOptions? options = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var copy = (options ?? new VoiceSessionOptions()).Clone();
        copy.Validate();
        if (copy.Mode == OutputMode.TextAndAudio && !CanSpeak)
        {
            throw new InvalidOperationException($"The model pack '{Pack.Manifest.Name}' has no detokenizer/vocoder; open the session with Mode = TextOnly.");
        }

        var id = Interlocked.Increment(ref _sessionCounter);
        EnsureThreadPoolHeadroom(Interlocked.Increment(ref _activeSessions));
        return new VoiceSession(this, copy, id, _loggerFactory.CreateLogger<VoiceSession>());
    }

    /// <summary>
    /// Inference runs synchronously on thread-pool threads: a replying session holds one for its decoder loop and one
    /// for its audio stages while they compute. On a small machine that is the whole pool (its minimum is the core
    /// count), and the host's I/O and timer continuations (the WebSocket send that carries the first packet, the RTP
    /// clock of a phone call) then wait for the pool's slow thread injection. Measured with 20 concurrent SIP calls on
    /// 2 cores: reply RTP left every 33–34 ms instead of every 20 ms (the call heard 60 % of real time) until this
    /// headroom was added (docs/performance.md). Keeping the minimum above what the open sessions can hold removes
    /// that wait; threads are still created only when work is queued. Never lowered, so hosts that set a higher
    /// minimum keep it.
    /// </summary>
    private static void EnsureThreadPoolHeadroom(int sessions)
    {
        var wanted = Environment.ProcessorCount + (2 * sessions) + 2;
        lock (ThreadPoolGate)
        {
            ThreadPool.GetMinThreads(out var workers, out var io);
            if (workers < wanted)
            {
                ThreadPool.SetMinThreads(wanted, io);
            }
        }
    }

    internal void OnSessionClosed() => Interlocked.Decrement(ref _activeSessions);

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Vad.Dispose();
        Pack.Dispose();
    }
}
