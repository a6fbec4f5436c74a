using System.Globalization;

namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>
/// Settings of the voice activity detector (bindable with <c>IOptions&lt;VadOptions&gt;</c>, e.g. from a
/// <c>"Vad"</c> configuration section). The defaults follow Silero's <c>get_speech_timestamps</c> except for a longer
/// silence hangover (300 ms instead of 100 ms), which suits turn taking: a speaker's short pauses do not end the turn.
/// Call <see cref="Validate"/> (or <see cref="GetValidationErrors"/>) before use; the VAD classes validate on construction.
/// </summary>
public sealed class VadOptions
{
    /// <summary>The sample rates Silero VAD v5 runs at natively.</summary>
    public static IReadOnlyList<int> NativeSampleRates { get; } = [16000, 8000];

    /// <summary>Speech starts when a window's probability is at or above this (0 &lt; T &lt; 1). Default 0.5.</summary>
    public float Threshold { get; set; } = 0.5f;

    /// <summary>
    /// Speech may end once probabilities fall below this; null means <c>max(Threshold − 0.15, 0.01)</c> (Silero's rule).
    /// Must not exceed <see cref="Threshold"/>.
    /// </summary>
    public float? NegativeThreshold { get; set; }

    /// <summary>Segments not longer than this are dropped (noise bursts, clicks). Default 250 ms.</summary>
    public int MinSpeechMs { get; set; } = 250;

    /// <summary>Hangover: speech ends only after this much time below <see cref="NegativeThreshold"/>. Default 300 ms.</summary>
    public int MinSilenceMs { get; set; } = 300;

    /// <summary>Padding added before each start and after each end (never before 0 or past what was heard). Default 30 ms.</summary>
    public int SpeechPadMs { get; set; } = 30;

    /// <summary>
    /// The rate the model runs at: 16000 (default) or 8000. Audio at another rate is resampled to this rate by
    /// <see cref="VoiceActivityDetector"/>.
    /// </summary>
    public int SampleRate { get; set; } = 16000;

    /// <summary>The negative threshold in effect: <see cref="NegativeThreshold"/> or <c>max(Threshold − 0.15, 0.01)</c>.</summary>
    public float EffectiveNegativeThreshold => NegativeThreshold ?? MathF.Max(Threshold - 0.15f, 0.01f);

    /// <summary>A copy (the class is mutable for configuration binding; the VAD classes keep their own copy).</summary>
    public VadOptions Clone() => (VadOptions)MemberwiseClone();

    /// <summary>Every problem with the settings, one sentence each; empty when they are valid.</summary>
    public IReadOnlyList<string> GetValidationErrors()
    {
        var errors = new List<string>();
        if (!(Threshold > 0f && Threshold < 1f))
        {
            errors.Add($"Threshold must be greater than 0 and less than 1, got {Format(Threshold)}.");
        }

        if (NegativeThreshold is { } negative && !(negative >= 0f && negative <= Threshold))
        {
            errors.Add($"NegativeThreshold must be from 0 to Threshold ({Format(Threshold)}), got {Format(negative)}.");
        }

        if (MinSpeechMs is < 0 or > 60_000)
        {
            errors.Add($"MinSpeechMs must be from 0 to 60000, got {MinSpeechMs}.");
        }

        if (MinSilenceMs is < 0 or > 60_000)
        {
            errors.Add($"MinSilenceMs must be from 0 to 60000, got {MinSilenceMs}.");
        }

        if (SpeechPadMs is < 0 or > 10_000)
        {
            errors.Add($"SpeechPadMs must be from 0 to 10000, got {SpeechPadMs}.");
        }

        if (SampleRate is not (16000 or 8000))
        {
            errors.Add($"SampleRate must be 16000 or 8000 (the rates Silero VAD runs at), got {SampleRate}.");
        }

        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> whose message lists every problem (one sentence each).</summary>
    public void Validate()
    {
        var errors = GetValidationErrors();
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid VAD options: " + string.Join(" ", errors));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"threshold {Threshold}, negative {EffectiveNegativeThreshold}, min speech {MinSpeechMs} ms, min silence {MinSilenceMs} ms, pad {SpeechPadMs} ms, {SampleRate} Hz");

    private static string Format(float value) => value.ToString(CultureInfo.InvariantCulture);
}
