namespace VoiceAgent.Vocoder;

/// <summary>Receives reply PCM (mono float in [-1, 1] at the vocoder's rate); the span is valid only during the call.</summary>
/// <param name="pcm">Audio that became final (may be empty only for the final call of an empty reply).</param>
/// <param name="isFinal">Whether this is the reply's last audio.</param>
public delegate void PcmHandler(ReadOnlySpan<float> pcm, bool isFinal);

/// <summary>
/// The synchronous per-reply chain <see cref="DetokenizerStream"/> → <see cref="BigVganVocoder"/> →
/// <see cref="ChunkStitcher"/>: <see cref="PushCode"/> records a code and runs every chunk the §3 schedule allows,
/// handing the audio that became final to a <see cref="PcmHandler"/> before it returns; <see cref="Complete"/> decodes
/// the rest and flushes the held tail. Runs on the caller's thread (a chunk is 7 DiT calls + 1 vocoder call), so call it
/// from the thread that may block for that long; <see cref="ReplyAudioSynthesizer"/> wraps it in a background task with
/// a bounded output channel. Not thread-safe. After an exception (cancellation included) the reply is lost:
/// <see cref="Reset"/> before the next one.
/// </summary>
public sealed class ReplyAudioPipeline : IDisposable
{
    private readonly DetokenizerStream _detokenizer;
    private readonly ChunkStitcher _stitcher;
    private bool _disposed;

    /// <summary>Creates the per-reply states over the shared graph wrappers.</summary>
    public ReplyAudioPipeline(FlowMatchingDetokenizer detokenizer, BigVganVocoder vocoder, uint? seed = null)
    {
        ArgumentNullException.ThrowIfNull(detokenizer);
        ArgumentNullException.ThrowIfNull(vocoder);
        if (detokenizer.Settings.MelBins != vocoder.Settings.MelBins)
        {
            throw new ArgumentException($"The detokenizer emits {detokenizer.Settings.MelBins}-bin mel but the vocoder takes {vocoder.Settings.MelBins}.", nameof(vocoder));
        }

        _detokenizer = detokenizer.CreateStream(seed);
        _stitcher = vocoder.CreateStitcher();
        SampleRate = vocoder.Settings.SampleRate;
    }

    /// <summary>Output sample rate (Hz).</summary>
    public int SampleRate { get; }

    /// <summary>The detokenizer state (counters, cache).</summary>
    public DetokenizerStream Detokenizer => _detokenizer;

    /// <summary>The stitching state (mel history, held tail).</summary>
    public ChunkStitcher Stitcher => _stitcher;

    /// <summary>Samples handed out so far in this reply.</summary>
    public long SamplesOutput => _stitcher.SamplesOutput;

    /// <summary>Whether the reply's final audio was handed out.</summary>
    public bool IsFinished => _stitcher.IsFinished;

    /// <summary>Records the next code and runs every chunk that became ready; returns the number of chunks run.</summary>
    public int PushCode(int code, PcmHandler onPcm, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _detokenizer.PushCode(code);
        return Drain(onPcm, cancellationToken);
    }

    /// <summary>Records the codes and runs every chunk that became ready; returns the number of chunks run.</summary>
    public int PushCodes(ReadOnlySpan<int> codes, PcmHandler onPcm, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _detokenizer.PushCodes(codes);
        return Drain(onPcm, cancellationToken);
    }

    /// <summary>The reply ended: decodes the remaining codes and flushes; the last call of <paramref name="onPcm"/> has <c>isFinal</c> set.</summary>
    public int Complete(PcmHandler onPcm, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _detokenizer.Complete();
        return Drain(onPcm, cancellationToken);
    }

    /// <summary>
    /// Runs at most one ready chunk and hands its audio to <paramref name="onPcm"/> (also when empty, for the final
    /// chunk); false when no chunk is ready.
    /// </summary>
    public bool TryProcessNext(PcmHandler onPcm, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentNullException.ThrowIfNull(onPcm);
        if (!_detokenizer.TryDecodeNext(out var mel, cancellationToken))
        {
            return false;
        }

        var pcm = _stitcher.Push(mel.Mel, mel.IsFinal, cancellationToken);
        if (!pcm.IsEmpty || mel.IsFinal)
        {
            onPcm(pcm, mel.IsFinal);
        }

        return true;
    }

    /// <summary>Starts a new reply (barge-in or next reply): drops codes, cache, mel history and held tail; buffers are kept.</summary>
    public void Reset(uint? seed = null)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _detokenizer.Reset(seed);
        _stitcher.Reset();
    }

    /// <summary>Releases the states' tensors.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _detokenizer.Dispose();
            _stitcher.Dispose();
        }
    }

    private int Drain(PcmHandler onPcm, CancellationToken cancellationToken)
    {
        var chunks = 0;
        while (TryProcessNext(onPcm, cancellationToken))
        {
            chunks++;
        }

        return chunks;
    }
}
