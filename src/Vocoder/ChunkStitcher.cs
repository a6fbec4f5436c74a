namespace VoiceAgent.Vocoder;

/// <summary>
/// Per-reply chunked vocoding (docs/model-pack-part2.md §4): every mel chunk is vocoded together with up to
/// <c>L + R + O</c> earlier frames (left context L for the receptive field, look-ahead R re-vocoded now that it has
/// right context, overlap O re-vocoded for the cross-fade). The last R frames of each call lack right context and are
/// discarded; the O frames before them are held back and cross-faded (raised cosine) with the next call's version of
/// the same frames; the final chunk flushes everything. Output lags the received mel by R + O frames until the final
/// chunk. Keeps only the last <c>L + R + O</c> mel frames. Not thread-safe.
/// </summary>
public sealed class ChunkStitcher : IDisposable
{
    private readonly BigVganVocoder _vocoder;
    private readonly VocoderWorkspace _workspace;
    private readonly int _o;
    private readonly int _r;
    private readonly int _l;
    private readonly int _hop;
    private readonly int _bins;
    private readonly float[] _rise;
    private readonly float[] _fall;
    private readonly float[] _tail;
    private float[] _history;
    private float[] _output;
    private int _historyFrames;
    private int _historyStart;
    private int _received;
    private int _chunks;
    private long _samplesOut;
    private bool _finished;
    private bool _disposed;

    internal ChunkStitcher(BigVganVocoder vocoder)
    {
        _vocoder = vocoder;
        var s = vocoder.Settings;
        _o = s.OverlapFrames;
        _r = s.LookaheadFrames;
        _l = s.LeftContextFrames;
        _hop = s.HopLength;
        _bins = s.MelBins;
        _rise = CrossFadeWeights(_o * _hop);
        _fall = new float[_rise.Length];
        for (var i = 0; i < _rise.Length; i++)
        {
            _fall[i] = 1f - _rise[i];
        }

        _tail = new float[_o * _hop];
        _workspace = vocoder.CreateWorkspace(_o + _r + _l + 48);
        _history = new float[(_o + _r + _l + 48) * _bins];
        _output = new float[(_o + _r + 48) * _hop];
    }

    /// <summary>Mel frames received in this reply.</summary>
    public int FramesReceived => _received;

    /// <summary>Chunks pushed in this reply.</summary>
    public int ChunkCount => _chunks;

    /// <summary>Samples output so far.</summary>
    public long SamplesOutput => _samplesOut;

    /// <summary>Samples held back for the next cross-fade (O·hop after a non-final chunk).</summary>
    public int HeldSamples => _chunks > 0 && !_finished ? _tail.Length : 0;

    /// <summary>Whether the final chunk was pushed.</summary>
    public bool IsFinished => _finished;

    /// <summary>
    /// The rising raised-cosine cross-fade of <paramref name="length"/> samples: <c>w[i] = 0.5 − 0.5 cos(π (i + 0.5) / length)</c>
    /// (computed in double, stored as float32); the held tail is weighted <c>1 − w[i]</c>.
    /// </summary>
    public static float[] CrossFadeWeights(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var w = new float[length];
        for (var i = 0; i < length; i++)
        {
            w[i] = (float)(0.5 - (0.5 * Math.Cos(Math.PI * (i + 0.5) / length)));
        }

        return w;
    }

    /// <summary>
    /// Vocodes the next mel chunk (frame-major, any whole number of frames; a non-final chunk needs ≥ O frames) and
    /// returns the audio that is now final: the view is valid until the next <see cref="Push"/> or <see cref="Reset"/>.
    /// On an exception (cancellation included) the stitcher is unchanged and the push may be retried.
    /// </summary>
    public ReadOnlySpan<float> Push(ReadOnlySpan<float> mel, bool isFinal, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_finished)
        {
            throw new InvalidOperationException("The reply's final chunk was already pushed; Reset the stitcher for a new reply.");
        }

        if (mel.Length % _bins != 0)
        {
            throw new ArgumentException($"Mel is a whole number of {_bins}-bin frames; got {mel.Length} floats.", nameof(mel));
        }

        var frames = mel.Length / _bins;
        if (!isFinal && frames < _o + _r)
        {
            throw new ArgumentException($"A non-final chunk needs at least overlap_frames + lookahead_frames = {_o + _r} frames; got {frames}.", nameof(mel));
        }

        var a = _received;
        var b = a + frames;
        EnsureHistory(_historyFrames + frames);
        mel.CopyTo(_history.AsSpan(_historyFrames * _bins));
        var h = _hop;
        int length;
        if (_chunks == 0)
        {
            if (b == 0)
            {
                length = 0;
            }
            else
            {
                var y = _vocoder.Vocode(_workspace, _history.AsSpan(0, (_historyFrames + frames) * _bins), cancellationToken);
                length = isFinal ? y.Length : h * (b - _r - _o);
                EnsureOutput(length);
                y[..length].CopyTo(_output);
                if (!isFinal)
                {
                    // Frames [b−R−O, b−R) are held for the cross-fade; [b−R, b) lack right context and are dropped.
                    y.Slice(length, _o * h).CopyTo(_tail);
                }
            }
        }
        else
        {
            var lo = Math.Max(0, a - _r - _o - _l);
            var from = (lo - _historyStart) * _bins;
            var y = _vocoder.Vocode(_workspace, _history.AsSpan(from, ((_historyFrames + frames) * _bins) - from), cancellationToken);
            var seg = y[(h * (a - _r - _o - lo))..]; // frames [a−R−O, b)
            var fade = _o * h;
            length = isFinal ? seg.Length : h * (b - a);
            EnsureOutput(length);
            var output = _output.AsSpan(0, length);
            for (var i = 0; i < fade; i++)
            {
                output[i] = (_tail[i] * _fall[i]) + (seg[i] * _rise[i]);
            }

            seg[fade..length].CopyTo(output[fade..]);
            if (!isFinal)
            {
                seg.Slice(length, _o * h).CopyTo(_tail);
            }
        }

        // Commit: keep only the last L + R + O frames of mel.
        _historyFrames += frames;
        _received = b;
        _chunks++;
        _finished = isFinal;
        _samplesOut += length;
        var keep = Math.Min(_historyFrames, _o + _r + _l);
        var dropFrames = _historyFrames - keep;
        if (dropFrames > 0)
        {
            _history.AsSpan(dropFrames * _bins, keep * _bins).CopyTo(_history);
            _historyFrames = keep;
            _historyStart += dropFrames;
        }

        return _output.AsSpan(0, length);
    }

    /// <summary>Starts a new reply: forgets the mel history and the held tail (buffers are kept).</summary>
    public void Reset()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _historyFrames = 0;
        _historyStart = 0;
        _received = 0;
        _chunks = 0;
        _samplesOut = 0;
        _finished = false;
    }

    /// <summary>Releases the vocoder buffers.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _workspace.Dispose();
        }
    }

    private void EnsureHistory(int frames)
    {
        if (_history.Length < frames * _bins)
        {
            Array.Resize(ref _history, Math.Max(frames, 2 * _history.Length / _bins) * _bins);
        }
    }

    private void EnsureOutput(int samples)
    {
        if (_output.Length < samples)
        {
            _output = new float[Math.Max(samples, 2 * _output.Length)];
        }
    }
}
