namespace VoiceAgent.Core.Audio;

/// <summary>
/// Raised when audio input cannot be decoded: a missing or empty file, a file that is not RIFF/WAVE, a truncated
/// header or data chunk, an unsupported encoding or channel count, or an unsupported sample rate. The message is one
/// sentence that names the problem (and the file, where there is one).
/// </summary>
public sealed class AudioFormatException : Exception
{
    public AudioFormatException()
    {
    }

    public AudioFormatException(string message)
        : base(message)
    {
    }

    public AudioFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
