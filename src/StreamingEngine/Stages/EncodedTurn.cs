namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// What the tokenizer produced for one user turn: one semantic token and one continuous feature row per 80 ms step,
/// the CTC character ids and the greedy transcript. Input of <see cref="ReplyGenerator"/>.
/// </summary>
/// <param name="Tokens">Semantic tokens (codes 0..codebook_size−1, no offset).</param>
/// <param name="Features">Row-major <c>[Tokens.Length, FeatureDim]</c>.</param>
/// <param name="FeatureDim">Width of a feature row.</param>
/// <param name="CtcIds">All CTC ids of the turn (empty when the tokenizer has no CTC head).</param>
/// <param name="Transcript">Greedy CTC transcript (empty without a CTC head).</param>
public sealed record EncodedTurn(long[] Tokens, float[] Features, int FeatureDim, long[] CtcIds, string Transcript)
{
    /// <summary>Number of tokens (12.5 Hz steps).</summary>
    public int Count => Tokens.Length;

    /// <summary>The feature row of token <paramref name="index"/>.</summary>
    public ReadOnlySpan<float> FeatureRow(int index) => Features.AsSpan(index * FeatureDim, FeatureDim);
}
