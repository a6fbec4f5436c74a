namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>
/// Semantic end of turn: a short pause is enough when the decoder is already sure of its reply. Every
/// <see cref="ProbeSilenceMs"/> of a pause the session asks the decoder (a prefill and a few greedy steps on the
/// context, rolled back) how sure it is of its first <see cref="Words"/> reply words; at or above the bar the turn ends
/// there instead of after the VAD's full hangover (<see cref="Vad.VadOptions.MinSilenceMs"/>). The bar starts at
/// <see cref="MinConfidence"/> and falls linearly to <see cref="FinalMinConfidence"/> at the last check before the
/// hangover: the longer the pause, the less certainty it takes (as a human listener does). A caller who was not done
/// and goes on speaking barges in, and within <see cref="ResumeWithinMs"/> their words continue the same turn.
/// Silence endpointing alone is what a VAD → ASR → NLU → TTS cascade does; the model knowing when it has
/// heard enough is what lets a speech-to-speech agent answer sooner (docs/engine.md, "End of turn").
/// </summary>
public sealed class SemanticEndOfTurnOptions
{
    /// <summary>Whether the check runs (when false, turns end after the VAD hangover only).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Silence after the last voiced window before the decoder is first asked, and between later checks of the same pause.</summary>
    public int ProbeSilenceMs { get; set; } = 160;

    /// <summary>Joint greedy probability of the first reply words needed to end the turn at the first check.</summary>
    public double MinConfidence { get; set; } = 0.6;

    /// <summary>The bar at the last check before the VAD hangover (linear in between; equal to <see cref="MinConfidence"/> for a flat bar).</summary>
    public double FinalMinConfidence { get; set; } = 0.3;

    /// <summary>Reply words the confidence is taken over (the first word alone is shared by several replies).</summary>
    public int Words { get; set; } = 2;

    /// <summary>
    /// Whether a turn that began by interrupting the agent may end early too. Off by default: an interruption is often
    /// in parts ("no, stop — wait a moment please"), its first part ("no, stop") is a whole answer the decoder is sure
    /// of, and replying at that pause talks over the caller a second time. Measured in the gateway's barge-in tests:
    /// with it on, a new reply started 0.5–0.7 s after the interruption while the caller was still speaking.
    /// </summary>
    public bool AfterBargeIn { get; set; }

    /// <summary>Turns shorter than this (speech start to pause) always wait for the hangover.</summary>
    public int MinSpeechMs { get; set; } = 300;

    /// <summary>
    /// A caller who starts speaking again within this long (ms, from their last voiced sample) after a turn this check
    /// ended, and so interrupts its reply, was not done: the reply and the turn leave the context and the turn goes on
    /// with the new words, heard again from its start ("i want to speak | to an agent" is one question, not two).
    /// Without it the second part is a turn of its own, answered from "to an agent" alone when the pack keeps no
    /// history. 0 turns it off.
    /// </summary>
    public int ResumeWithinMs { get; set; } = 1000;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (ProbeSilenceMs is < 32 or > 2000)
        {
            throw new ArgumentException($"SemanticEndOfTurn.ProbeSilenceMs must be from 32 to 2000, got {ProbeSilenceMs}.");
        }

        if (MinConfidence is <= 0 or > 1 || double.IsNaN(MinConfidence))
        {
            throw new ArgumentException($"SemanticEndOfTurn.MinConfidence must be in (0, 1], got {MinConfidence}.");
        }

        if (FinalMinConfidence is <= 0 or > 1 || double.IsNaN(FinalMinConfidence) || FinalMinConfidence > MinConfidence)
        {
            throw new ArgumentException($"SemanticEndOfTurn.FinalMinConfidence must be in (0, MinConfidence], got {FinalMinConfidence}.");
        }

        if (Words is < 1 or > 8)
        {
            throw new ArgumentException($"SemanticEndOfTurn.Words must be from 1 to 8, got {Words}.");
        }

        if (MinSpeechMs is < 0 or > 10000)
        {
            throw new ArgumentException($"SemanticEndOfTurn.MinSpeechMs must be from 0 to 10000, got {MinSpeechMs}.");
        }

        if (ResumeWithinMs is < 0 or > 3000)
        {
            throw new ArgumentException($"SemanticEndOfTurn.ResumeWithinMs must be from 0 to 3000, got {ResumeWithinMs}.");
        }
    }

    /// <summary>
    /// The bar for check <paramref name="index"/> (0-based) of a pause when <paramref name="checks"/> fit before the hangover.
    /// </summary>
    public double BarForCheck(int index, int checks) =>
        checks <= 1 ? MinConfidence : MinConfidence + ((FinalMinConfidence - MinConfidence) * Math.Min(index, checks - 1) / (checks - 1));

    /// <summary>A copy.</summary>
    public SemanticEndOfTurnOptions Clone() => (SemanticEndOfTurnOptions)MemberwiseClone();
}
