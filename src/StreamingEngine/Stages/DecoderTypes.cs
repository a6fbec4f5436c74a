namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>Last-position logits of a decoder call (views into the state's buffers, valid until its next call).</summary>
public readonly ref struct DecoderLogits
{
    internal DecoderLogits(ReadOnlySpan<float> text, ReadOnlySpan<float> audio)
    {
        Text = text;
        Audio = audio;
    }

    /// <summary>Text-head logits over the whole id space.</summary>
    public ReadOnlySpan<float> Text { get; }

    /// <summary>Audio-head logits over the whole id space.</summary>
    public ReadOnlySpan<float> Audio { get; }
}

/// <summary>A point a <see cref="DecoderState"/> can roll back to (truncating the end of its cache).</summary>
/// <param name="Length">Cache positions at the checkpoint.</param>
/// <param name="ClosingPending">Whether a closing position was pending.</param>
/// <param name="TurnCount">Turns recorded at the checkpoint.</param>
/// <param name="DroppedPositions">Positions the state had trimmed off its front by then, so the checkpoint stays meaningful across later trims (<see cref="DecoderState.PositionOf"/>).</param>
/// <param name="DroppedTurns">Turns the state had trimmed off its front by then.</param>
public readonly record struct DecoderCheckpoint(int Length, bool ClosingPending, int TurnCount, long DroppedPositions = 0, int DroppedTurns = 0);

/// <summary>
/// Positions to prefill: parallel text and audio ids, feature rows (row-major <c>[Length, FeatureDim]</c>, zeros where
/// the mask is 0) and the feature mask. <paramref name="TurnStart"/> is the index of the position that starts a new
/// user turn (its <c>user_msg_start</c>), or −1.
/// </summary>
public sealed record DecoderPrompt(long[] TextIds, long[] AudioIds, float[] Features, float[] FeatureMask, int FeatureDim, int TurnStart = -1)
{
    /// <summary>Number of positions.</summary>
    public int Length => TextIds.Length;
}
