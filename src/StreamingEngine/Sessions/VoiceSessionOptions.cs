using VoiceAgent.StreamingEngine.Sampling;
using VoiceAgent.StreamingEngine.Stages;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>Per-session settings (bindable from configuration; every field has a working default).</summary>
public sealed class VoiceSessionOptions
{
    /// <summary>Rate of the audio the caller pushes (8000, 16000, 22050, 24000, 44100 or 48000).</summary>
    public int InputSampleRate { get; set; } = 16000;

    /// <summary>Rate of the reply frames the session emits (same set of rates).</summary>
    public int OutputSampleRate { get; set; } = 16000;

    /// <summary>Duration of one reply frame in milliseconds (10–100).</summary>
    public int OutputFrameMs { get; set; } = 20;

    /// <summary>Text and audio (default) or text only (no audio stages run).</summary>
    public OutputMode Mode { get; set; } = OutputMode.TextAndAudio;

    /// <summary>VAD thresholds and timings (the hangover <see cref="VadOptions.MinSilenceMs"/> decides when a turn is committed).</summary>
    public VadOptions Vad { get; set; } = new() { MinSilenceMs = 400, SpeechPadMs = 150 };

    /// <summary>
    /// Commit a turn when the VAD hears the caller stop (default). When false, the turn runs from the first speech
    /// until <see cref="VoiceSession.CommitTurn"/> (push-to-talk, or one file = one turn in offline tools).
    /// </summary>
    public bool AutoCommit { get; set; } = true;

    /// <summary>
    /// Encode only what the VAD calls speech (plus pre-roll) — the live default. When false, the encoder hears every
    /// sample from the end of the previous turn: for offline files that are exactly one turn each (and for parity
    /// with the pack's golden vectors, which encode whole files). Long silences then count against MaxTurnMs.
    /// </summary>
    public bool VadGatesEncoder { get; set; } = true;

    /// <summary>Ending a turn after a short pause when the decoder is sure of its reply (before the VAD hangover).</summary>
    public SemanticEndOfTurnOptions SemanticEndOfTurn { get; set; } = new();

    /// <summary>Whether caller speech during a reply interrupts it.</summary>
    public bool BargeInEnabled { get; set; } = true;

    /// <summary>A user turn longer than this is committed even while the caller still speaks (the encoder cache is finite).</summary>
    public int MaxTurnMs { get; set; } = 15000;

    /// <summary>Pre-roll kept so the encoder hears the onset the VAD confirms only later (≥ VAD start latency + pad).</summary>
    public int PreRollMs { get; set; } = 600;

    /// <summary>Cap on decoder context positions; beyond it the oldest whole turns are dropped and the rest re-prefilled.</summary>
    public int MaxContextPositions { get; set; } = 1024;

    /// <summary>Whole turns kept when the context is trimmed.</summary>
    public int KeepTurnsOnTrim { get; set; } = 2;

    /// <summary>
    /// Earlier turns (caller turn + reply) the decoder sees when it answers; older ones are dropped (and the rest
    /// re-prefilled) as soon as a reply has been generated, so the next answer and the end-of-turn check both see the
    /// same history. Null: the pack's <c>stream.history_turns</c> (what its decoder was trained to use), or no limit
    /// but <see cref="MaxContextPositions"/> when the pack names none.
    /// </summary>
    public int? MaxHistoryTurns { get; set; }

    /// <summary>Cap on generated positions per reply (null: the pack's <c>stream.max_new_tokens</c>).</summary>
    public int? MaxNewTokens { get; set; }

    /// <summary>Text sampling (null: the pack's default, greedy for the demo pack).</summary>
    public SamplerSettings? TextSampling { get; set; }

    /// <summary>Audio sampling (null: the pack's default, greedy for the demo pack).</summary>
    public SamplerSettings? AudioSampling { get; set; }

    /// <summary>Sampling seed (null: random); the detokenizer's noise seed is fixed by the pack.</summary>
    public int? Seed { get; set; }

    /// <summary>Capacity of the reply audio queue in frames (bounded; generation waits when it is full).</summary>
    public int AudioQueueFrames { get; set; } = 256;

    /// <summary>Capacity of the event queue (bounded; when a consumer stops reading, further events are counted as dropped).</summary>
    public int EventQueueCapacity { get; set; } = 512;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(Core.Audio.AudioSampleRates.IsSupported(InputSampleRate), $"InputSampleRate {InputSampleRate} is not supported (8000, 16000, 22050, 24000, 44100 or 48000).");
        Check(Core.Audio.AudioSampleRates.IsSupported(OutputSampleRate), $"OutputSampleRate {OutputSampleRate} is not supported (8000, 16000, 22050, 24000, 44100 or 48000).");
        Check(OutputFrameMs is >= 10 and <= 100, $"OutputFrameMs must be from 10 to 100, got {OutputFrameMs}.");
        Check(MaxTurnMs is >= 1000 and <= 20000, $"MaxTurnMs must be from 1000 to 20000, got {MaxTurnMs}.");
        Check(PreRollMs is >= 0 and <= 2000, $"PreRollMs must be from 0 to 2000, got {PreRollMs}.");
        Check(MaxContextPositions >= 256, $"MaxContextPositions must be at least 256, got {MaxContextPositions}.");
        Check(KeepTurnsOnTrim >= 0, $"KeepTurnsOnTrim must not be negative, got {KeepTurnsOnTrim}.");
        Check(MaxHistoryTurns is null or >= 0, $"MaxHistoryTurns must not be negative, got {MaxHistoryTurns}.");
        Check(AudioQueueFrames >= 4, $"AudioQueueFrames must be at least 4, got {AudioQueueFrames}.");
        Check(EventQueueCapacity >= 16, $"EventQueueCapacity must be at least 16, got {EventQueueCapacity}.");
        Vad.Validate();
        SemanticEndOfTurn.Validate();
        if (Vad.SampleRate != 16000)
        {
            throw new ArgumentException("Vad.SampleRate must be 16000: the session resamples every input to 16 kHz before the VAD.");
        }
    }

    /// <summary>A deep copy (sessions never share mutable option objects).</summary>
    public VoiceSessionOptions Clone()
    {
        var copy = (VoiceSessionOptions)MemberwiseClone();
        copy.Vad = Vad.Clone();
        copy.SemanticEndOfTurn = SemanticEndOfTurn.Clone();
        return copy;
    }
}
