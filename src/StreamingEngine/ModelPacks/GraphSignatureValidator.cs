using VoiceAgent.Core.Onnx;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// Compares a graph's declared inputs and outputs (names, element types, ranks, dims) with what ONNX Runtime reads
/// from the file. Fixed dims must be equal; a symbolic manifest dim needs a symbolic graph dim of the same name (or an
/// unnamed one); a fixed manifest dim over a symbolic graph dim is accepted (the graph takes any size there).
/// </summary>
internal static class GraphSignatureValidator
{
    public static void Validate(string manifestFile, string graphKey, GraphSpec spec, OnnxSession session)
    {
        var file = spec.File!;
        Compare(manifestFile, $"graphs.{graphKey}.inputs", spec.Inputs!, session.Inputs, file, "input");
        Compare(manifestFile, $"graphs.{graphKey}.outputs", spec.Outputs!, session.Outputs, file, "output");
    }

    /// <summary>The manifest's dtype name for an ORT element type (or the enum name when the manifest has none).</summary>
    public static string DTypeName(OnnxTensorElementType type) => type switch
    {
        OnnxTensorElementType.Float => "float32",
        OnnxTensorElementType.Float16 => "float16",
        OnnxTensorElementType.BFloat16 => "bfloat16",
        OnnxTensorElementType.Int64 => "int64",
        OnnxTensorElementType.Int32 => "int32",
        OnnxTensorElementType.Bool => "bool",
        _ => type.ToString().ToLowerInvariant(),
    };

    /// <summary>The ORT element type of a manifest dtype name.</summary>
    public static OnnxTensorElementType ElementType(string dtype) => dtype switch
    {
        "float32" => OnnxTensorElementType.Float,
        "float16" => OnnxTensorElementType.Float16,
        "bfloat16" => OnnxTensorElementType.BFloat16,
        "int64" => OnnxTensorElementType.Int64,
        "int32" => OnnxTensorElementType.Int32,
        "bool" => OnnxTensorElementType.Bool,
        _ => OnnxTensorElementType.Undefined,
    };

    private static void Compare(
        string manifestFile,
        string listPath,
        IReadOnlyList<TensorSpec> declared,
        IReadOnlyList<OnnxNodeMetadata> actual,
        string graphFile,
        string kind)
    {
        var byName = actual.ToDictionary(m => m.Name, StringComparer.Ordinal);
        for (var i = 0; i < declared.Count; i++)
        {
            var spec = declared[i];
            var at = $"{listPath}[{i}]";
            if (!byName.TryGetValue(spec.Name!, out var node))
            {
                throw new ModelPackException(manifestFile, $"{at}.name",
                    $"{at}.name is '{spec.Name}' but {graphFile} has no such {kind} (its {kind}s: {string.Join(", ", actual.Select(a => a.Name))}).");
            }

            if (!node.IsTensor)
            {
                throw new ModelPackException(manifestFile, at, $"{at} ('{spec.Name}') is a tensor in the manifest but not in {graphFile}.");
            }

            var actualType = DTypeName(node.ElementType);
            if (actualType != spec.Dtype)
            {
                throw new ModelPackException(manifestFile, $"{at}.dtype", $"{at}.dtype is {spec.Dtype} but {graphFile} declares {actualType}.");
            }

            var dims = spec.Dims!;
            if (dims.Count != node.Rank)
            {
                throw new ModelPackException(manifestFile, $"{at}.dims",
                    $"{at}.dims is {ManifestValidator.Dims(dims)} ({dims.Count} dims) but {graphFile} declares {node.Rank} dims {Describe(node)}.");
            }

            for (var d = 0; d < dims.Count; d++)
            {
                var fixedSize = node.Dimensions[d];
                var symbol = node.SymbolicDimensions[d];
                if (dims[d].Value is { } expected)
                {
                    if (fixedSize >= 0 && fixedSize != expected)
                    {
                        throw new ModelPackException(manifestFile, $"{at}.dims[{d}]", $"{at}.dims[{d}] is {expected} but {graphFile} declares {fixedSize}.");
                    }
                }
                else if (fixedSize >= 0)
                {
                    throw new ModelPackException(manifestFile, $"{at}.dims[{d}]",
                        $"{at}.dims[{d}] is {dims[d]} (symbolic) but {graphFile} declares a fixed {fixedSize}.");
                }
                else if (symbol.Length > 0 && symbol != dims[d].Symbol)
                {
                    throw new ModelPackException(manifestFile, $"{at}.dims[{d}]",
                        $"{at}.dims[{d}] is {dims[d]} but {graphFile} names that dimension \"{symbol}\".");
                }
            }
        }

        var listed = declared.Select(t => t.Name!).ToHashSet(StringComparer.Ordinal);
        foreach (var node in actual)
        {
            if (!listed.Contains(node.Name))
            {
                throw new ModelPackException(manifestFile, listPath,
                    $"{listPath} does not list '{node.Name}', which {graphFile} declares as an {kind} {Describe(node)}.");
            }
        }
    }

    private static string Describe(OnnxNodeMetadata node) =>
        $"[{string.Join(", ", node.Dimensions.Select((d, i) => d >= 0 ? d.ToString(System.Globalization.CultureInfo.InvariantCulture) : node.SymbolicDimensions[i].Length > 0 ? node.SymbolicDimensions[i] : "?"))}]";
}
