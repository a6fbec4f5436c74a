namespace VoiceAgent.Core.Onnx;

// The members deliberately mirror ONNX's own type names (FLOAT, INT64, ...), which CA1720 flags as type names.
#pragma warning disable CA1720

/// <summary>ONNX tensor element types, with the numeric values of <c>ONNXTensorElementDataType</c> (= ONNX's <c>TensorProto.DataType</c>).</summary>
public enum OnnxTensorElementType
{
    /// <summary>Not a tensor, or the type is unknown.</summary>
    Undefined = 0,
    /// <summary>32-bit IEEE float (<see cref="float"/>).</summary>
    Float = 1,
    /// <summary><see cref="byte"/>.</summary>
    UInt8 = 2,
    /// <summary><see cref="sbyte"/>.</summary>
    Int8 = 3,
    /// <summary><see cref="ushort"/>.</summary>
    UInt16 = 4,
    /// <summary><see cref="short"/>.</summary>
    Int16 = 5,
    /// <summary><see cref="int"/>.</summary>
    Int32 = 6,
    /// <summary><see cref="long"/>.</summary>
    Int64 = 7,
    /// <summary>Strings; not supported by <see cref="OnnxTensor"/>.</summary>
    String = 8,
    /// <summary>One byte per element (<see cref="bool"/>).</summary>
    Bool = 9,
    /// <summary>IEEE half precision (<see cref="Half"/>).</summary>
    Float16 = 10,
    /// <summary><see cref="double"/>.</summary>
    Double = 11,
    /// <summary><see cref="uint"/>.</summary>
    UInt32 = 12,
    /// <summary><see cref="ulong"/>.</summary>
    UInt64 = 13,
    /// <summary>Two floats per element.</summary>
    Complex64 = 14,
    /// <summary>Two doubles per element.</summary>
    Complex128 = 15,
    /// <summary>Brain float; read it as raw bytes (no .NET type in the base library).</summary>
    BFloat16 = 16,
    /// <summary>8-bit float, E4M3FN.</summary>
    Float8E4M3FN = 17,
    /// <summary>8-bit float, E4M3FNUZ.</summary>
    Float8E4M3FNUZ = 18,
    /// <summary>8-bit float, E5M2.</summary>
    Float8E5M2 = 19,
    /// <summary>8-bit float, E5M2FNUZ.</summary>
    Float8E5M2FNUZ = 20,
    /// <summary>4-bit unsigned, two per byte.</summary>
    UInt4 = 21,
    /// <summary>4-bit signed, two per byte.</summary>
    Int4 = 22,
    /// <summary>4-bit float E2M1.</summary>
    Float4E2M1 = 23,
    /// <summary>2-bit unsigned, four per byte.</summary>
    UInt2 = 24,
    /// <summary>2-bit signed, four per byte.</summary>
    Int2 = 25,
    /// <summary>8-bit exponent-only float.</summary>
    Float8E8M0 = 26,
}

#pragma warning restore CA1720

/// <summary>ONNX Runtime's <c>OrtErrorCode</c>.</summary>
public enum OrtErrorCode
{
    /// <summary>No error.</summary>
    Ok = 0,
    /// <summary>Generic failure (also what a terminated run reports).</summary>
    Fail = 1,
    /// <summary>Bad argument: wrong rank, shape, type or name.</summary>
    InvalidArgument = 2,
    /// <summary>File not found.</summary>
    NoSuchFile = 3,
    /// <summary>No model.</summary>
    NoModel = 4,
    /// <summary>Engine error.</summary>
    EngineError = 5,
    /// <summary>Runtime exception inside a kernel.</summary>
    RuntimeException = 6,
    /// <summary>The model bytes are not a valid protobuf.</summary>
    InvalidProtobuf = 7,
    /// <summary>Wrong session state.</summary>
    ModelLoaded = 8,
    /// <summary>Not implemented.</summary>
    NotImplemented = 9,
    /// <summary>The graph is invalid.</summary>
    InvalidGraph = 10,
    /// <summary>An execution provider failed.</summary>
    EpFail = 11,
    /// <summary>Model loading was cancelled.</summary>
    ModelLoadCanceled = 12,
    /// <summary>The model must be compiled first.</summary>
    ModelRequiresCompilation = 13,
    /// <summary>Not found.</summary>
    NotFound = 14,
    /// <summary>The device was reset.</summary>
    DeviceReset = 15,
}

/// <summary>ONNX Runtime's <c>OrtLoggingLevel</c>: messages at or above this level go to ORT's logger (stderr).</summary>
public enum OrtLoggingLevel
{
    /// <summary>Everything.</summary>
    Verbose = 0,
    /// <summary>Informational and above.</summary>
    Info = 1,
    /// <summary>Warnings and above.</summary>
    Warning = 2,
    /// <summary>Errors and above.</summary>
    Error = 3,
    /// <summary>Only fatal errors (the only level that silences ORT's error lines).</summary>
    Fatal = 4,
}

/// <summary>ONNX Runtime's <c>GraphOptimizationLevel</c>.</summary>
public enum OnnxGraphOptimizationLevel
{
    /// <summary>No graph optimizations.</summary>
    DisableAll = 0,
    /// <summary>Basic (semantics-preserving, provider-independent) rewrites.</summary>
    Basic = 1,
    /// <summary>Basic plus extended fusions.</summary>
    Extended = 2,
    /// <summary>Extended plus layout optimizations.</summary>
    Layout = 3,
    /// <summary>Everything (ORT's default).</summary>
    All = 99,
}

/// <summary>ONNX Runtime's <c>ExecutionMode</c>.</summary>
public enum OnnxExecutionMode
{
    /// <summary>Nodes run one after another; inter-op threads are not used.</summary>
    Sequential = 0,
    /// <summary>Independent branches run on the inter-op thread pool.</summary>
    Parallel = 1,
}
