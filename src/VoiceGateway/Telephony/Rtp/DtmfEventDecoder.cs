namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>
/// Turns RFC 4733 telephone-event packets into digits. One key press is many packets with the same RTP timestamp
/// (growing duration, then the end bit sent three times), so a digit is reported once, on the first packet seen
/// with a new timestamp: that is the lowest latency, and it still works when the start or the end packets are lost.
/// </summary>
public sealed class DtmfEventDecoder
{
    private uint _lastTimestamp;
    private bool _any;

    /// <summary>
    /// Returns the digit that starts with this packet, or null (continuation, retransmitted end, not DTMF, malformed).
    /// Volume and duration are not needed to recognise a key press.
    /// </summary>
    public char? Process(ReadOnlySpan<byte> payload, uint timestamp)
    {
        if (payload.Length < 4)
        {
            return null;
        }

        if (_any && timestamp == _lastTimestamp)
        {
            return null;
        }

        var digit = ToDigit(payload[0]);
        if (digit is null)
        {
            return null;
        }

        _any = true;
        _lastTimestamp = timestamp;
        return digit;
    }

    /// <summary>RFC 4733 §3.2 event codes 0–15: 0–9, *, #, A–D (16 = flash is not a digit).</summary>
    public static char? ToDigit(byte eventCode) => eventCode switch
    {
        <= 9 => (char)('0' + eventCode),
        10 => '*',
        11 => '#',
        >= 12 and <= 15 => (char)('A' + (eventCode - 12)),
        _ => null,
    };

    /// <summary>The event code of a digit (for tests and for sending), or -1.</summary>
    public static int ToEventCode(char digit) => digit switch
    {
        >= '0' and <= '9' => digit - '0',
        '*' => 10,
        '#' => 11,
        >= 'A' and <= 'D' => 12 + (digit - 'A'),
        >= 'a' and <= 'd' => 12 + (digit - 'a'),
        _ => -1,
    };
}
