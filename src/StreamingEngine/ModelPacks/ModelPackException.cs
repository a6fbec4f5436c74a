namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// A model pack could not be loaded: the manifest is missing, is not JSON, lacks a field, holds a value out of range,
/// or disagrees with a graph, a vocabulary file or a checksum. The message is one sentence that starts with the file
/// and names the field, e.g. <c>models/demo/manifest.json: graphs.decoder.inputs[3].dtype is float16 but decoder.onnx
/// declares float32.</c>
/// </summary>
public sealed class ModelPackException : Exception
{
    public ModelPackException()
    {
    }

    public ModelPackException(string message)
        : base(message)
    {
    }

    public ModelPackException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception for <paramref name="file"/> and <paramref name="field"/>; the message is "file: text".</summary>
    public ModelPackException(string file, string? field, string text, Exception? innerException = null)
        : base($"{file}: {text}", innerException)
    {
        FilePath = file;
        Field = field;
    }

    /// <summary>The file the problem is in (as displayed: relative to the repository root when inside it).</summary>
    public string? FilePath { get; }

    /// <summary>The manifest field (dotted path such as <c>graphs.decoder.inputs[3].dtype</c>), when one is involved.</summary>
    public string? Field { get; }
}
