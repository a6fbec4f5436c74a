using System.Collections.Concurrent;

namespace VoiceAgent.StreamingEngine.Sessions;

/// <summary>
/// One frame of reply audio (float PCM in [-1, 1], mono, at the session's output rate). Frames come from a
/// per-session pool: the consumer disposes a frame when it has sent it, which returns its buffer, so a long call
/// allocates no audio buffers in steady state. A frame that is never disposed is simply collected.
/// </summary>
public sealed class ReplyAudioFrame : IDisposable
{
    private readonly ReplyAudioFramePool? _pool;
    private readonly float[] _buffer;
    private int _pooled;

    internal ReplyAudioFrame(ReplyAudioFramePool? pool, int capacity)
    {
        _pool = pool;
        _buffer = new float[capacity];
    }

    /// <summary>The samples of this frame.</summary>
    public ReadOnlyMemory<float> Samples => _buffer.AsMemory(0, Length);

    /// <summary>Number of valid samples.</summary>
    public int Length { get; private set; }

    /// <summary>Sample rate of <see cref="Samples"/>.</summary>
    public int SampleRate { get; private set; }

    /// <summary>The turn this audio answers.</summary>
    public int TurnId { get; private set; }

    /// <summary>Offset of the first sample from the start of the reply, in milliseconds.</summary>
    public double OffsetMs { get; private set; }

    /// <summary>Duration in milliseconds.</summary>
    public double DurationMs => SampleRate == 0 ? 0 : 1000.0 * Length / SampleRate;

    internal Span<float> Buffer => _buffer;

    internal int Capacity => _buffer.Length;

    internal void Set(int length, int sampleRate, int turnId, double offsetMs)
    {
        Length = length;
        SampleRate = sampleRate;
        TurnId = turnId;
        OffsetMs = offsetMs;
    }

    /// <summary>Returns the buffer to the session's pool (a second Dispose does nothing).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _pooled, 1) == 0)
        {
            _pool?.Return(this);
        }
    }

    internal void MarkRented() => Volatile.Write(ref _pooled, 0);
}

/// <summary>A small bounded pool of equally sized frames (one per session).</summary>
internal sealed class ReplyAudioFramePool(int frameCapacity, int maxPooled)
{
    private readonly ConcurrentBag<ReplyAudioFrame> _frames = [];

    public ReplyAudioFrame Rent()
    {
        if (!_frames.TryTake(out var frame))
        {
            frame = new ReplyAudioFrame(this, frameCapacity);
        }

        frame.MarkRented();
        return frame;
    }

    public void Return(ReplyAudioFrame frame)
    {
        if (frame.Capacity == frameCapacity && _frames.Count < maxPooled)
        {
            frame.Set(0, 0, 0, 0);
            _frames.Add(frame);
        }
    }
}
