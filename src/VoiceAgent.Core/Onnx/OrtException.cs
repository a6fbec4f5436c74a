namespace VoiceAgent.Core.Onnx;

/// <summary>An error reported by ONNX Runtime through an <c>OrtStatus</c>; carries ORT's code and message unchanged.</summary>
public sealed class OrtException : Exception
{
    /// <summary>Creates an exception with <see cref="OrtErrorCode.Fail"/>.</summary>
    public OrtException()
        : this(OrtErrorCode.Fail, "ONNX Runtime reported an error.")
    {
    }

    /// <summary>Creates an exception with <see cref="OrtErrorCode.Fail"/> and the given message.</summary>
    public OrtException(string message)
        : this(OrtErrorCode.Fail, message)
    {
    }

    /// <summary>Creates an exception with <see cref="OrtErrorCode.Fail"/>, a message and an inner exception.</summary>
    public OrtException(string message, Exception innerException)
        : base(message, innerException)
    {
        ErrorCode = OrtErrorCode.Fail;
        OrtMessage = message;
    }

    /// <summary>Creates an exception from ORT's error code and message.</summary>
    public OrtException(OrtErrorCode errorCode, string message)
        : base($"[ORT {errorCode}] {message}")
    {
        ErrorCode = errorCode;
        OrtMessage = message;
    }

    /// <summary>ORT's error code.</summary>
    public OrtErrorCode ErrorCode { get; }

    /// <summary>ORT's message text, without the code prefix that <see cref="Exception.Message"/> carries.</summary>
    public string OrtMessage { get; }
}
