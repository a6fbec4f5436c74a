namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// The token ids and stream rules a validated manifest resolves to (docs/model-pack.md §4–§6): special ids, the
/// audio code offset, the delay, the stop tokens and the generation cap.
/// </summary>
public sealed record PackTokens
{
    /// <summary>Size of the one id space both heads produce logits over.</summary>
    public required long VocabSize { get; init; }

    /// <summary>Ids below this are text ids (specials + words).</summary>
    public required long TextVocabSize { get; init; }

    /// <summary>Audio code <c>c</c> is id <c>AudioTokenOffset + c</c>.</summary>
    public required long AudioTokenOffset { get; init; }

    /// <summary>Number of audio codes.</summary>
    public required long AudioVocabSize { get; init; }

    public required long MsgEnd { get; init; }
    public required long UserMsgStart { get; init; }
    public required long AssistantMsgStart { get; init; }
    public required long MediaBegin { get; init; }
    public required long MediaEnd { get; init; }

    /// <summary>The filler id (<c>stream.text_blank</c>).</summary>
    public required long TextBlank { get; init; }

    /// <summary>End of the reply text (<c>stream.text_eos</c>).</summary>
    public required long TextEos { get; init; }

    /// <summary>Output-mode token for text only (<c>stream.output_mode_tokens.text</c>).</summary>
    public required long TextOnlyMode { get; init; }

    /// <summary>Output-mode token for text and audio (<c>stream.output_mode_tokens.text_and_audio</c>).</summary>
    public required long TextAndAudioMode { get; init; }

    /// <summary>Audio ids that end a text-and-audio reply (<c>stream.stop_audio_tokens</c>).</summary>
    public required IReadOnlyList<long> StopAudioTokens { get; init; }

    /// <summary>Every special id of the manifest.</summary>
    public required IReadOnlySet<long> SpecialIds { get; init; }

    /// <summary>Text→audio delay D in positions.</summary>
    public required int AudioDelay { get; init; }

    /// <summary>Cap on generated positions per reply (<c>stream.max_new_tokens</c>, else 200).</summary>
    public required int MaxNewTokens { get; init; }

    /// <summary>Whether <paramref name="audioId"/> is a stop token.</summary>
    public bool IsStopAudio(long audioId)
    {
        var stops = StopAudioTokens;
        for (var i = 0; i < stops.Count; i++)
        {
            if (stops[i] == audioId)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="id"/> is an audio code id.</summary>
    public bool IsAudioCode(long id) => id >= AudioTokenOffset && id < AudioTokenOffset + AudioVocabSize;

    /// <summary>Resolves the ids of a manifest that <see cref="ManifestValidator"/> accepted.</summary>
    internal static PackTokens From(ModelPackManifest m)
    {
        var sp = m.SpecialTokens!;
        var stream = m.Stream!;
        var vocab = m.Vocab!;
        return new PackTokens
        {
            VocabSize = vocab.Size!.Value,
            TextVocabSize = vocab.TextVocabSize!.Value,
            AudioTokenOffset = vocab.AudioTokenOffset!.Value,
            AudioVocabSize = vocab.AudioVocabSize!.Value,
            MsgEnd = sp["msg_end"],
            UserMsgStart = sp["user_msg_start"],
            AssistantMsgStart = sp["assistant_msg_start"],
            MediaBegin = sp["media_begin"],
            MediaEnd = sp["media_end"],
            TextBlank = sp[stream.TextBlank!],
            TextEos = sp[stream.TextEos!],
            TextOnlyMode = sp[stream.OutputModeTokens!.Text!],
            TextAndAudioMode = sp[stream.OutputModeTokens.TextAndAudio!],
            StopAudioTokens = stream.StopAudioTokens!.Select(n => sp[n]).ToArray(),
            SpecialIds = sp.Values.ToHashSet(),
            AudioDelay = stream.AudioDelay!.Value,
            MaxNewTokens = stream.MaxNewTokens ?? 200,
        };
    }
}
