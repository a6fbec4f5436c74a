namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>What <see cref="RtpJitterBuffer.Insert"/> did with a packet.</summary>
public enum JitterInsertResult
{
    Accepted,

    /// <summary>Accepted, but it arrived after a packet with a higher sequence number (reordered in time to play).</summary>
    Reordered,

    Duplicate,

    /// <summary>Its turn to play has passed; dropped.</summary>
    Late,

    /// <summary>Payload larger than a slot; dropped.</summary>
    TooLarge,

    /// <summary>A jump so large (sender restart) that the buffer started over with this packet.</summary>
    Restarted,
}

/// <summary>What <see cref="RtpJitterBuffer.Playout"/> produced for one playout slot.</summary>
public enum JitterPlayout
{
    /// <summary>The next packet's payload was copied out.</summary>
    Packet,

    /// <summary>The next packet is missing but later ones are here: conceal one packet's worth.</summary>
    Lost,

    /// <summary>Nothing to play (not started, or underrun while the sender is quiet): play silence.</summary>
    Empty,
}

/// <summary>Counters of one buffer (read from any thread for call statistics).</summary>
public sealed class JitterBufferStats
{
    internal long ReceivedCount;
    internal long ReorderedCount;
    internal long DuplicateCount;
    internal long LateCount;
    internal long LostCount;
    internal long OverflowCount;
    internal long UnderrunCount;
    internal long RestartCount;

    public long Received => Interlocked.Read(ref ReceivedCount);

    public long Reordered => Interlocked.Read(ref ReorderedCount);

    public long Duplicates => Interlocked.Read(ref DuplicateCount);

    public long Late => Interlocked.Read(ref LateCount);

    /// <summary>Packets never received whose slot was concealed.</summary>
    public long Lost => Interlocked.Read(ref LostCount);

    /// <summary>Packets discarded because the buffer held more than its maximum (sender clock faster than ours).</summary>
    public long Overflow => Interlocked.Read(ref OverflowCount);

    public long Underruns => Interlocked.Read(ref UnderrunCount);

    public long Restarts => Interlocked.Read(ref RestartCount);
}

/// <summary>
/// A fixed-delay jitter buffer for one RTP stream, ordered by extended sequence number. Playout starts once
/// <see cref="TargetDepth"/> packets are buffered (that is the delay that absorbs network jitter and reordering);
/// a missing packet whose successors have arrived is reported as <see cref="JitterPlayout.Lost"/> so the caller
/// conceals it; a packet that arrives after its slot was played is dropped as late; when the buffer runs dry it
/// re-buffers to the target depth; when it holds more than <see cref="MaxDepth"/> (the sender's clock runs faster
/// than ours) the oldest packets are discarded. Slots are preallocated: inserting copies the payload into the
/// buffer's own memory, so steady-state operation allocates nothing. Not thread-safe: the owner serializes calls.
/// </summary>
public sealed class RtpJitterBuffer
{
    private const long SequenceBase = 1L << 16; // extended numbers start above zero so "before the first" stays positive

    private readonly byte[][] _payloads;
    private readonly int[] _lengths;
    private readonly long[] _sequences; // extended sequence of the packet in each slot, -1 when free
    private readonly bool[] _skipped;   // a non-audio packet (DTMF) that used this number: skip without concealment
    private long _highest = -1;          // highest extended sequence seen
    private long _next = -1;             // next extended sequence to play
    private bool _playing;
    private bool _played;                // something was played (or concealed) since the last reset
    private int _buffered;

    public RtpJitterBuffer(int capacity = 64, int targetDepth = 3, int maxPayloadBytes = 480)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 4);
        ArgumentOutOfRangeException.ThrowIfLessThan(targetDepth, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(targetDepth, capacity / 2);
        Capacity = capacity;
        TargetDepth = targetDepth;
        // A memory and delay bound, not the steady state: the owner drains a backlog faster than real time (see
        // RtpCallMedia), so only a sender far ahead of our clock or a stalled reader ever reaches it.
        MaxDepth = Math.Max(targetDepth * 3, capacity * 3 / 4);
        _payloads = new byte[capacity][];
        for (var i = 0; i < capacity; i++)
        {
            _payloads[i] = new byte[maxPayloadBytes];
        }

        _lengths = new int[capacity];
        _sequences = new long[capacity];
        _skipped = new bool[capacity];
        Array.Fill(_sequences, -1);
    }

    public int Capacity { get; }

    /// <summary>Packets buffered before playout (re)starts: the buffer's delay in packets.</summary>
    public int TargetDepth { get; }

    /// <summary>Beyond this many packets waiting, the oldest are discarded to bring the delay back to the target.</summary>
    public int MaxDepth { get; }

    public JitterBufferStats Stats { get; } = new();

    /// <summary>Packets waiting to be played.</summary>
    public int Buffered => _buffered;

    public bool IsPlaying => _playing;

    /// <summary>Forgets every packet and the sequence history (new SSRC, re-INVITE to another peer).</summary>
    public void Reset()
    {
        Array.Fill(_sequences, -1);
        Array.Clear(_skipped);
        _highest = -1;
        _next = -1;
        _playing = false;
        _played = false;
        _buffered = 0;
    }

    public JitterInsertResult Insert(ushort sequenceNumber, ReadOnlySpan<byte> payload) => Store(sequenceNumber, payload, skipped: false);

    /// <summary>Records that a non-audio packet (an RFC 4733 event) used this sequence number, so it is not concealed as lost.</summary>
    public void MarkSkipped(ushort sequenceNumber) => Store(sequenceNumber, [], skipped: true);

    private JitterInsertResult Store(ushort sequenceNumber, ReadOnlySpan<byte> payload, bool skipped)
    {
        if (payload.Length > _payloads[0].Length)
        {
            return JitterInsertResult.TooLarge;
        }

        var restarted = false;
        long extended;
        if (_highest < 0)
        {
            extended = SequenceBase + sequenceNumber;
            _next = extended;
        }
        else
        {
            // The 16-bit difference from the highest seen, taken as signed, unwraps the sequence number.
            var delta = (short)(sequenceNumber - (ushort)_highest);
            extended = _highest + delta;
            if (delta > Capacity * 4 || delta < -Capacity * 4)
            {
                // Far outside any plausible reordering window: the sender restarted its numbering.
                Reset();
                extended = SequenceBase + sequenceNumber;
                _next = extended;
                restarted = true;
                Interlocked.Increment(ref Stats.RestartCount);
            }
        }

        if (!skipped)
        {
            Interlocked.Increment(ref Stats.ReceivedCount);
        }

        if (extended < _next && !_played)
        {
            // Reordered before playout began: nothing was played yet, so it is simply the new oldest packet.
            _next = extended;
        }

        if (extended < _next)
        {
            if (!skipped)
            {
                Interlocked.Increment(ref Stats.LateCount);
            }

            return JitterInsertResult.Late;
        }

        var slot = (int)(extended % Capacity);
        if (_sequences[slot] == extended)
        {
            if (!skipped)
            {
                Interlocked.Increment(ref Stats.DuplicateCount);
            }

            return JitterInsertResult.Duplicate;
        }

        // No room ahead: drop the oldest until this packet fits in the ring.
        while (extended - _next >= Capacity)
        {
            DiscardNext(countAsOverflow: true);
        }

        _sequences[slot] = extended;
        _skipped[slot] = skipped;
        _lengths[slot] = payload.Length;
        payload.CopyTo(_payloads[slot]);
        _buffered++;

        var reordered = extended < _highest;
        if (extended > _highest)
        {
            _highest = extended;
        }

        if (reordered && !skipped)
        {
            Interlocked.Increment(ref Stats.ReorderedCount);
        }

        // Sender clock faster than ours: keep the delay bounded.
        while (_playing && _buffered > MaxDepth)
        {
            DiscardNext(countAsOverflow: true);
        }

        return restarted ? JitterInsertResult.Restarted : reordered ? JitterInsertResult.Reordered : JitterInsertResult.Accepted;
    }

    /// <summary>
    /// Produces the next playout slot: copies a payload into <paramref name="destination"/> (returns
    /// <see cref="JitterPlayout.Packet"/> and its length), reports a loss to conceal, or says there is nothing.
    /// </summary>
    public JitterPlayout Playout(Span<byte> destination, out int length)
    {
        length = 0;
        if (!_playing)
        {
            if (_buffered < TargetDepth)
            {
                return JitterPlayout.Empty;
            }

            _playing = true;
            _played = true;
            SkipToOldestBuffered();
        }

        while (true)
        {
            if (_buffered == 0)
            {
                // Dry: the sender paused (silence suppression, hold, end of call) or the network stalled. Re-buffer.
                _playing = false;
                Interlocked.Increment(ref Stats.UnderrunCount);
                return JitterPlayout.Empty;
            }

            var slot = (int)(_next % Capacity);
            if (_sequences[slot] == _next)
            {
                var skipped = _skipped[slot];
                _sequences[slot] = -1;
                _buffered--;
                _next++;
                if (skipped)
                {
                    continue;
                }

                length = _lengths[slot];
                _payloads[slot].AsSpan(0, length).CopyTo(destination);
                return JitterPlayout.Packet;
            }

            // Missing while later packets wait: it is lost (or so late it would be useless).
            _next++;
            Interlocked.Increment(ref Stats.LostCount);
            return JitterPlayout.Lost;
        }
    }

    private void DiscardNext(bool countAsOverflow)
    {
        var slot = (int)(_next % Capacity);
        if (_sequences[slot] == _next)
        {
            _sequences[slot] = -1;
            _buffered--;
            if (countAsOverflow && !_skipped[slot])
            {
                Interlocked.Increment(ref Stats.OverflowCount);
            }
        }

        _next++;
    }

    private void SkipToOldestBuffered()
    {
        // Starting (or restarting after an underrun): play from the oldest packet actually here.
        var oldest = long.MaxValue;
        for (var i = 0; i < Capacity; i++)
        {
            if (_sequences[i] >= 0 && _sequences[i] < oldest)
            {
                oldest = _sequences[i];
            }
        }

        if (oldest != long.MaxValue)
        {
            _next = oldest;
        }
    }
}
