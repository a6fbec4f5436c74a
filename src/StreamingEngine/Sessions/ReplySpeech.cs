using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>Receives reply PCM (16 kHz, the pack's output rate) as the audio stages produce it.</summary>
internal delegate void PcmSink(ReadOnlySpan<float> pcm);

/// <summary>Per-reply audio stages: semantic codes in, PCM out (detokenizer → vocoder → stitcher).</summary>
internal interface IReplySpeech : IDisposable
{
    /// <summary>Output sample rate of the PCM given to the sink.</summary>
    int SampleRate { get; }

    /// <summary>Adds one reply code; any PCM that became final goes to <paramref name="sink"/> before this returns.</summary>
    void PushCode(int code, PcmSink sink, CancellationToken cancellationToken);

    /// <summary>The reply ended: decodes what is left and flushes the held-back tail.</summary>
    void Complete(PcmSink sink, CancellationToken cancellationToken);
}

/// <summary>Creates per-reply audio stages over the pack's shared graphs.</summary>
internal interface IReplySpeechFactory : IDisposable
{
    IReplySpeech Create(uint seed);
}

internal static class ReplySpeechFactory
{
    /// <summary>The audio stages of <paramref name="pack"/>, or null for a text-only pack.</summary>
    public static IReplySpeechFactory? TryCreate(ModelPack pack)
    {
        _ = pack;
        return null;
    }
}
