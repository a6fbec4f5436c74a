using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Sampling;

/// <summary>
/// Sampling settings of one token stream (text or audio), as the manifest's <c>sampling.text</c> /
/// <c>sampling.audio</c> give them (Kimi-like).
/// </summary>
/// <param name="Temperature">0 = greedy (argmax); otherwise softmax temperature.</param>
/// <param name="TopK">Sample among the K highest logits; 0 = all.</param>
/// <param name="RepetitionPenalty">Applied to ids seen in the last <paramref name="RepetitionWindow"/> accepted ids: a positive logit is divided by it, a negative one multiplied (1 = off).</param>
/// <param name="RepetitionWindow">How many recent accepted ids the penalty looks at (0 = off).</param>
public readonly record struct SamplerSettings(double Temperature, int TopK, double RepetitionPenalty, int RepetitionWindow)
{
    /// <summary>Argmax, no penalty.</summary>
    public static SamplerSettings Greedy => new(0, 0, 1, 0);

    /// <summary>Whether sampling reduces to argmax over the (penalised) logits.</summary>
    public bool IsGreedy => Temperature == 0 || TopK == 1;

    /// <summary>The settings of a validated manifest sampler section.</summary>
    public static SamplerSettings From(SamplerSection section)
    {
        ArgumentNullException.ThrowIfNull(section);
        return new(section.Temperature ?? 0, section.TopK ?? 0, section.RepetitionPenalty ?? 1, section.RepetitionWindow ?? 0);
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> for values out of range.</summary>
    public void Validate()
    {
        if (!(Temperature >= 0) || !double.IsFinite(Temperature))
        {
            throw new ArgumentOutOfRangeException(nameof(Temperature), Temperature, "The temperature must be a finite number >= 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(TopK);
        if (!(RepetitionPenalty > 0) || !double.IsFinite(RepetitionPenalty))
        {
            throw new ArgumentOutOfRangeException(nameof(RepetitionPenalty), RepetitionPenalty, "The repetition penalty must be a finite number > 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(RepetitionWindow);
    }
}
