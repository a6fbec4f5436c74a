using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>How <see cref="ModelPackLoader.Load"/> reads a pack.</summary>
public sealed record ModelPackLoadOptions
{
    /// <summary>The defaults: graphs opened, checksums verified, single-threaded sessions.</summary>
    public static ModelPackLoadOptions Default { get; } = new();

    /// <summary>The manifest's file name inside the pack folder.</summary>
    public string ManifestFileName { get; init; } = "manifest.json";

    /// <summary>Validate the manifest only: open no graph and read no vocabulary (e.g. <c>training/kimi_manifest_example.json</c>).</summary>
    public bool ManifestOnly { get; init; }

    /// <summary>Check each graph file against its <c>sha256</c> (and <c>bytes</c>) when the manifest gives them.</summary>
    public bool VerifySha256 { get; init; } = true;

    /// <summary>
    /// Session options for every graph. Default: one intra-op and one inter-op thread, because a server runs many
    /// small concurrent steps (one per caller) and per-step thread fan-out costs more than it gains at these sizes.
    /// </summary>
    public OnnxSessionOptions SessionOptions { get; init; } = OnnxSessionOptions.SingleThreaded;
}
