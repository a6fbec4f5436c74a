using VoiceAgent.Core;
using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>
/// The Silero VAD v5 graph (<c>silero_vad_v5.onnx</c>), loaded once and shared by every <see cref="SileroVadStream"/>
/// in the process: ORT runs on one session are thread-safe, and all per-caller state (the recurrent state and the
/// audio context) lives in the streams. The I/O signature is checked at load so a wrong file fails with one clear
/// message instead of a shape error on the first window.
/// </summary>
public sealed class SileroVadModel : IDisposable
{
    /// <summary>Elements of the recurrent state <c>[2, 1, 128]</c>.</summary>
    public const int StateLength = 2 * 1 * StateWidth;

    private const int StateWidth = 128;

    private readonly bool _ownsSession;

    /// <summary>
    /// Loads the model from <paramref name="modelPath"/> (default: <see cref="VoiceAgentPaths.DefaultSileroModel"/>,
    /// extracted by <c>./voiceagent setup</c>). The runtime must be initialized or initializable with defaults
    /// (<see cref="OrtRuntime.Shared"/>). Default session options: one intra-op and one inter-op thread, as Silero's
    /// own wrapper uses (a window is far too small to gain from threads; concurrency comes from many streams).
    /// </summary>
    /// <exception cref="FileNotFoundException">The model file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is a model, but not one with Silero VAD v5's inputs and outputs.</exception>
    public SileroVadModel(string? modelPath = null, OnnxSessionOptions? options = null)
    {
        var path = modelPath ?? VoiceAgentPaths.DefaultSileroModel
            ?? throw new FileNotFoundException("No Silero VAD model path was given and no checkout was found; run ./voiceagent setup.");
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"The Silero VAD model '{path}' does not exist; run ./voiceagent setup.", path);
        }

        ModelPath = path;
        Session = new OnnxSession(path, options ?? OnnxSessionOptions.SingleThreaded);
        _ownsSession = true;
        try
        {
            SampleRateIsScalar = ValidateSignature(Session, path);
        }
        catch
        {
            Session.Dispose();
            throw;
        }
    }

    /// <summary>Wraps an already loaded session (validated the same way); <paramref name="ownsSession"/> decides who disposes it.</summary>
    public SileroVadModel(OnnxSession session, bool ownsSession = false)
    {
        ArgumentNullException.ThrowIfNull(session);
        Session = session;
        _ownsSession = ownsSession;
        SampleRateIsScalar = ValidateSignature(session, "given");
    }

    /// <summary>The file the model came from (null when wrapping a session).</summary>
    public string? ModelPath { get; }

    /// <summary>The shared session.</summary>
    public OnnxSession Session { get; }

    /// <summary>Whether <c>sr</c> is declared rank 0 (the v5 export) rather than <c>[1]</c>.</summary>
    internal bool SampleRateIsScalar { get; }

    /// <summary>Samples per window the model takes at <paramref name="sampleRate"/>: 512 at 16 kHz, 256 at 8 kHz (32 ms).</summary>
    public static int WindowSamples(int sampleRate) => sampleRate switch
    {
        16000 => 512,
        8000 => 256,
        _ => throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, "Silero VAD runs at 16000 or 8000 Hz."),
    };

    /// <summary>Samples of the previous window prepended as context: 64 at 16 kHz, 32 at 8 kHz.</summary>
    public static int ContextSamples(int sampleRate) => WindowSamples(sampleRate) / 8;

    /// <summary>A new per-caller stream at <paramref name="sampleRate"/> (16000 or 8000) on this model.</summary>
    public SileroVadStream CreateStream(int sampleRate = 16000) => new(this, sampleRate);

    /// <summary>Disposes the session if this model owns it (streams must be disposed or idle by then).</summary>
    public void Dispose()
    {
        if (_ownsSession)
        {
            Session.Dispose();
        }
    }

    /// <summary>Checks the v5 signature; returns whether <c>sr</c> is a scalar.</summary>
    private static bool ValidateSignature(OnnxSession session, string what)
    {
        var inputs = session.Inputs;
        var outputs = session.Outputs;
        var ok = inputs.Count == 3 && outputs.Count >= 2
            && Is(inputs[0], "input", OnnxTensorElementType.Float, 2)
            && Is(inputs[1], "state", OnnxTensorElementType.Float, 3)
            && DimIs(inputs[1], 0, 2) && DimIs(inputs[1], 2, StateWidth)
            && inputs[2].Name == "sr" && inputs[2].IsTensor && inputs[2].ElementType == OnnxTensorElementType.Int64
            && (inputs[2].Rank == 0 || (inputs[2].Rank == 1 && DimIs(inputs[2], 0, 1)))
            && Is(outputs[0], "output", OnnxTensorElementType.Float, 2)
            && outputs[1].Name == "stateN" && outputs[1].IsTensor && outputs[1].ElementType == OnnxTensorElementType.Float;
        if (!ok)
        {
            throw new InvalidDataException(
                $"The {what} model is not Silero VAD v5: it has inputs ({string.Join("; ", inputs)}) and outputs ({string.Join("; ", outputs)}), "
                + "but input: Float[batch, samples], state: Float[2, batch, 128], sr: Int64 scalar and output: Float[batch, 1], stateN: Float[2, batch, 128] are expected.");
        }

        return inputs[2].Rank == 0;
    }

    private static bool Is(OnnxNodeMetadata node, string name, OnnxTensorElementType type, int rank) =>
        node.Name == name && node.IsTensor && node.ElementType == type && node.Rank == rank;

    private static bool DimIs(OnnxNodeMetadata node, int index, long value) =>
        node.Dimensions[index] == value || node.Dimensions[index] < 0;
}
