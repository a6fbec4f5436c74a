using VoiceAgent.StreamingEngine.Sampling;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>What the reply should contain (the output-mode token of the prompt, docs/model-pack.md §4–§6).</summary>
public enum OutputMode
{
    /// <summary><c>speech_ctd</c>: reply text and reply semantic tokens (audio delayed by D positions).</summary>
    TextAndAudio,

    /// <summary><c>speech_ct</c>: reply text only (the audio stream is forced to <c>text_blank</c>).</summary>
    TextOnly,
}

/// <summary>Why a reply ended.</summary>
public enum ReplyEndReason
{
    /// <summary>Not ended.</summary>
    None,

    /// <summary>Text and audio: the audio head produced a stop token (<c>stream.stop_audio_tokens</c>).</summary>
    StopToken,

    /// <summary>Text only: the text head produced <c>text_eos</c>.</summary>
    TextEos,

    /// <summary>The cap on generated positions (<c>stream.max_new_tokens</c> or <see cref="ReplyOptions.MaxNewTokens"/>) was reached.</summary>
    MaxNewTokens,

    /// <summary>The cap on reply audio tokens (<c>stream.max_reply_audio_tokens</c>) was reached.</summary>
    MaxAudioTokens,
}

/// <summary>Kind of a <see cref="ReplyEvent"/>.</summary>
public enum ReplyEventKind
{
    /// <summary>A reply text id (<see cref="ReplyEvent.Id"/>; <see cref="ReplyEvent.Word"/> when it is a word).</summary>
    TextToken,

    /// <summary>The text head produced <c>text_eos</c>: the reply text is complete (audio may continue).</summary>
    TextEnd,

    /// <summary>A reply semantic token for the detokenizer (<see cref="ReplyEvent.Code"/> = id − audio offset).</summary>
    AudioCode,

    /// <summary>The reply ended (<see cref="ReplyEvent.EndReason"/>); the closing position is pending in the state.</summary>
    End,
}

/// <summary>One streamed piece of a reply.</summary>
/// <param name="Kind">What this is.</param>
/// <param name="Step">Generation step (0-based) that produced it.</param>
/// <param name="Id">The token id (text id for text events, audio id for audio events; −1 for <see cref="ReplyEventKind.End"/>).</param>
/// <param name="Code">Audio code (−1 unless <see cref="ReplyEventKind.AudioCode"/>).</param>
/// <param name="Word">The word of a text id (null for non-word ids).</param>
/// <param name="EndReason">Why the reply ended (<see cref="ReplyEventKind.End"/> only).</param>
public readonly record struct ReplyEvent(ReplyEventKind Kind, int Step, long Id, int Code, string? Word, ReplyEndReason EndReason);

/// <summary>Per-reply settings; null fields fall back to the manifest.</summary>
public sealed record ReplyOptions
{
    /// <summary>Greedy text and audio in text-and-audio mode.</summary>
    public static ReplyOptions Default { get; } = new();

    /// <summary>Output mode (default text and audio).</summary>
    public OutputMode Mode { get; init; } = OutputMode.TextAndAudio;

    /// <summary>Cap on generated positions (default <c>stream.max_new_tokens</c>).</summary>
    public int? MaxNewTokens { get; init; }

    /// <summary>Cap on reply audio tokens (default <c>stream.max_reply_audio_tokens</c>, else none).</summary>
    public int? MaxAudioTokens { get; init; }

    /// <summary>Text-stream sampling (default: greedy when <c>sampling.demo_greedy</c>, else <c>sampling.text</c>).</summary>
    public SamplerSettings? TextSampling { get; init; }

    /// <summary>Audio-stream sampling (default: greedy when <c>sampling.demo_greedy</c>, else <c>sampling.audio</c>).</summary>
    public SamplerSettings? AudioSampling { get; init; }

    /// <summary>RNG seed for sampling (text uses it, audio uses it + 1); null = random.</summary>
    public int? Seed { get; init; }
}

/// <summary>A finished reply.</summary>
public sealed class ReplyResult
{
    internal ReplyResult(DecoderPrompt prompt, DecoderCheckpoint before)
    {
        Prompt = prompt;
        CheckpointBeforeTurn = before;
    }

    /// <summary>The prompt that was prefilled (starting with the previous turn's closing position when one was pending).</summary>
    public DecoderPrompt Prompt { get; }

    /// <summary>The state before this turn's prefill: roll back to it to forget the whole turn.</summary>
    public DecoderCheckpoint CheckpointBeforeTurn { get; }

    /// <summary>The state right after the prefill: roll back to it to drop the reply but keep the user turn.</summary>
    public DecoderCheckpoint CheckpointAfterPrompt { get; internal set; }

    /// <summary>Reply text ids: every non-blank text id before <c>text_eos</c>.</summary>
    public List<long> TextIds { get; } = [];

    /// <summary>Reply semantic codes (audio ids − offset), in order.</summary>
    public List<int> AudioCodes { get; } = [];

    /// <summary>Text ids of every generated position, fed ones plus the closing position when the reply ended on a stop rule.</summary>
    public List<long> GeneratedTextIds { get; } = [];

    /// <summary>Audio ids of the same positions as <see cref="GeneratedTextIds"/>.</summary>
    public List<long> GeneratedAudioIds { get; } = [];

    /// <summary>The reply text (words of <see cref="TextIds"/> joined).</summary>
    public string Text { get; internal set; } = string.Empty;

    /// <summary>Why the reply ended.</summary>
    public ReplyEndReason EndReason { get; internal set; }

    /// <summary>Generation steps run.</summary>
    public int Steps { get; internal set; }
}

/// <summary>
/// What <see cref="ReplyGenerator.EstimateCompletion"/> found: the joint greedy probability of the first
/// <see cref="Words"/> reply tokens (0 when the decoder would not start a reply) and the first word.
/// </summary>
public readonly record struct CompletionEstimate(double Confidence, int Words, string? FirstWord);
