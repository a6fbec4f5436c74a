using System.Text;

namespace VoiceAgent.Gateway.Telephony.Calls;

/// <summary>
/// The observable state and counters of one telephony call (SIP or Twilio), served at <c>/v1/telephony/calls</c>.
/// Written by the call's own loops with Interlocked/locks, read by the endpoint from any thread.
/// </summary>
public sealed class CallRecord
{
    private readonly object _gate = new();
    private readonly StringBuilder _digits = new();
    private long _packetsIn;
    private long _packetsOut;
    private long _replyFrames;
    private long _replySpeechFrames;
    private double _replyEnergySum; // sum of per-frame RMS (linear) of speech frames
    private long _bargeIns;
    private long _turns;
    private long _invalidPackets;
    private long _ssrcChanges;

    public CallRecord(string id, string transport, string from, string to)
    {
        Id = id;
        Transport = transport;
        From = from;
        To = to;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public string Id { get; }

    public string Transport { get; }

    public string From { get; }

    public string To { get; }

    public DateTimeOffset StartedAt { get; }

    public DateTimeOffset? EndedAt { get; private set; }

    public string? EndReason { get; private set; }

    public string State { get; set; } = "ringing";

    public string? Codec { get; set; }

    public string? RemoteMedia { get; set; }

    public bool OnHold { get; set; }

    /// <summary>INVITE (or stream start) to answer (200 OK sent / session opened), in milliseconds.</summary>
    public double? SetupMs { get; set; }

    /// <summary>The jitter buffer of a SIP call (null for Twilio, whose transport is already ordered).</summary>
    public Rtp.JitterBufferStats? Jitter { get; set; }

    public long PacketsIn => Interlocked.Read(ref _packetsIn);

    public long PacketsOut => Interlocked.Read(ref _packetsOut);

    public long ReplyFrames => Interlocked.Read(ref _replyFrames);

    /// <summary>Reply frames louder than -50 dBFS (speech, not silence padding).</summary>
    public long ReplySpeechFrames => Interlocked.Read(ref _replySpeechFrames);

    public long BargeIns => Interlocked.Read(ref _bargeIns);

    public long Turns => Interlocked.Read(ref _turns);

    public long InvalidPackets => Interlocked.Read(ref _invalidPackets);

    public long SsrcChanges => Interlocked.Read(ref _ssrcChanges);

    public string Digits
    {
        get
        {
            lock (_gate)
            {
                return _digits.ToString();
            }
        }
    }

    /// <summary>Mean RMS level of the reply's speech frames in dBFS (null before any).</summary>
    public double? ReplyEnergyDbfs
    {
        get
        {
            lock (_gate)
            {
                return _replySpeechFrames == 0 ? null : 20 * Math.Log10(_replyEnergySum / _replySpeechFrames);
            }
        }
    }

    public void PacketIn() => Interlocked.Increment(ref _packetsIn);

    public void PacketOut() => Interlocked.Increment(ref _packetsOut);

    public void InvalidPacket() => Interlocked.Increment(ref _invalidPackets);

    public void SsrcChanged() => Interlocked.Increment(ref _ssrcChanges);

    public void BargeIn() => Interlocked.Increment(ref _bargeIns);

    public void TurnDone() => Interlocked.Increment(ref _turns);

    public void Digit(char digit)
    {
        lock (_gate)
        {
            if (_digits.Length < 256)
            {
                _digits.Append(digit);
            }
        }
    }

    /// <summary>Counts one reply frame sent to the caller and its level.</summary>
    public void ReplyFrame(ReadOnlySpan<float> samples)
    {
        Interlocked.Increment(ref _replyFrames);
        var rms = AudioLevel.Rms(samples);
        if (rms > AudioLevel.SpeechFloor)
        {
            lock (_gate)
            {
                _replySpeechFrames++;
                _replyEnergySum += rms;
            }
        }
    }

    public void End(string reason)
    {
        lock (_gate)
        {
            if (EndedAt is not null)
            {
                return;
            }

            EndedAt = DateTimeOffset.UtcNow;
            EndReason = reason;
            State = "ended";
        }
    }
}

/// <summary>Signal level helpers (RMS of float PCM in [-1, 1]).</summary>
public static class AudioLevel
{
    /// <summary>-50 dBFS: below it a frame is treated as silence.</summary>
    public static readonly double SpeechFloor = Math.Pow(10, -50 / 20.0);

    public static double Rms(ReadOnlySpan<float> samples)
    {
        if (samples.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        foreach (var s in samples)
        {
            sum += s * s;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    public static double Rms(ReadOnlySpan<short> samples)
    {
        if (samples.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        foreach (var s in samples)
        {
            var x = s / 32768.0;
            sum += x * x;
        }

        return Math.Sqrt(sum / samples.Length);
    }

    public static double ToDbfs(double rms) => rms <= 0 ? double.NegativeInfinity : 20 * Math.Log10(rms);
}
