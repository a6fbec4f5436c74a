using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Vocoder;

/// <summary>
/// The shared wrapper around <c>vocoder.onnx</c> (docs/model-pack-part2.md §1, §4): normalised mel
/// <c>[1, T, mel_bins]</c> → audio <c>[1, hop·T]</c>. Holds no per-reply state (one instance serves every reply);
/// the buffers of a caller live in its <see cref="VocoderWorkspace"/>, the stitching state in a <see cref="ChunkStitcher"/>.
/// </summary>
public sealed class BigVganVocoder
{
    /// <summary>Input: normalised mel <c>[1, frames, mel_bins]</c> float32.</summary>
    public const string MelInput = "mel";

    /// <summary>Output: audio <c>[1, hop·frames]</c> float32.</summary>
    public const string AudioOutput = "audio";

    internal static readonly string[] InputNames = [MelInput];
    internal static readonly string[] OutputNames = [AudioOutput];

    /// <summary>Wraps <paramref name="session"/>; checks its inputs and outputs against the contract.</summary>
    /// <exception cref="ArgumentException">The graph lacks <c>mel</c> or <c>audio</c>, or disagrees with <paramref name="settings"/>.</exception>
    public BigVganVocoder(OnnxSession session, VocoderSettings settings)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Session = session;
        Settings = settings;
        var mel = session.Inputs.FirstOrDefault(n => n.Name == MelInput)
            ?? throw new ArgumentException($"The vocoder graph has no input '{MelInput}'.", nameof(session));
        if (mel.ElementType != OnnxTensorElementType.Float || mel.Rank != 3 || (mel.Dimensions[2] >= 0 && mel.Dimensions[2] != settings.MelBins))
        {
            throw new ArgumentException($"The vocoder input is {mel} but the contract is float32 [1, frames, {settings.MelBins}].", nameof(session));
        }

        var audio = session.Outputs.FirstOrDefault(n => n.Name == AudioOutput)
            ?? throw new ArgumentException($"The vocoder graph has no output '{AudioOutput}'.", nameof(session));
        if (audio.ElementType != OnnxTensorElementType.Float || audio.Rank != 2)
        {
            throw new ArgumentException($"The vocoder output is {audio} but the contract is float32 [1, samples].", nameof(session));
        }
    }

    /// <summary>The shared session.</summary>
    public OnnxSession Session { get; }

    /// <summary>Hop, overlap and left context.</summary>
    public VocoderSettings Settings { get; }

    /// <summary>Creates buffers for one caller (grown on demand beyond <paramref name="initialFrames"/>).</summary>
    public VocoderWorkspace CreateWorkspace(int initialFrames = 64) => new(this, initialFrames);

    /// <summary>Creates the per-reply stitching state (§4).</summary>
    public ChunkStitcher CreateStitcher() => new(this);

    /// <summary>
    /// Vocodes frame-major <paramref name="mel"/> (<c>T × mel_bins</c> floats) with <paramref name="workspace"/>'s
    /// buffers; the returned <c>hop·T</c> samples are valid until the workspace's next call.
    /// </summary>
    public ReadOnlySpan<float> Vocode(VocoderWorkspace workspace, ReadOnlySpan<float> mel, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(workspace);
        if (workspace.Owner != this)
        {
            throw new ArgumentException("The workspace belongs to another vocoder.", nameof(workspace));
        }

        return workspace.Run(mel, cancellationToken);
    }

    /// <summary>Vocodes <paramref name="mel"/> into a new array (tests and tools).</summary>
    public float[] Vocode(ReadOnlySpan<float> mel, CancellationToken cancellationToken = default)
    {
        using var workspace = CreateWorkspace(Math.Max(1, mel.Length / Settings.MelBins));
        return workspace.Run(mel, cancellationToken).ToArray();
    }
}

/// <summary>
/// One caller's vocoder buffers: the mel input and audio output arrays (pinned, grown by doubling when a longer call
/// comes) and their tensors, one per frame count used. Not thread-safe.
/// </summary>
public sealed class VocoderWorkspace : IDisposable
{
    private readonly OnnxTensor[] _inputs = new OnnxTensor[1];
    private readonly OnnxTensor?[] _outputs = new OnnxTensor?[1];
    private readonly OnnxRunOptions _runOptions = new();
    private float[] _mel = [];
    private float[] _audio = [];
    private FrameTensorSet<float>? _melTensors;
    private FrameTensorSet<float>? _audioTensors;
    private bool _disposed;

    internal VocoderWorkspace(BigVganVocoder owner, int initialFrames)
    {
        Owner = owner;
        Grow(Math.Max(1, initialFrames));
    }

    internal BigVganVocoder Owner { get; }

    /// <summary>Frames one call can take before the buffers grow.</summary>
    public int CapacityFrames => _melTensors?.MaxFrames ?? 0;

    /// <summary>Releases the tensors (no call may be running).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _melTensors?.Dispose();
        _audioTensors?.Dispose();
        _runOptions.Dispose();
    }

    internal ReadOnlySpan<float> Run(ReadOnlySpan<float> mel, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var s = Owner.Settings;
        if (mel.Length % s.MelBins != 0 || mel.IsEmpty)
        {
            throw new ArgumentException($"Mel is a non-empty whole number of {s.MelBins}-bin frames; got {mel.Length} floats.", nameof(mel));
        }

        var frames = mel.Length / s.MelBins;
        if (frames > CapacityFrames)
        {
            Grow(Math.Max(frames, CapacityFrames * 2));
        }

        mel.CopyTo(_mel);
        _inputs[0] = _melTensors!.Get(frames);
        _outputs[0] = _audioTensors!.Get(frames);
        if (_runOptions.IsTerminateRequested)
        {
            _runOptions.ResetTerminate();
        }

        Owner.Session.Run(BigVganVocoder.InputNames, _inputs, BigVganVocoder.OutputNames, _outputs, _runOptions, cancellationToken);
        return _audio.AsSpan(0, frames * s.HopLength);
    }

    private void Grow(int frames)
    {
        var s = Owner.Settings;
        _melTensors?.Dispose();
        _audioTensors?.Dispose();
        _mel = GC.AllocateArray<float>(frames * s.MelBins, pinned: true);
        _audio = GC.AllocateArray<float>(frames * s.HopLength, pinned: true);
        _melTensors = new FrameTensorSet<float>(_mel, [1, -1, s.MelBins], frames);
        _audioTensors = new FrameTensorSet<float>(_audio, [1, -s.HopLength], frames);
    }
}
