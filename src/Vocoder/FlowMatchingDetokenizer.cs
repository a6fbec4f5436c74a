using VoiceAgent.Core.Onnx;

namespace VoiceAgent.Vocoder;

/// <summary>The three outputs of one <c>detokenizer_step</c> call (copies, for tests and tools).</summary>
/// <param name="Velocity"><c>[1, frames, mel_bins]</c>.</param>
/// <param name="KChunk"><c>[layers, heads, frames, head_dim]</c>.</param>
/// <param name="VChunk"><c>[layers, heads, frames, head_dim]</c>.</param>
public sealed record DetokenizerStepResult(float[] Velocity, float[] KChunk, float[] VChunk);

/// <summary>
/// The shared wrapper around <c>detokenizer_step.onnx</c> (docs/model-pack-part2.md §2): one DiT evaluation over a
/// chunk window attending to a prefix KV cache. Holds no per-reply state, so one instance serves every reply
/// (ONNX Runtime runs on one session are thread-safe); per-reply state lives in <see cref="DetokenizerStream"/>.
/// </summary>
public sealed class FlowMatchingDetokenizer
{
    /// <summary>Input: current Euler state <c>[1, frames, mel_bins]</c> float32.</summary>
    public const string XInput = "x_t";

    /// <summary>Input: codes repeated ×upsample <c>[1, frames]</c> int64.</summary>
    public const string TokensInput = "tokens";

    /// <summary>Input: flow time <c>[1]</c> float32.</summary>
    public const string TimeInput = "t";

    /// <summary>Input: absolute frame index of the window's first frame <c>[1]</c> int64.</summary>
    public const string StartFrameInput = "start_frame";

    /// <summary>Input: prefix keys <c>[layers, heads, cache_frames, head_dim]</c> float32.</summary>
    public const string CacheKInput = "cache_k";

    /// <summary>Input: prefix values, same layout.</summary>
    public const string CacheVInput = "cache_v";

    /// <summary>Output: velocity <c>[1, frames, mel_bins]</c>.</summary>
    public const string VelocityOutput = "velocity";

    /// <summary>Output: the window's keys <c>[layers, heads, frames, head_dim]</c>.</summary>
    public const string KChunkOutput = "k_chunk";

    /// <summary>Output: the window's values.</summary>
    public const string VChunkOutput = "v_chunk";

    internal static readonly string[] InputNames = [XInput, TokensInput, TimeInput, StartFrameInput, CacheKInput, CacheVInput];
    internal static readonly string[] EulerOutputNames = [VelocityOutput];
    internal static readonly string[] CacheOutputNames = [KChunkOutput, VChunkOutput];

    /// <summary>Wraps <paramref name="session"/>; checks that it has the contract's inputs and outputs.</summary>
    /// <exception cref="ArgumentException">The graph lacks a contract tensor or disagrees with <paramref name="settings"/>.</exception>
    public FlowMatchingDetokenizer(OnnxSession session, DetokenizerSettings settings)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        Session = session;
        Settings = settings;
        var cache = new long[] { settings.NumLayers, settings.NumHeads, -1, settings.HeadDim };
        Check(session.Inputs, XInput, OnnxTensorElementType.Float, [1, -1, settings.MelBins]);
        Check(session.Inputs, TokensInput, OnnxTensorElementType.Int64, [1, -1]);
        Check(session.Inputs, TimeInput, OnnxTensorElementType.Float, [1]);
        Check(session.Inputs, StartFrameInput, OnnxTensorElementType.Int64, [1]);
        Check(session.Inputs, CacheKInput, OnnxTensorElementType.Float, cache);
        Check(session.Inputs, CacheVInput, OnnxTensorElementType.Float, cache);
        Check(session.Outputs, VelocityOutput, OnnxTensorElementType.Float, [1, -1, settings.MelBins]);
        Check(session.Outputs, KChunkOutput, OnnxTensorElementType.Float, cache);
        Check(session.Outputs, VChunkOutput, OnnxTensorElementType.Float, cache);
        if (session.Inputs.Count != InputNames.Length)
        {
            throw new ArgumentException($"detokenizer_step has {session.Inputs.Count} inputs but the contract has {InputNames.Length} ({string.Join(", ", InputNames)}).", nameof(session));
        }
    }

    /// <summary>The shared session.</summary>
    public OnnxSession Session { get; }

    /// <summary>Schedule, shapes and noise seed.</summary>
    public DetokenizerSettings Settings { get; }

    /// <summary>Starts the per-reply state for a reply whose Euler noise uses <paramref name="seed"/> (default: the pack's default seed).</summary>
    public DetokenizerStream CreateStream(uint? seed = null) => new(this, seed ?? Settings.DefaultSeed);

    /// <summary>
    /// One graph call with freshly allocated tensors (tests and tools; a <see cref="DetokenizerStream"/> reuses its own).
    /// <paramref name="x"/> is <c>[frames, mel_bins]</c>, <paramref name="tokens"/> <c>[frames]</c>, the caches
    /// <c>[layers, heads, cacheFrames, head_dim]</c>.
    /// </summary>
    public DetokenizerStepResult RunStep(
        ReadOnlySpan<float> x,
        ReadOnlySpan<long> tokens,
        float t,
        long startFrame,
        ReadOnlySpan<float> cacheK,
        ReadOnlySpan<float> cacheV,
        int cacheFrames,
        CancellationToken cancellationToken = default)
    {
        var s = Settings;
        var frames = tokens.Length;
        if (x.Length != frames * s.MelBins)
        {
            throw new ArgumentException($"x holds {x.Length} floats but {frames} frames × {s.MelBins} bins = {frames * s.MelBins}.", nameof(x));
        }

        var cacheCount = cacheFrames * s.CacheFloatsPerFrame;
        if (cacheK.Length != cacheCount || cacheV.Length != cacheCount)
        {
            throw new ArgumentException($"A cache of {cacheFrames} frames holds {cacheCount} floats; got {cacheK.Length} and {cacheV.Length}.", nameof(cacheK));
        }

        var kvShape = new long[] { s.NumLayers, s.NumHeads, frames, s.HeadDim };
        var cacheShape = new long[] { s.NumLayers, s.NumHeads, cacheFrames, s.HeadDim };
        var velocity = new float[frames * s.MelBins];
        var k = new float[frames * s.CacheFloatsPerFrame];
        var v = new float[k.Length];
        using var xt = OnnxTensor.FromArray(x.ToArray(), 1, frames, s.MelBins);
        using var tok = OnnxTensor.FromArray(tokens.ToArray(), 1, frames);
        using var time = OnnxTensor.FromArray([t], 1);
        using var start = OnnxTensor.FromArray([startFrame], 1);
        using var ck = OnnxTensor.FromArray(cacheCount == 0 ? new float[1] : cacheK.ToArray(), cacheShape);
        using var cv = OnnxTensor.FromArray(cacheCount == 0 ? new float[1] : cacheV.ToArray(), cacheShape);
        using var vel = OnnxTensor.FromArray(velocity, 1, frames, s.MelBins);
        using var kt = OnnxTensor.FromArray(k, kvShape);
        using var vt = OnnxTensor.FromArray(v, kvShape);
        OnnxTensor?[] outputs = [vel, kt, vt];
        Session.Run(InputNames, [xt, tok, time, start, ck, cv], [VelocityOutput, KChunkOutput, VChunkOutput], outputs, null, cancellationToken);
        return new DetokenizerStepResult(velocity, k, v);
    }

    private static void Check(IReadOnlyList<OnnxNodeMetadata> list, string name, OnnxTensorElementType type, long[] dims)
    {
        var node = list.FirstOrDefault(n => n.Name == name)
            ?? throw new ArgumentException($"detokenizer_step has no '{name}' (it has: {string.Join(", ", list.Select(n => n.Name))}).", nameof(list));
        if (node.ElementType != type || node.Rank != dims.Length)
        {
            throw new ArgumentException($"detokenizer_step's '{name}' is {node.ElementType} with {node.Rank} dims; the contract says {type} with {dims.Length}.", nameof(list));
        }

        for (var d = 0; d < dims.Length; d++)
        {
            if (dims[d] >= 0 && node.Dimensions[d] >= 0 && node.Dimensions[d] != dims[d])
            {
                throw new ArgumentException($"detokenizer_step's '{name}' has {node.Dimensions[d]} at dim {d}; the settings say {dims[d]}.", nameof(list));
            }
        }
    }
}
