namespace VoiceAgent.Core.Audio;

/// <summary>Mono float32 audio (nominally in [-1, 1]) and its sample rate.</summary>
/// <param name="Samples">The samples; PCM16 sources are scaled by 1/32768, float sources are passed through.</param>
/// <param name="SampleRate">Samples per second; one of <see cref="AudioSampleRates.Supported"/> when read from a WAV file.</param>
public sealed record AudioClip(float[] Samples, int SampleRate)
{
    /// <summary>The duration of the clip.</summary>
    public TimeSpan Duration => SampleRate <= 0 ? TimeSpan.Zero : TimeSpan.FromSeconds((double)Samples.Length / SampleRate);
}

/// <summary>The sample rates the audio front end accepts.</summary>
public static class AudioSampleRates
{
    private static readonly int[] SupportedRates = [8000, 16000, 22050, 24000, 44100, 48000];

    /// <summary>8000, 16000, 22050, 24000, 44100 and 48000 Hz.</summary>
    public static ReadOnlySpan<int> Supported => SupportedRates;

    /// <summary>Whether <paramref name="sampleRate"/> is one of <see cref="Supported"/>.</summary>
    public static bool IsSupported(int sampleRate) => Array.IndexOf(SupportedRates, sampleRate) >= 0;
}
