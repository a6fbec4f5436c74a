using System.Buffers;
using System.Threading.Channels;

namespace VoiceAgent.Vocoder;

/// <summary>How a <see cref="ReplyAudioSynthesizer"/> runs.</summary>
public sealed record ReplyAudioOptions
{
    /// <summary>The reply's Euler noise seed (null: the pack's <see cref="DetokenizerSettings.DefaultSeed"/>).</summary>
    public uint? Seed { get; init; }

    /// <summary>
    /// PCM chunks buffered for the reader before synthesis waits (backpressure). Default 4: with 160 ms chunks, more
    /// than half a second of audio ahead of playback.
    /// </summary>
    public int OutputCapacity { get; init; } = 4;
}

/// <summary>
/// A piece of reply audio: float PCM in [-1, 1] at <see cref="VocoderSettings.SampleRate"/>, mono. The samples live in
/// a pooled array; <see cref="Dispose"/> returns it (optional: an undisposed chunk is simply collected).
/// </summary>
public sealed class ReplyAudioChunk : IDisposable
{
    private float[]? _buffer;

    internal ReplyAudioChunk(float[] buffer, int length, int index, long startSample, bool isFinal)
    {
        _buffer = buffer;
        Length = length;
        Index = index;
        StartSample = startSample;
        IsFinal = isFinal;
    }

    /// <summary>The samples (empty after <see cref="Dispose"/>).</summary>
    public ReadOnlyMemory<float> Samples => _buffer is { } b ? b.AsMemory(0, Length) : ReadOnlyMemory<float>.Empty;

    /// <summary>Number of samples.</summary>
    public int Length { get; }

    /// <summary>0-based chunk index in the reply.</summary>
    public int Index { get; }

    /// <summary>Offset of the first sample from the start of the reply.</summary>
    public long StartSample { get; }

    /// <summary>Whether this is the reply's last chunk.</summary>
    public bool IsFinal { get; }

    /// <summary>Returns the samples' array to the pool.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _buffer, null) is { } b)
        {
            ArrayPool<float>.Shared.Return(b);
        }
    }
}

/// <summary>
/// Turns one reply's audio codes into 16 kHz PCM while the decoder is still producing them: codes go in through
/// <see cref="PushCode"/> (non-blocking, any thread), a background task runs the <see cref="DetokenizerStream"/> →
/// <see cref="BigVganVocoder"/> → <see cref="ChunkStitcher"/> chain as soon as the §3 schedule allows, and PCM chunks
/// come out of the bounded <see cref="Audio"/> channel (the task waits when the reader falls behind).
/// <see cref="Complete"/> ends the reply (the last chunk has <see cref="ReplyAudioChunk.IsFinal"/>);
/// <see cref="Cancel"/> (barge-in) stops the in-flight graph run, drops all buffered audio and every state at once.
/// The first chunk needs F + LA codes (7 for the demo) and carries (F·4 − O) frames of audio (200 ms).
/// </summary>
public sealed class ReplyAudioSynthesizer : IAsyncDisposable, IDisposable
{
    private readonly Channel<int> _codes = Channel.CreateUnbounded<int>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });
    private readonly Channel<ReplyAudioChunk> _audio;
    private readonly CancellationTokenSource _cts;
    private readonly ReplyAudioPipeline _pipeline;
    private readonly PcmHandler _capture;
    private readonly Task _worker;
    private readonly int _codebookSize;
    private long _samples;
    private int _chunkIndex;
    private int _pushed;
    private ReplyAudioChunk? _captured;
    private volatile bool _cancelled;

    /// <summary>Starts the background synthesis of one reply.</summary>
    public ReplyAudioSynthesizer(
        FlowMatchingDetokenizer detokenizer,
        BigVganVocoder vocoder,
        ReplyAudioOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(detokenizer);
        ArgumentNullException.ThrowIfNull(vocoder);
        options ??= new ReplyAudioOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.OutputCapacity, 1);
        SampleRate = vocoder.Settings.SampleRate;
        _codebookSize = detokenizer.Settings.CodebookSize;
        _audio = Channel.CreateBounded<ReplyAudioChunk>(new BoundedChannelOptions(options.OutputCapacity)
        {
            SingleReader = false,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        _cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _pipeline = new ReplyAudioPipeline(detokenizer, vocoder, options.Seed);
        _capture = Capture;
        _worker = Task.Run(RunAsync, CancellationToken.None);
    }

    /// <summary>The PCM chunks of the reply, in order; completes after the final chunk, on <see cref="Cancel"/>, or with the error that stopped synthesis.</summary>
    public ChannelReader<ReplyAudioChunk> Audio => _audio.Reader;

    /// <summary>Output sample rate (Hz).</summary>
    public int SampleRate { get; }

    /// <summary>Completes when the background task has stopped (never faults; errors go to <see cref="Audio"/>).</summary>
    public Task Completion => _worker;

    /// <summary>Whether <see cref="Cancel"/> was called or the caller's token was cancelled.</summary>
    public bool IsCancelled => _cancelled || _cts.IsCancellationRequested;

    /// <summary>Codes pushed so far.</summary>
    public int CodesPushed => Volatile.Read(ref _pushed);

    /// <summary>Hands the next audio code (0..codebook_size−1) to synthesis; ignored after <see cref="Cancel"/>.</summary>
    /// <exception cref="InvalidOperationException">After <see cref="Complete"/>.</exception>
    public void PushCode(int code)
    {
        if ((uint)code >= (uint)_codebookSize)
        {
            throw new ArgumentOutOfRangeException(nameof(code), code, $"An audio code is in 0..{_codebookSize - 1}.");
        }

        if (_codes.Writer.TryWrite(code))
        {
            Interlocked.Increment(ref _pushed);
        }
        else if (!IsCancelled)
        {
            throw new InvalidOperationException("The reply was completed; create a new synthesizer for the next reply.");
        }
    }

    /// <summary>Hands several codes to synthesis (as one push each).</summary>
    public void PushCodes(ReadOnlySpan<int> codes)
    {
        foreach (var code in codes)
        {
            PushCode(code);
        }
    }

    /// <summary>The reply ended: the remaining codes become the final chunk.</summary>
    public void Complete() => _codes.Writer.TryComplete();

    /// <summary>
    /// Barge-in: terminates the graph run in flight, completes <see cref="Audio"/> at once and discards every chunk not
    /// yet read; the detokenizer and vocoder states are released by the background task as it stops.
    /// </summary>
    public void Cancel()
    {
        _cancelled = true;
        _codes.Writer.TryComplete();
        _audio.Writer.TryComplete();
        try
        {
            _cts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: nothing runs any more.
        }

        DrainAudio();
    }

    /// <summary>Cancels if still running and waits for the background task.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_worker.IsCompleted)
        {
            Cancel();
        }

        await _worker.ConfigureAwait(false);
        DrainAudio();
        _cts.Dispose();
    }

    /// <summary>Cancels if still running and waits for the background task.</summary>
    public void Dispose()
    {
        if (!_worker.IsCompleted)
        {
            Cancel();
        }

        _worker.GetAwaiter().GetResult();
        DrainAudio();
        _cts.Dispose();
    }

    private async Task RunAsync()
    {
        var ct = _cts.Token;
        Exception? error = null;
        try
        {
            var reader = _codes.Reader;
            while (await reader.WaitToReadAsync(ct).ConfigureAwait(false))
            {
                while (reader.TryRead(out var code))
                {
                    _pipeline.Detokenizer.PushCode(code);
                }

                await DrainDetokenizerAsync(ct).ConfigureAwait(false);
            }

            if (!IsCancelled)
            {
                _pipeline.Detokenizer.Complete();
                await DrainDetokenizerAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (IsCancelled)
        {
            // Barge-in or the caller's token: drop everything.
        }
        catch (ChannelClosedException) when (IsCancelled)
        {
            // Cancel completed the output while a chunk was being written.
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            _pipeline.Dispose();
        }

        _audio.Writer.TryComplete(error);
        if (IsCancelled)
        {
            DrainAudio();
        }
    }

    private async Task DrainDetokenizerAsync(CancellationToken ct)
    {
        while (NextChunk(ct) is { } chunk)
        {
            try
            {
                await _audio.Writer.WriteAsync(chunk, ct).ConfigureAwait(false);
            }
            catch
            {
                chunk.Dispose();
                throw;
            }
        }
    }

    /// <summary>Decodes, vocodes and stitches the next ready chunk into a pooled PCM chunk (null when none is ready).</summary>
    private ReplyAudioChunk? NextChunk(CancellationToken ct)
    {
        _captured = null;
        while (_captured is null && _pipeline.TryProcessNext(_capture, ct))
        {
        }

        return _captured;
    }

    private void Capture(ReadOnlySpan<float> pcm, bool isFinal)
    {
        var buffer = ArrayPool<float>.Shared.Rent(Math.Max(1, pcm.Length));
        pcm.CopyTo(buffer);
        _captured = new ReplyAudioChunk(buffer, pcm.Length, _chunkIndex++, _samples, isFinal);
        _samples += pcm.Length;
    }

    private void DrainAudio()
    {
        while (_audio.Reader.TryRead(out var chunk))
        {
            chunk.Dispose();
        }
    }
}
