using VoiceAgent.Core.Audio;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>
/// Turns the audio stages' PCM (pack rate) into fixed-length frames at the session's output rate on the bounded
/// audio channel. <see cref="Append"/> is synchronous (it is the stages' sink); <see cref="FlushFramesAsync"/> then
/// queues whole frames with back-pressure, so a slow reader slows generation instead of growing memory.
/// </summary>
internal sealed class ReplyPcmFramer
{
    private readonly VoiceSession _session;
    private readonly VoiceSession.ReplyWork _work;
    private readonly Resampler? _resampler;
    private readonly int _outputRate;
    private readonly int _frameSamples;
    private float[] _pending = new float[8192];
    private float[] _scratch = new float[8192];
    private int _pendingCount;
    private long _queuedSamples;
    private bool _started;

    public ReplyPcmFramer(VoiceSession session, VoiceSession.ReplyWork work, int inputRate)
    {
        _session = session;
        _work = work;
        _outputRate = session.Options.OutputSampleRate;
        _frameSamples = session.OutputFrameSamples;
        work.OutputSampleRate = _outputRate;
        if (inputRate != _outputRate)
        {
            _resampler = new Resampler(inputRate, _outputRate);
        }
    }

    /// <summary>Milliseconds of audio queued so far.</summary>
    public double QueuedMs => 1000.0 * _queuedSamples / _outputRate;

    /// <summary>Adds stage output (pack rate); the signature is the audio stages' <c>PcmHandler</c>.</summary>
    public void Append(ReadOnlySpan<float> pcm, bool isFinal)
    {
        _ = isFinal; // the reply's end is signalled by FlushFramesAsync(final: true)
        if (_resampler is null)
        {
            AppendOutputRate(pcm);
            return;
        }

        var max = _resampler.GetMaxOutputLength(pcm.Length);
        if (_scratch.Length < max)
        {
            _scratch = new float[Math.Max(max, _scratch.Length * 2)];
        }

        var written = _resampler.Process(pcm, _scratch);
        AppendOutputRate(_scratch.AsSpan(0, written));
    }

    /// <summary>Queues every whole frame; with <paramref name="final"/>, also the resampler tail and a last short frame.</summary>
    public async ValueTask FlushFramesAsync(bool final, CancellationToken cancellationToken)
    {
        if (final && _resampler is not null)
        {
            var tail = _resampler.GetFlushLength();
            if (_scratch.Length < tail)
            {
                _scratch = new float[tail];
            }

            var written = _resampler.Flush(_scratch);
            AppendOutputRate(_scratch.AsSpan(0, written));
        }

        var offset = 0;
        while (_pendingCount - offset >= _frameSamples || (final && _pendingCount - offset > 0))
        {
            var length = Math.Min(_frameSamples, _pendingCount - offset);
            var frame = _session.RentFrame();
            _pending.AsSpan(offset, length).CopyTo(frame.Buffer);
            frame.Set(length, _outputRate, _work.TurnId, QueuedMs);
            offset += length;
            try
            {
                await _session.AudioWriter.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                frame.Dispose();
                throw;
            }

            _queuedSamples += length;
            if (!_started)
            {
                _started = true;
                _work.FirstAudioFrameMs = _work.ElapsedMs;
                _session.Emit(new SessionEvent(SessionEventKind.ReplyAudioStarted, _work.TurnId));
            }
        }

        if (offset > 0)
        {
            _pending.AsSpan(offset, _pendingCount - offset).CopyTo(_pending);
            _pendingCount -= offset;
        }
    }

    private void AppendOutputRate(ReadOnlySpan<float> pcm)
    {
        if (_pending.Length < _pendingCount + pcm.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pendingCount + pcm.Length, _pending.Length * 2));
        }

        pcm.CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += pcm.Length;
    }
}
