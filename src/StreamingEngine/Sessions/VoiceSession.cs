using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.Stages;
using VoiceAgent.StreamingEngine.Vad;
using VoiceAgent.Vocoder;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>
/// One caller's conversation: push caller audio in, read reply audio frames and events out.
/// <para>
/// Data path: caller audio (any supported rate) → <see cref="Resampler"/> → 16 kHz → VAD. While the VAD says the
/// caller speaks, the mel front end and the streaming tokenizer run on every 80 ms (so at the end of the turn only
/// the last chunk remains). At the end of the turn a reply worker prefills the decoder and runs its steps; audio
/// codes flow through a bounded channel into the audio stages (detokenizer → vocoder → stitcher), whose PCM is
/// resampled to the output rate and cut into frames on the bounded <see cref="Audio"/> channel.
/// </para>
/// <para>
/// Threading: <see cref="PushAudio"/> / <see cref="CommitTurn"/> are called by one transport thread at a time
/// (the session's input side); replies run on the thread pool; readers of <see cref="Audio"/> and
/// <see cref="Events"/> may be on any thread. The only lock is this session's own, held for bookkeeping, never
/// around inference; sessions share the engine's graphs and never wait for each other.
/// </para>
/// </summary>
public sealed class VoiceSession : IAsyncDisposable, IDisposable
{
    private const int ModelRate = 16000;
    private const int SliceSamples = 320; // 20 ms: VAD events stay precise even when a caller pushes a whole file

    /// <summary>The longest first part of a turn that can still be resumed (the ring holds it); longer turns were whole.</summary>
    private const int ResumableSpeechMs = 6000;

    private readonly VoiceAgentEngine _engine;
    private readonly int? _historyTurns;
    private readonly ILogger _logger;
    private readonly object _gate = new();
    private readonly Resampler? _inputResampler;
    private readonly VoiceActivityDetector _vad;
    private readonly UserTurnEncoder _encoder;
    private readonly DecoderState _decoderState;
    private readonly Channel<ReplyAudioFrame> _audio;
    private readonly Channel<SessionEvent> _events;
    private readonly DeliveryCountingReader _audioReader;
    private readonly ReplyAudioPipeline? _speech; // detokenizer → vocoder → stitcher, reset per reply (replies never overlap)
    private readonly ReplyAudioFramePool _framePool;
    private readonly List<VadEvent> _vadEvents = new(4);
    private readonly float[] _ring; // last PreRoll of 16 kHz input, indexed by absolute sample % length
    private readonly int _outputFrameSamples;
    private readonly int _padSamples;
    private float[] _resampled = new float[4096];

    private long _streamSamples;        // 16 kHz samples received so far
    private long _encoderFedUpTo;       // absolute 16 kHz sample index the encoder has consumed
    private long _turnStartSample;
    private long _lastSpeechEndSample;
    private long _vadBase;              // stream sample where the VAD's own sample count restarted (after a flush)
    private bool _userSpeaking;
    private int _turnId;
    private ReplyWork? _reply;           // the reply in flight (or the last one), guarded by _gate
    private long _probedPendingEnd = -1; // the pause the semantic end-of-turn check last looked at (VAD samples)
    private int _probesThisPause;        // checks already run in that pause
    private bool _turnInterrupted;       // the open user turn began by barging in on a reply
    private string _endOfTurn = "silence"; // what ends the turn Commit is about to close (for the latency event)
    private Task _replyChain = Task.CompletedTask;
    private long _droppedEvents;
    private int _activeSpeechWorkers;
    private bool _disposed;

    internal VoiceSession(VoiceAgentEngine engine, VoiceSessionOptions options, long id, ILogger logger)
    {
        _engine = engine;
        _logger = logger;
        Options = options;
        _historyTurns = options.MaxHistoryTurns ?? engine.Pack.Manifest.Stream?.HistoryTurns;
        Id = id;
        if (options.InputSampleRate != ModelRate)
        {
            _inputResampler = new Resampler(options.InputSampleRate, ModelRate);
        }

        _vad = new VoiceActivityDetector(engine.Vad, options.Vad, ModelRate);
        _vad.SpeechStarted += (_, e) => _vadEvents.Add(e);
        _vad.SpeechEnded += (_, e) => _vadEvents.Add(e);
        _encoder = new UserTurnEncoder(engine.Tokenizer);
        _decoderState = engine.Decoder.CreateState();
        if (options.Mode == OutputMode.TextAndAudio && engine.Pack.Detokenizer is { } detokenizer && engine.Pack.Vocoder is { } vocoder)
        {
            _speech = new ReplyAudioPipeline(detokenizer, vocoder, engine.Pack.DetokenizerSettings?.DefaultSeed);
        }
        var ringMs = options.PreRollMs + options.Vad.MinSpeechMs + options.Vad.SpeechPadMs + 200;
        if (options.SemanticEndOfTurn is { Enabled: true, ResumeWithinMs: > 0 } semantic)
        {
            // Room to hear a turn again from its start when the caller goes on speaking (see ResumableTurnStart).
            ringMs += semantic.ResumeWithinMs + ResumableSpeechMs;
        }

        _ring = new float[ModelRate * ringMs / 1000];
        _outputFrameSamples = options.OutputSampleRate * options.OutputFrameMs / 1000;
        _padSamples = ModelRate * options.Vad.SpeechPadMs / 1000;
        _framePool = new ReplyAudioFramePool(_outputFrameSamples, options.AudioQueueFrames + 8);
        _audio = Channel.CreateBounded<ReplyAudioFrame>(new BoundedChannelOptions(options.AudioQueueFrames)
        {
            SingleWriter = true,
            SingleReader = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _audioReader = new DeliveryCountingReader(this, _audio.Reader);
        _events = Channel.CreateBounded<SessionEvent>(new BoundedChannelOptions(options.EventQueueCapacity)
        {
            SingleReader = false,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
        });
    }

    /// <summary>Process-unique session number (for logs and metrics).</summary>
    public long Id { get; }

    /// <summary>The options this session runs with (a private copy).</summary>
    public VoiceSessionOptions Options { get; }

    /// <summary>Reply audio frames at <see cref="VoiceSessionOptions.OutputSampleRate"/>; dispose each frame after sending it.</summary>
    public ChannelReader<ReplyAudioFrame> Audio => _audioReader;

    /// <summary>Session events in order (VAD, transcript, reply text, audio start/end, barge-in, latency, errors).</summary>
    public ChannelReader<SessionEvent> Events => _events.Reader;

    /// <summary>Events that could not be queued because nobody read <see cref="Events"/>.</summary>
    public long DroppedEvents => Interlocked.Read(ref _droppedEvents);

    /// <summary>Whether the VAD currently hears the caller.</summary>
    public bool IsUserSpeaking
    {
        get
        {
            lock (_gate)
            {
                return _userSpeaking;
            }
        }
    }

    /// <summary>Whether a reply is being generated or its audio is still queued.</summary>
    public bool IsResponding
    {
        get
        {
            lock (_gate)
            {
                return _reply is { Finished: false } || _audio.Reader.Count > 0;
            }
        }
    }

    /// <summary>Positions in the decoder's context (read it between turns; a running reply changes it).</summary>
    public int DecoderLength => _decoderState.Length;

    /// <summary>Turns in the decoder's context (read it between turns).</summary>
    internal int DecoderTurnCount => _decoderState.TurnCount;

    /// <summary>Number of committed user turns.</summary>
    public int TurnCount => Volatile.Read(ref _turnId);

    /// <summary>Audio workers (detokenizer → vocoder) running now: at most one, and none once <see cref="WhenRepliesDone"/> completes.</summary>
    internal int ActiveSpeechWorkers => Volatile.Read(ref _activeSpeechWorkers);

    /// <summary>Completes when every reply started so far has finished (used by offline tools).</summary>
    public Task WhenRepliesDone
    {
        get
        {
            lock (_gate)
            {
                return _replyChain;
            }
        }
    }

    /// <summary>Pushes caller audio (float PCM in [-1, 1] at <see cref="VoiceSessionOptions.InputSampleRate"/>).</summary>
    public void PushAudio(ReadOnlySpan<float> samples)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        while (!samples.IsEmpty)
        {
            var take = Math.Min(samples.Length, _inputResampler is null ? SliceSamples : SliceSamples * Options.InputSampleRate / ModelRate);
            var slice = samples[..take];
            samples = samples[take..];
            if (_inputResampler is null)
            {
                ProcessModelRate(slice);
            }
            else
            {
                EnsureResampled(_inputResampler.GetMaxOutputLength(slice.Length));
                var written = _inputResampler.Process(slice, _resampled);
                ProcessModelRate(_resampled.AsSpan(0, written));
            }
        }
    }

    /// <summary>Pushes caller audio as 16-bit PCM.</summary>
    public void PushPcm16(ReadOnlySpan<short> samples)
    {
        Span<float> buffer = stackalloc float[SliceSamples];
        while (!samples.IsEmpty)
        {
            var take = Math.Min(samples.Length, buffer.Length);
            PcmConvert.ToFloat(samples[..take], buffer);
            PushAudio(buffer[..take]);
            samples = samples[take..];
        }
    }

    /// <summary>
    /// Ends the caller's turn now (push-to-talk, end of an input file): the VAD is flushed and whatever speech it
    /// heard since the last reply becomes the turn. Returns false (and emits an error event) when it heard none.
    /// </summary>
    public bool CommitTurn()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_inputResampler is not null)
        {
            EnsureResampled(_inputResampler.GetFlushLength());
            var tail = _inputResampler.Flush(_resampled);
            ProcessModelRate(_resampled.AsSpan(0, tail));

            // Like the VAD below, the flushed resampler starts a new stream: the caller's next turn (or a frame that
            // a transport delivers after the commit) goes on at the same rate instead of failing the session.
            _inputResampler.Reset();
        }

        _vad.Flush();
        HandleVadEvents(isFlush: true);

        // A flushed detector starts a new stream; its sample counter restarts, so remember where.
        _vad.Reset();
        _vadBase = _streamSamples;
        if (_userSpeaking)
        {
            _endOfTurn = "manual";
            Commit(_lastSpeechEndSample > _turnStartSample ? _lastSpeechEndSample : _streamSamples);
            return true;
        }

        Emit(new SessionEvent(SessionEventKind.Error, _turnId) { Code = "no_speech", Text = "No speech was detected in this turn." });
        return false;
    }

    /// <summary>Forgets what the caller has said in the open turn (e.g. an IVR host handling a DTMF menu choice instead).</summary>
    public void AbandonTurn()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _vad.Reset();
        _vadBase = _streamSamples;
        _encoder.Reset();
        _userSpeaking = false;
        _turnStartSample = _streamSamples;
        _encoderFedUpTo = _streamSamples;
    }

    /// <summary>Raises a DTMF digit event (telephony transports call this; IVR hosts act on it).</summary>
    public void PushDtmf(char digit) => Emit(new SessionEvent(SessionEventKind.Dtmf, _turnId) { Text = digit.ToString() });

    /// <summary>
    /// Tells the session how much of the current reply the far end has actually played (a client jitter buffer or a
    /// telephony mark). Without reports, audio counts as delivered when it is read from <see cref="Audio"/>.
    /// </summary>
    public void ReportPlayback(int turnId, double playedMs)
    {
        lock (_gate)
        {
            if (_reply is { } r && r.TurnId == turnId)
            {
                r.ReportedPlayedMs = playedMs;
            }
        }
    }

    /// <summary>Stops the current reply (as a barge-in would) without a new user turn.</summary>
    public void CancelReply() => _ = Interrupt(reportBargeIn: false, speechStartSample: long.MaxValue);

    private void EnsureResampled(int length)
    {
        if (_resampled.Length < length)
        {
            _resampled = new float[Math.Max(length, _resampled.Length * 2)];
        }
    }

    private void ProcessModelRate(ReadOnlySpan<float> pcm)
    {
        if (pcm.IsEmpty)
        {
            return;
        }

        // Keep the pre-roll ring current before the VAD runs, so a start event can reach back into it.
        for (var i = 0; i < pcm.Length; i++)
        {
            _ring[(_streamSamples + i) % _ring.Length] = pcm[i];
        }

        Volatile.Write(ref _streamSamples, _streamSamples + pcm.Length); // the audio reader stamps deliveries with it
        _vad.Process(pcm);
        HandleVadEvents(isFlush: false);
        if (_userSpeaking || !Options.VadGatesEncoder)
        {
            FeedEncoder();
            if ((_streamSamples - _turnStartSample) * 1000 / ModelRate >= Options.MaxTurnMs)
            {
                _endOfTurn = "max_turn";
                Commit(_streamSamples);
            }
            else
            {
                CheckSemanticEndOfTurn();
            }
        }
    }

    /// <summary>
    /// During a pause shorter than the VAD hangover: asks the decoder whether it already knows its reply, and ends the
    /// turn at the pause when it is sure enough (<see cref="SemanticEndOfTurnOptions"/>). Every ProbeSilenceMs of the
    /// pause, with a bar that falls as the pause grows.
    /// </summary>
    private void CheckSemanticEndOfTurn()
    {
        var o = Options.SemanticEndOfTurn;
        var pending = _vad.PendingEndSample;
        if (!o.Enabled || !Options.AutoCommit || pending < 0 || (_turnInterrupted && !o.AfterBargeIn))
        {
            return;
        }

        if (pending != _probedPendingEnd)
        {
            _probedPendingEnd = pending;
            _probesThisPause = 0;
        }

        var checks = Math.Max(1, (Options.Vad.MinSilenceMs - 1) / o.ProbeSilenceMs);
        var silenceMs = _vad.PendingSilenceMs;
        if (_probesThisPause >= checks || silenceMs < o.ProbeSilenceMs * (_probesThisPause + 1))
        {
            return;
        }

        var bar = o.BarForCheck(_probesThisPause, checks);
        _probesThisPause++;
        var speechEnd = _vadBase + pending;
        if ((speechEnd - _turnStartSample) * 1000 / ModelRate < o.MinSpeechMs)
        {
            return;
        }

        if (_encoder.Stream.StepCount == 0)
        {
            return;
        }

        var started = Stopwatch.GetTimestamp();
        CompletionEstimate estimate;
        lock (_gate)
        {
            // The decoder state belongs to the reply chain: look only while nothing is queued on it (a barge-in's
            // context trim may still be running; then this pause waits for the hangover like any other).
            if (!_replyChain.IsCompleted)
            {
                return;
            }

            var turn = _encoder.Stream.ToTurn(); // what the encoder has so far; the turn's tail after the pause is silence
            try
            {
                estimate = _engine.Generator.EstimateCompletion(_decoderState, turn, Options.Mode, o.Words);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _logger.LogWarning(ex, "Session {Session}: end-of-turn check failed; waiting for the silence hangover", Id);
                return;
            }
        }

        var probeMs = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        _logger.LogDebug("Session {Session}: end-of-turn check after {Silence:F0} ms of silence: {Confidence:F3} for '{Word}' (bar {Bar:F2}, {Probe:F1} ms)", Id, silenceMs, estimate.Confidence, estimate.FirstWord, bar, probeMs);
        if (estimate.Confidence < bar || !_vad.EndSpeechNow())
        {
            return;
        }

        _vadEvents.Clear(); // the end event just raised is handled here, at the pause rather than one pad later
        _lastSpeechEndSample = Math.Max(_turnStartSample, speechEnd);
        Emit(new SessionEvent(SessionEventKind.SpeechEnded, _turnId + 1) { TimeMs = _lastSpeechEndSample * 1000 / ModelRate });
        _endOfTurn = "semantic";
        Commit(_lastSpeechEndSample);
    }

    private void HandleVadEvents(bool isFlush)
    {
        foreach (var e in _vadEvents)
        {
            var sample = _vadBase + e.Sample;
            if (e.Kind == VadEventKind.SpeechStart)
            {
                OnSpeechStart(sample);
            }
            else if (_userSpeaking)
            {
                // The VAD pads its end; the caller's last voiced sample is one pad earlier (a flush closes at the end of input).
                _lastSpeechEndSample = Math.Max(_turnStartSample, isFlush ? sample : sample - _padSamples);
                Emit(new SessionEvent(SessionEventKind.SpeechEnded, _turnId + 1) { TimeMs = _lastSpeechEndSample * 1000 / ModelRate });
                if (!isFlush && Options.AutoCommit)
                {
                    Commit(_lastSpeechEndSample);
                }
            }
        }

        _vadEvents.Clear();
    }

    private void OnSpeechStart(long sample)
    {
        var resumeFrom = Options.BargeInEnabled && !_userSpeaking ? ResumableTurnStart(sample) : -1;
        var interrupted = Options.BargeInEnabled && Interrupt(reportBargeIn: true, speechStartSample: sample, forgetTurn: resumeFrom >= 0);
        if (_userSpeaking)
        {
            return;
        }

        _turnInterrupted = interrupted;

        _userSpeaking = true;
        if (Options.VadGatesEncoder)
        {
            // Reach back into the pre-roll: the VAD confirms speech only after MinSpeechMs. A resumed turn reaches back
            // to its own start: the encoder hears the first part, the pause and the new words as one utterance.
            _turnStartSample = interrupted && resumeFrom >= 0 ? resumeFrom : Math.Max(sample, _streamSamples - _ring.Length);
            _encoderFedUpTo = _turnStartSample;
            _encoder.Reset();
        }

        if (interrupted && resumeFrom >= 0)
        {
            _logger.LogDebug("Session {Session}: the caller went on speaking; turn {Turn} resumes from its start", Id, _turnId);
        }

        Emit(new SessionEvent(SessionEventKind.SpeechStarted, _turnId + 1) { TimeMs = sample * 1000 / ModelRate });
    }

    /// <summary>
    /// The stream sample where the last user turn began, when the caller's speech starting at
    /// <paramref name="speechStartSample"/> continues it (<see cref="SemanticEndOfTurnOptions.ResumeWithinMs"/>): the turn
    /// was ended early by the semantic check, its reply is still playing or queued, the new speech starts soon after
    /// the turn's last voiced sample, and the whole turn is still in the ring. Otherwise -1.
    /// </summary>
    private long ResumableTurnStart(long speechStartSample)
    {
        var window = Options.SemanticEndOfTurn.ResumeWithinMs;
        if (window <= 0 || !Options.VadGatesEncoder)
        {
            return -1;
        }

        ReplyWork? work;
        lock (_gate)
        {
            work = _reply;
        }

        if (work is null || work.Interrupted || work.EndOfTurn != "semantic"
            || (speechStartSample - work.SpeechEndSample) * 1000 > (long)window * ModelRate
            || work.TurnStartSample < _streamSamples - _ring.Length
            || (_streamSamples - work.TurnStartSample) * 1000 / ModelRate >= Options.MaxTurnMs)
        {
            return -1;
        }

        return work.TurnStartSample;
    }

    private void FeedEncoder()
    {
        // Feed from the ring in at most two contiguous pieces (it wraps).
        while (_encoderFedUpTo < _streamSamples)
        {
            var start = (int)(_encoderFedUpTo % _ring.Length);
            var count = (int)Math.Min(_streamSamples - _encoderFedUpTo, _ring.Length - start);
            _encoder.PushAudio(_ring.AsSpan(start, count));
            _encoderFedUpTo += count;
        }
    }

    private void Commit(long speechEndSample)
    {
        var committedAt = Stopwatch.GetTimestamp();
        var endOfTurn = _endOfTurn;
        _endOfTurn = "silence";
        FeedEncoder();
        EncodedTurn turn;
        try
        {
            turn = _encoder.Complete();
        }
        catch (EncoderCacheFullException ex)
        {
            _logger.LogWarning(ex, "Session {Session}: user turn too long for the encoder cache", Id);
            _encoder.Reset();
            _userSpeaking = false;
            Emit(new SessionEvent(SessionEventKind.Error, _turnId) { Code = "turn_too_long", Text = ex.Message });
            return;
        }

        var encoderTailMs = Stopwatch.GetElapsedTime(committedAt).TotalMilliseconds;
        var turnStartSample = _turnStartSample;
        _userSpeaking = false;
        _turnStartSample = _streamSamples; // the next ungated turn starts here
        var vadCommitMs = Math.Max(0, (_streamSamples - speechEndSample) * 1000.0 / ModelRate);
        var turnId = Interlocked.Increment(ref _turnId);
        Emit(new SessionEvent(SessionEventKind.UserTranscript, turnId) { Text = turn.Transcript });
        if (turn.Count == 0)
        {
            return;
        }

        _logger.LogDebug("Session {Session}: turn {Turn} ended ({EndOfTurn}) {Wait:F0} ms after the last voiced sample", Id, turnId, endOfTurn, vadCommitMs);
        var work = new ReplyWork(turnId, turn, committedAt, vadCommitMs, encoderTailMs)
        {
            EndOfTurn = endOfTurn,
            TurnStartSample = turnStartSample,
            SpeechEndSample = speechEndSample,
        };
        lock (_gate)
        {
            _reply = work;
            var previous = _replyChain;
            _replyChain = Task.Run(() => RunReplyAsync(work, previous));
        }
    }

    /// <summary>
    /// Stops the reply in flight: cancels generation, drops queued audio, reports what was delivered. False when none
    /// was. A reply whose audio has all been read still counts when the caller's speech began before its last frame
    /// left (<paramref name="speechStartSample"/>, on the input stream's clock): the VAD confirms speech only
    /// MinSpeechMs or more after it starts, and a caller who talked over the reply's tail did barge in.
    /// </summary>
    private bool Interrupt(bool reportBargeIn, long speechStartSample, bool forgetTurn = false)
    {
        ReplyWork? work;
        lock (_gate)
        {
            work = _reply;
            if (work is null || work.Interrupted
                || (work.Finished && _audio.Reader.Count == 0 && !work.AudioPending && speechStartSample >= work.LastDeliveryStreamSample))
            {
                return false;
            }

            work.Interrupted = true;
            _audioReader.DropThroughTurn(work.TurnId);
        }

        work.Cancellation.Cancel();
        while (_audio.Reader.TryRead(out var frame))
        {
            frame.Dispose();
        }

        var delivered = work.DeliveredMs;
        work.DeliveredAtInterruptMs = delivered;
        if (reportBargeIn)
        {
            Emit(new SessionEvent(SessionEventKind.BargeIn, work.TurnId) { AudioMs = (long)Math.Round(delivered) });
        }

        // The decoder state belongs to the reply chain: shrink the context after the reply's worker has stopped
        // (it may have finished generating long ago while its audio was still queued) and before the next turn.
        lock (_gate)
        {
            var previous = _replyChain;
            Action<ReplyWork> shrink = forgetTurn ? ForgetTurn : KeepDeliveredPart;
            _replyChain = previous.ContinueWith(_ => shrink(work), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        return true;
    }

    private async Task RunReplyAsync(ReplyWork work, Task previous)
    {
        try
        {
            await previous.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // The previous reply reported its own failure; this one starts from the state it left.
        }

        var token = work.Cancellation.Token;
        work.CheckpointBefore = _decoderState.CreateCheckpoint();
        Task speechTask = Task.CompletedTask;
        try
        {
            token.ThrowIfCancellationRequested();
            TrimContextIfNeeded(work.Turn.Count, token);
            work.CheckpointBefore = _decoderState.CreateCheckpoint();
            var mode = Options.Mode;
            var run = work.Run = _engine.Generator.Begin(_decoderState, work.Turn, new ReplyOptions
            {
                Mode = mode,
                MaxNewTokens = Options.MaxNewTokens,
                TextSampling = Options.TextSampling,
                AudioSampling = Options.AudioSampling,
                Seed = Options.Seed,
            }, token);

            Channel<int>? codes = null;
            if (mode == OutputMode.TextAndAudio && _speech is { } speech)
            {
                var channel = Channel.CreateBounded<int>(new BoundedChannelOptions(64) { SingleReader = true, SingleWriter = true });
                codes = channel;
                work.AudioPending = true;
                speech.Reset(_engine.Pack.DetokenizerSettings?.DefaultSeed);
                speechTask = Task.Run(() => RunSpeechAsync(work, speech, channel, token), CancellationToken.None);
            }

            var events = new List<ReplyEvent>(4);
            var text = new System.Text.StringBuilder();
            bool more;
            do
            {
                events.Clear();
                more = run.MoveNext(events, token);
                foreach (var e in events)
                {
                    switch (e.Kind)
                    {
                        case ReplyEventKind.TextToken when e.Word is not null:
                            work.FirstTextTokenMs ??= work.ElapsedMs;
                            var delta = text.Length == 0 ? e.Word : " " + e.Word;
                            text.Append(delta);
                            Emit(new SessionEvent(SessionEventKind.ReplyTextDelta, work.TurnId) { Text = delta });
                            break;
                        case ReplyEventKind.TextEnd:
                            Emit(new SessionEvent(SessionEventKind.ReplyTextDone, work.TurnId) { Text = text.ToString() });
                            break;
                        case ReplyEventKind.AudioCode when codes is not null:
                            work.FirstAudioTokenMs ??= work.ElapsedMs;
                            await codes.Writer.WriteAsync(e.Code, token).ConfigureAwait(false);
                            break;
                    }
                }
            }
            while (more);

            codes?.Writer.TryComplete();
            await speechTask.ConfigureAwait(false);
            Emit(new SessionEvent(SessionEventKind.ReplyDone, work.TurnId) { Text = run.Result.Text });
            Emit(new SessionEvent(SessionEventKind.TurnLatency, work.TurnId) { Latency = work.Latency() });

            // Now, while the caller listens, rather than after the next commit: the re-prefill is off the first-packet
            // path, and the end-of-turn check of the next turn sees the history its reply will. A barge-in on audio
            // still queued is unaffected (KeepDeliveredPart places its checkpoints through the trim).
            try
            {
                TrimHistory(CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                _logger.LogWarning(ex, "Session {Session}: trimming the history after reply {Turn} failed; the next reply tries again", Id, work.TurnId);
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Interrupted: the continuation Interrupt queued trims the context to what the caller heard.
            Emit(new SessionEvent(SessionEventKind.TurnLatency, work.TurnId) { Latency = work.Latency() });
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A failed audio worker surfaces here as the closed codes channel: report its own exception.
            var cause = ex is ChannelClosedException && speechTask.IsFaulted ? speechTask.Exception.GetBaseException() : ex;
            _logger.LogError(cause, "Session {Session}: reply {Turn} failed", Id, work.TurnId);
            _decoderState.Rollback(work.CheckpointBefore);
            Emit(new SessionEvent(SessionEventKind.Error, work.TurnId) { Code = "reply_failed", Text = $"The reply failed: {cause.Message}" });
        }
        finally
        {
            // The reply is over only when its audio worker is: the next reply resets the same audio stages and
            // disposal frees them, so neither may overlap a chunk still running through them (a cancelled or failed
            // reply leaves the worker mid-chunk).
            if (!speechTask.IsCompleted)
            {
                await work.Cancellation.CancelAsync().ConfigureAwait(false);
                try
                {
                    await speechTask.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // Cancelled, or already reported through the reply's own failure.
                }
            }

            lock (_gate)
            {
                work.Finished = true;
                work.AudioPending = false;
            }
        }
    }

    private async Task RunSpeechAsync(ReplyWork work, ReplyAudioPipeline speech, Channel<int> codes, CancellationToken token)
    {
        Interlocked.Increment(ref _activeSpeechWorkers);
        try
        {
            var output = new ReplyPcmFramer(this, work, speech.SampleRate);
            await foreach (var code in codes.Reader.ReadAllAsync(token).ConfigureAwait(false))
            {
                speech.PushCode(code, output.Append, token);
                await output.FlushFramesAsync(final: false, token).ConfigureAwait(false);
            }

            speech.Complete(output.Append, token);
            await output.FlushFramesAsync(final: true, token).ConfigureAwait(false);
            Emit(new SessionEvent(SessionEventKind.ReplyAudioEnded, work.TurnId) { AudioMs = (long)Math.Round(output.QueuedMs) });
        }
        catch (Exception ex)
        {
            // Nobody drains the codes any more: fail the generator's next write instead of leaving it blocked.
            codes.Writer.TryComplete(ex);
            throw;
        }
        finally
        {
            Interlocked.Decrement(ref _activeSpeechWorkers);
        }
    }

    /// <summary>After a barge-in: keep the user turn and the part of the reply the caller heard, nothing more.</summary>
    private void KeepDeliveredPart(ReplyWork work)
    {
        if (_disposed)
        {
            return;
        }

        if (work.Run is not { } run)
        {
            // Interrupted before the prefill ran: the turn never entered the context.
            _decoderState.Rollback(work.CheckpointBefore);
            return;
        }

        // Where the reply starts now: a history trim after it was generated may have moved it forward, or dropped it.
        var afterPrompt = run.Result.CheckpointAfterPrompt;
        if (_decoderState.TurnsOf(afterPrompt) <= 0)
        {
            // The reply went with the rest of the history (none is kept): nothing of it is left to shorten.
            work.KeptReplyPositions = 0;
            return;
        }

        var replyStart = _decoderState.PositionOf(afterPrompt);
        var deliveredMs = work.DeliveredAtInterruptMs ?? work.DeliveredMs;
        var keep = 0;
        if (Options.Mode == OutputMode.TextAndAudio)
        {
            // Audio lags text by D positions; each reply code is one position carrying 80 ms of audio.
            var codeMs = 1000.0 / (_engine.Pack.Manifest.Tokenizer?.TokenRateHz ?? 12.5);
            var codesHeard = (int)Math.Ceiling(deliveredMs / codeMs);
            keep = codesHeard == 0 ? 0 : Math.Min(run.Result.Steps, _engine.Pack.Tokens.AudioDelay + codesHeard);
        }
        else
        {
            keep = run.Result.Steps;
        }

        // Truncating the end of the cache is always valid (positions before it are untouched).
        _decoderState.Truncate(Math.Min(replyStart + keep, _decoderState.Length));

        // Whatever was kept is a finished (if shortened) reply: the next turn opens with the closing position.
        _decoderState.ClosingPending = true;
        work.KeptReplyPositions = keep;
    }

    /// <summary>
    /// After a barge-in that continues the interrupted turn: the turn and its reply leave the context, because the
    /// turn is heard again, whole, as the next one.
    /// </summary>
    private void ForgetTurn(ReplyWork work)
    {
        if (_disposed)
        {
            return;
        }

        // A history trim after the reply was generated may already have dropped the turn (the demo pack keeps none).
        _decoderState.TryRollback(work.CheckpointBefore);
        work.KeptReplyPositions = 0;
    }

    private void TrimContextIfNeeded(int userTokens, CancellationToken token)
    {
        // Normally done when the last reply ended; here too for a reply that was cut off or failed before that.
        TrimHistory(token);
        var cap = Math.Min(Options.MaxContextPositions, _engine.Decoder.MaxPositions);
        var reserve = userTokens + 8 + (Options.MaxNewTokens ?? _engine.Pack.Tokens.MaxNewTokens);
        if (_decoderState.Length + reserve > cap && _decoderState.TurnCount > 0)
        {
            var dropped = _decoderState.TrimOldestTurns(Options.KeepTurnsOnTrim, token);
            _logger.LogDebug("Session {Session}: trimmed {Dropped} old turns to fit the context cap", Id, dropped);
            if (_decoderState.Length + reserve > cap)
            {
                _decoderState.TrimOldestTurns(0, token);
            }
        }
    }

    /// <summary>Drops the turns older than the history the decoder should see (<see cref="VoiceSessionOptions.MaxHistoryTurns"/>).</summary>
    private void TrimHistory(CancellationToken token)
    {
        if (_historyTurns is int history && _decoderState.TurnCount > history)
        {
            var dropped = _decoderState.TrimOldestTurns(history, token);
            _logger.LogDebug("Session {Session}: dropped {Dropped} positions of turns older than the last {History}", Id, dropped, history);
        }
    }

    internal void Emit(SessionEvent e)
    {
        if (!_events.Writer.TryWrite(e))
        {
            Interlocked.Increment(ref _droppedEvents);
        }
    }

    internal ReplyAudioFrame RentFrame() => _framePool.Rent();

    internal int OutputFrameSamples => _outputFrameSamples;

    internal ChannelWriter<ReplyAudioFrame> AudioWriter => _audio.Writer;

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Task chain;
        lock (_gate)
        {
            _reply?.Cancellation.Cancel();
            chain = _replyChain;
        }

        var stopped = true;
        try
        {
            stopped = chain.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Replies report their own failures as events; disposal only needs them stopped.
        }

        _audio.Writer.TryComplete();
        _events.Writer.TryComplete();
        while (_audio.Reader.TryRead(out var frame))
        {
            frame.Dispose();
        }

        _encoder.Dispose();
        _vad.Dispose();
        if (stopped)
        {
            DisposeReplyStages();
        }
        else
        {
            // Freeing the decoder cache or the audio stages under a worker still inside a graph run would let the
            // runtime write into released memory: free them when the worker ends instead.
            _logger.LogWarning("Session {Session}: a reply worker did not stop within 10 s of disposal; its stages are released when it does", Id);
            chain.ContinueWith(_ => DisposeReplyStages(), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
        }

        _engine.OnSessionClosed();
    }

    private void DisposeReplyStages()
    {
        _decoderState.Dispose();
        _speech?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>State of one reply, shared between the input thread (barge-in), the reply worker and the audio reader.</summary>
    internal sealed class ReplyWork(int turnId, EncodedTurn turn, long committedAt, double vadCommitMs, double encoderTailMs)
    {
        private long _deliveredSamples;
        private long _lastDeliveryStreamSample = -1;

        public int TurnId { get; } = turnId;

        public EncodedTurn Turn { get; } = turn;

        public CancellationTokenSource Cancellation { get; } = new();

        public bool Interrupted { get; set; }

        public bool Finished { get; set; }

        public bool AudioPending { get; set; }

        public string EndOfTurn { get; init; } = "silence";

        /// <summary>Stream samples where the user turn began and where its speech ended (the input's clock).</summary>
        public long TurnStartSample { get; init; }

        public long SpeechEndSample { get; init; }

        public double? FirstTextTokenMs { get; set; }

        public double? FirstAudioTokenMs { get; set; }

        public double? FirstAudioFrameMs { get; set; }

        public double? ReportedPlayedMs { get; set; }

        public double? DeliveredAtInterruptMs { get; set; }

        public int KeptReplyPositions { get; set; }

        public ReplyRun? Run { get; set; }

        public Stages.DecoderCheckpoint CheckpointBefore { get; set; }

        public int OutputSampleRate { get; set; } = 16000;

        public double ElapsedMs => Stopwatch.GetElapsedTime(committedAt).TotalMilliseconds;

        /// <summary>Reply audio the far end has: what the transport reported as played, else what it read.</summary>
        public double DeliveredMs => ReportedPlayedMs ?? (1000.0 * Interlocked.Read(ref _deliveredSamples) / OutputSampleRate);

        /// <summary>How much caller audio the session had received when the transport read this reply's latest frame (-1: none yet).</summary>
        public long LastDeliveryStreamSample => Interlocked.Read(ref _lastDeliveryStreamSample);

        public void AddDelivered(int samples, long streamSample)
        {
            Interlocked.Add(ref _deliveredSamples, samples);
            Interlocked.Exchange(ref _lastDeliveryStreamSample, streamSample);
        }

        public TurnLatency Latency() => new()
        {
            VadCommitMs = Math.Round(vadCommitMs, 1),
            EndOfTurn = EndOfTurn,
            EncoderTailMs = Math.Round(encoderTailMs, 2),
            FirstTextTokenMs = FirstTextTokenMs is { } t ? Math.Round(t, 2) : null,
            FirstAudioTokenMs = FirstAudioTokenMs is { } a ? Math.Round(a, 2) : null,
            FirstAudioFrameMs = FirstAudioFrameMs is { } f ? Math.Round(f, 2) : null,
            TotalMs = Math.Round(ElapsedMs, 2),
        };
    }

    /// <summary>
    /// The audio reader handed to transports: counts what they read as delivered (per turn) and hides frames of a reply
    /// that was interrupted after they were queued.
    /// </summary>
    private sealed class DeliveryCountingReader(VoiceSession session, ChannelReader<ReplyAudioFrame> inner) : ChannelReader<ReplyAudioFrame>
    {
        private int _droppedThroughTurn;

        public override Task Completion => inner.Completion;

        public override bool CanCount => inner.CanCount;

        public override int Count => inner.Count;

        public void DropThroughTurn(int turnId) => Volatile.Write(ref _droppedThroughTurn, turnId);

        public override bool TryRead(out ReplyAudioFrame item)
        {
            while (inner.TryRead(out item!))
            {
                if (item.TurnId <= Volatile.Read(ref _droppedThroughTurn))
                {
                    item.Dispose();
                    continue;
                }

                ReplyWork? work;
                lock (session._gate)
                {
                    work = session._reply;
                }

                if (work is not null && work.TurnId == item.TurnId)
                {
                    work.AddDelivered(item.Length, Volatile.Read(ref session._streamSamples));
                }

                return true;
            }

            return false;
        }

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => inner.WaitToReadAsync(cancellationToken);
    }
}
