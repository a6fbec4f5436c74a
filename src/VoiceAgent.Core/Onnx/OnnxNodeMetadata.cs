namespace VoiceAgent.Core.Onnx;

/// <summary>One model input or output as ORT reports it, read once when the session is created.</summary>
/// <param name="Name">The graph name.</param>
/// <param name="Index">Position among the session's inputs (or outputs).</param>
/// <param name="IsTensor">False for sequences, maps and other non-tensor values (then the type and dims are empty).</param>
/// <param name="ElementType">The tensor element type.</param>
/// <param name="Dimensions">The declared dims; -1 where a dim is symbolic or unknown.</param>
/// <param name="SymbolicDimensions">The symbolic name of each dim (empty string where none).</param>
public sealed record OnnxNodeMetadata(
    string Name,
    int Index,
    bool IsTensor,
    OnnxTensorElementType ElementType,
    IReadOnlyList<long> Dimensions,
    IReadOnlyList<string> SymbolicDimensions)
{
    /// <summary>Number of declared dimensions (0 for a scalar).</summary>
    public int Rank => Dimensions.Count;

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(", ", Dimensions)}]";
}
