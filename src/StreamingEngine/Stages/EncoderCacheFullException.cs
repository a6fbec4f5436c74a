namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// A user turn ran past the tokenizer's supported cache length (<c>tokenizer.cache.max_length</c>; 512 frames =
/// 20.5 s for the demo). End the turn (and <see cref="SemanticTokenizerStream.Reset"/>) before that.
/// </summary>
public sealed class EncoderCacheFullException : InvalidOperationException
{
    public EncoderCacheFullException()
    {
    }

    public EncoderCacheFullException(string message)
        : base(message)
    {
    }

    public EncoderCacheFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
