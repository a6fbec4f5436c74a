using System.Runtime.CompilerServices;
using VoiceAgent.StreamingEngine.ModelPacks;
using VoiceAgent.StreamingEngine.Sampling;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// Turns a user turn into a reply on a conversation's <see cref="DecoderState"/>: builds the prompt
/// (docs/model-pack.md §5, preceded by the previous reply's closing position per §7), prefills it and runs the
/// generation loop of §6 (audio forced to blank for the first D steps, text forced to blank after <c>text_eos</c>,
/// stop tokens, caps, text-only mode), streaming text ids, audio codes and the end as <see cref="ReplyEvent"/>s.
/// Shared and stateless: all per-conversation state is in the <see cref="DecoderState"/>.
/// </summary>
public sealed class ReplyGenerator
{
    public ReplyGenerator(DualHeadDecoder decoder)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        Decoder = decoder;
        Tokens = decoder.Tokens;
        Vocabulary = decoder.Pack.TextVocabulary;
        var sampling = decoder.Pack.Manifest.Sampling!;
        var greedy = sampling.DemoGreedy ?? false;
        DefaultTextSampling = greedy ? SamplerSettings.Greedy : SamplerSettings.From(sampling.Text!);
        DefaultAudioSampling = greedy ? SamplerSettings.Greedy : SamplerSettings.From(sampling.Audio!);
        DefaultMaxAudioTokens = decoder.Pack.Manifest.Stream!.MaxReplyAudioTokens ?? int.MaxValue;
        TextLogitBias = BuildBias(sampling.TextLogitBias, decoder.VocabSize);
    }

    /// <summary>
    /// <c>sampling.text_logit_bias</c> as a dense row (empty when the pack has none). The demo pack uses it for a
    /// prior correction: its fallback reply had twice the training clips of any other, so its first word carries
    /// log 2 of extra prior that held-out callers, who ask every intent equally often, do not share.
    /// </summary>
    public ReadOnlyMemory<float> TextLogitBias { get; }

    /// <summary>The decoder.</summary>
    public DualHeadDecoder Decoder { get; }

    /// <summary>Resolved ids and stream rules.</summary>
    public PackTokens Tokens { get; }

    /// <summary>The word table (null when the pack has none).</summary>
    public TextVocabulary? Vocabulary { get; }

    /// <summary>Text sampling when <see cref="ReplyOptions.TextSampling"/> is null.</summary>
    public SamplerSettings DefaultTextSampling { get; }

    /// <summary>Audio sampling when <see cref="ReplyOptions.AudioSampling"/> is null.</summary>
    public SamplerSettings DefaultAudioSampling { get; }

    /// <summary>Audio-token cap when <see cref="ReplyOptions.MaxAudioTokens"/> is null.</summary>
    public int DefaultMaxAudioTokens { get; }

    /// <summary>
    /// The prompt positions of a user turn (§5): [closing position if <paramref name="includeClosing"/>],
    /// (blank, user_msg_start), (blank, media_begin), (blank, offset + code) with features for every token,
    /// (blank, media_end), (blank, output mode), (blank, msg_end), (blank, assistant_msg_start).
    /// </summary>
    public DecoderPrompt BuildPrompt(EncodedTurn turn, OutputMode mode, bool includeClosing)
    {
        ArgumentNullException.ThrowIfNull(turn);
        var f = Decoder.FeatureDim;
        if (turn.FeatureDim != f)
        {
            throw new ArgumentException($"The turn's features are {turn.FeatureDim} wide but the decoder takes {f}.", nameof(turn));
        }

        var t = Tokens;
        var n = turn.Count;
        var lead = includeClosing ? 1 : 0;
        var length = lead + n + 6;
        var text = new long[length];
        var audio = new long[length];
        var features = new float[length * f];
        var mask = new float[length];
        Array.Fill(text, t.TextBlank);
        var p = 0;
        if (includeClosing)
        {
            audio[p++] = t.MsgEnd;
        }

        audio[p++] = t.UserMsgStart;
        audio[p++] = t.MediaBegin;
        for (var i = 0; i < n; i++)
        {
            var code = turn.Tokens[i];
            if (code < 0 || code >= t.AudioVocabSize)
            {
                throw new ArgumentException($"Token {i} of the turn is {code}, outside the codebook (0..{t.AudioVocabSize - 1}).", nameof(turn));
            }

            audio[p] = t.AudioTokenOffset + code;
            mask[p] = 1f;
            turn.FeatureRow(i).CopyTo(features.AsSpan(p * f, f));
            p++;
        }

        audio[p++] = t.MediaEnd;
        audio[p++] = mode == OutputMode.TextOnly ? t.TextOnlyMode : t.TextAndAudioMode;
        audio[p++] = t.MsgEnd;
        audio[p] = t.AssistantMsgStart;
        return new DecoderPrompt(text, audio, features, mask, f, lead);
    }

    /// <summary>Runs a whole reply synchronously, passing each event to <paramref name="onEvent"/> as it is produced.</summary>
    public ReplyResult Generate(DecoderState state, EncodedTurn turn, ReplyOptions? options = null, Action<ReplyEvent>? onEvent = null, CancellationToken cancellationToken = default)
    {
        var run = new ReplyRun(this, state, options ?? ReplyOptions.Default);
        run.Start(turn, cancellationToken);
        var events = new List<ReplyEvent>(4);
        bool more;
        do
        {
            events.Clear();
            more = run.MoveNext(events, cancellationToken);
            if (onEvent is not null)
            {
                foreach (var e in events)
                {
                    onEvent(e);
                }
            }
        }
        while (more);

        return run.Result;
    }

    /// <summary>
    /// Streams a reply: the prefill and every step run on the thread pool (the enumeration starts with a yield), and
    /// each step's events are yielded as soon as the step is done. The finished <see cref="ReplyResult"/> goes to
    /// <paramref name="onCompleted"/>.
    /// </summary>
    public async IAsyncEnumerable<ReplyEvent> GenerateAsync(
        DecoderState state,
        EncodedTurn turn,
        ReplyOptions? options = null,
        Action<ReplyResult>? onCompleted = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await Task.Yield();
        var run = new ReplyRun(this, state, options ?? ReplyOptions.Default);
        run.Start(turn, cancellationToken);
        var events = new List<ReplyEvent>(4);
        bool more;
        do
        {
            events.Clear();
            more = run.MoveNext(events, cancellationToken);
            foreach (var e in events)
            {
                yield return e;
            }
        }
        while (more);

        onCompleted?.Invoke(run.Result);
    }

    /// <summary>
    /// How sure the decoder is, right now, of the reply it would give to <paramref name="turn"/>: the product of the
    /// greedy probabilities of its first <paramref name="words"/> text tokens (a reply that ends sooner counts what it
    /// has). This is the semantic half of end-of-turn detection: a caller who has said enough for the agent to know its
    /// answer need not be made to wait out the silence hangover. The state is rolled back before returning, so the
    /// conversation is unchanged; it costs one prefill and <paramref name="words"/> steps.
    /// </summary>
    public CompletionEstimate EstimateCompletion(DecoderState state, EncodedTurn turn, OutputMode mode, int words, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(words);
        var t = Tokens;
        var checkpoint = state.CreateCheckpoint();
        var biased = TextLogitBias.IsEmpty ? null : new float[Decoder.VocabSize];
        var confidence = 1.0;
        var found = 0;
        string? first = null;
        try
        {
            state.PrefillTurn(BuildPrompt(turn, mode, state.ClosingPending), cancellationToken);
            var ctd = mode == OutputMode.TextAndAudio;
            for (var step = 0; step < words + t.AudioDelay + 2 && found < words; step++)
            {
                var logits = state.TextLogits;
                if (biased is not null)
                {
                    TokenSampler.AddBias(logits, TextLogitBias.Span, biased);
                    logits = biased;
                }

                var (textId, p) = ArgMaxProbability(logits);
                if (textId == t.TextEos)
                {
                    break;
                }

                if (textId != t.TextBlank)
                {
                    confidence *= p;
                    first ??= Vocabulary?.GetWord(textId);
                    found++;
                }

                var audioId = ctd && step >= t.AudioDelay ? ArgMaxProbability(state.AudioLogits).Id : t.TextBlank;
                if (found < words)
                {
                    state.Step(textId, audioId, cancellationToken);
                }
            }
        }
        finally
        {
            state.Rollback(checkpoint);
        }

        return new CompletionEstimate(found == 0 ? 0 : confidence, found, first);
    }

    private static float[] BuildBias(IReadOnlyDictionary<string, double>? bias, int vocabSize)
    {
        if (bias is null || bias.Count == 0)
        {
            return [];
        }

        var row = new float[vocabSize];
        foreach (var (key, value) in bias)
        {
            row[int.Parse(key, System.Globalization.CultureInfo.InvariantCulture)] = (float)value;
        }

        return row;
    }

    private static (long Id, double Probability) ArgMaxProbability(ReadOnlySpan<float> logits)
    {
        var best = TokenSampler.ArgMax(logits);
        double sum = 0;
        var max = logits[best];
        foreach (var l in logits)
        {
            sum += Math.Exp(l - max);
        }

        return (best, 1.0 / sum);
    }

    /// <summary>Starts a reply that the caller drives step by step (<see cref="ReplyRun.MoveNext"/>): prefills the prompt now.</summary>
    public ReplyRun Begin(DecoderState state, EncodedTurn turn, ReplyOptions? options = null, CancellationToken cancellationToken = default)
    {
        var run = new ReplyRun(this, state, options ?? ReplyOptions.Default);
        run.Start(turn, cancellationToken);
        return run;
    }
}

/// <summary>One reply's loop, driven one decoder step at a time (docs/model-pack.md §6, mirrored from training/infer.py <c>generate</c>).</summary>
public sealed class ReplyRun
{
    private readonly ReplyGenerator _g;
    private readonly DecoderState _state;
    private readonly OutputMode _mode;
    private readonly TokenSampler _text;
    private readonly TokenSampler _audio;
    private readonly int _maxNew;
    private readonly int _maxAudio;
    private ReplyResult? _result;
    private bool _textDone;
    private bool _done;
    private int _step;

    internal ReplyRun(ReplyGenerator generator, DecoderState state, ReplyOptions options)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Decoder != generator.Decoder)
        {
            throw new ArgumentException("The state belongs to another decoder.", nameof(state));
        }

        _g = generator;
        _state = state;
        _mode = options.Mode;
        var vocab = generator.Decoder.VocabSize;
        _text = new TokenSampler(options.TextSampling ?? generator.DefaultTextSampling, vocab, options.Seed, generator.TextLogitBias);
        _audio = new TokenSampler(options.AudioSampling ?? generator.DefaultAudioSampling, vocab, options.Seed + 1);
        _maxNew = options.MaxNewTokens ?? generator.Tokens.MaxNewTokens;
        _maxAudio = options.MaxAudioTokens ?? generator.DefaultMaxAudioTokens;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(_maxNew);
    }

    /// <summary>The reply so far (complete once <see cref="MoveNext"/> returned false).</summary>
    public ReplyResult Result => _result ?? throw new InvalidOperationException("The reply has not started.");

    internal void Start(EncodedTurn turn, CancellationToken cancellationToken)
    {
        var prompt = _g.BuildPrompt(turn, _mode, _state.ClosingPending);
        _result = new ReplyResult(prompt, _state.CreateCheckpoint());
        _state.PrefillTurn(prompt, cancellationToken);
        _result.CheckpointAfterPrompt = _state.CreateCheckpoint();
    }

    /// <summary>Runs one decoder step and appends its events; false once the reply has ended.</summary>
    public bool MoveNext(List<ReplyEvent> events, CancellationToken cancellationToken)
    {
        if (_done)
        {
            return false;
        }

        cancellationToken.ThrowIfCancellationRequested();
        var t = _g.Tokens;
        var r = Result;
        if (_step >= _maxNew)
        {
            Finish(events, ReplyEndReason.MaxNewTokens, closing: false);
            return false;
        }

        var ctd = _mode == OutputMode.TextAndAudio;
        var textSampled = !_textDone;
        var audioSampled = ctd && _step >= t.AudioDelay;
        var textId = textSampled ? _text.Sample(_state.TextLogits) : t.TextBlank;
        var audioId = audioSampled ? _audio.Sample(_state.AudioLogits) : t.TextBlank;
        if (textId == t.TextEos)
        {
            _textDone = true;
            events.Add(new ReplyEvent(ReplyEventKind.TextEnd, _step, textId, -1, null, ReplyEndReason.None));
        }
        else if (!_textDone && textId != t.TextBlank)
        {
            r.TextIds.Add(textId);
            events.Add(new ReplyEvent(ReplyEventKind.TextToken, _step, textId, -1, _g.Vocabulary?.GetWord(textId), ReplyEndReason.None));
        }

        if (ctd && t.IsStopAudio(audioId))
        {
            // The closing position is produced, not fed: it opens the next turn's prefill.
            Finish(events, ReplyEndReason.StopToken, closing: true);
            return false;
        }

        if (!ctd && textId == t.TextEos)
        {
            Feed(textId, audioId, textSampled, audioSampled, cancellationToken);
            Finish(events, ReplyEndReason.TextEos, closing: true);
            return false;
        }

        if (ctd && t.IsAudioCode(audioId))
        {
            var code = (int)(audioId - t.AudioTokenOffset);
            r.AudioCodes.Add(code);
            events.Add(new ReplyEvent(ReplyEventKind.AudioCode, _step, audioId, code, null, ReplyEndReason.None));
        }

        Feed(textId, audioId, textSampled, audioSampled, cancellationToken);
        if (r.AudioCodes.Count >= _maxAudio)
        {
            Finish(events, ReplyEndReason.MaxAudioTokens, closing: false);
            return false;
        }

        return true;
    }

    private void Feed(long textId, long audioId, bool textSampled, bool audioSampled, CancellationToken cancellationToken)
    {
        _state.Step(textId, audioId, cancellationToken);
        var r = Result;
        r.GeneratedTextIds.Add(textId);
        r.GeneratedAudioIds.Add(audioId);
        if (textSampled)
        {
            _text.Accept(textId);
        }

        if (audioSampled)
        {
            _audio.Accept(audioId);
        }

        _step++;
        r.Steps = _step;
    }

    private void Finish(List<ReplyEvent> events, ReplyEndReason reason, bool closing)
    {
        var t = _g.Tokens;
        var r = Result;
        if (closing)
        {
            r.GeneratedTextIds.Add(t.TextBlank);
            r.GeneratedAudioIds.Add(t.MsgEnd);
            _step++;
            r.Steps = _step;
        }

        // Also after a cap: the reply is closed the same way, by the closing position opening the next prefill.
        _state.ClosingPending = true;
        r.EndReason = reason;
        r.Text = _g.Vocabulary?.Detokenize(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.TextIds)) ?? string.Empty;
        events.Add(new ReplyEvent(ReplyEventKind.End, _step, -1, -1, null, reason));
        _done = true;
    }
}
