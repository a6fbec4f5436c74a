using System.Buffers.Binary;

namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>What a datagram on an RTP port turned out to be.</summary>
public enum RtpPacketKind
{
    Rtp,

    /// <summary>RTCP multiplexed on the RTP port (RFC 5761: packet types 200–204); ignored.</summary>
    Rtcp,

    /// <summary>Too short, wrong version, bad padding/extension/CSRC lengths.</summary>
    Invalid,
}

/// <summary>
/// A view over one received RTP packet (RFC 3550 §5.1): the fixed header fields and the payload with CSRCs, header
/// extension and padding removed. A ref struct over the receive buffer, so parsing allocates nothing.
/// </summary>
public readonly ref struct RtpPacket
{
    public const int HeaderLength = 12;

    private RtpPacket(bool marker, byte payloadType, ushort sequenceNumber, uint timestamp, uint ssrc, ReadOnlySpan<byte> payload)
    {
        Marker = marker;
        PayloadType = payloadType;
        SequenceNumber = sequenceNumber;
        Timestamp = timestamp;
        Ssrc = ssrc;
        Payload = payload;
    }

    public bool Marker { get; }

    public byte PayloadType { get; }

    public ushort SequenceNumber { get; }

    public uint Timestamp { get; }

    public uint Ssrc { get; }

    public ReadOnlySpan<byte> Payload { get; }

    public static RtpPacketKind TryParse(ReadOnlySpan<byte> data, out RtpPacket packet)
    {
        packet = default;
        if (data.Length < HeaderLength || data[0] >> 6 != 2)
        {
            return RtpPacketKind.Invalid;
        }

        if (data[1] is >= 200 and <= 204)
        {
            return RtpPacketKind.Rtcp;
        }

        var padding = (data[0] & 0x20) != 0;
        var extension = (data[0] & 0x10) != 0;
        var csrcCount = data[0] & 0x0F;
        var offset = HeaderLength + (4 * csrcCount);
        if (offset > data.Length)
        {
            return RtpPacketKind.Invalid;
        }

        if (extension)
        {
            if (offset + 4 > data.Length)
            {
                return RtpPacketKind.Invalid;
            }

            var words = BinaryPrimitives.ReadUInt16BigEndian(data[(offset + 2)..]);
            offset += 4 + (4 * words);
            if (offset > data.Length)
            {
                return RtpPacketKind.Invalid;
            }
        }

        var end = data.Length;
        if (padding)
        {
            var pad = data[^1];
            if (pad == 0 || end - pad < offset)
            {
                return RtpPacketKind.Invalid;
            }

            end -= pad;
        }

        packet = new RtpPacket(
            (data[1] & 0x80) != 0,
            (byte)(data[1] & 0x7F),
            BinaryPrimitives.ReadUInt16BigEndian(data[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            data[offset..end]);
        return RtpPacketKind.Rtp;
    }

    /// <summary>Writes a 12-byte header (version 2, no padding, extension or CSRCs).</summary>
    public static void WriteHeader(Span<byte> destination, bool marker, byte payloadType, ushort sequenceNumber, uint timestamp, uint ssrc)
    {
        destination[0] = 0x80;
        destination[1] = (byte)((marker ? 0x80 : 0) | (payloadType & 0x7F));
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], sequenceNumber);
        BinaryPrimitives.WriteUInt32BigEndian(destination[4..], timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(destination[8..], ssrc);
    }
}

/// <summary>
/// The sending side of one RTP stream: random SSRC, sequence number and timestamp origin (RFC 3550 §5.1), sequence
/// +1 per packet, timestamp + samples per packet, marker on the first packet of a talkspurt.
/// </summary>
public sealed class RtpPacketizer
{
    private ushort _sequence;
    private uint _timestamp;
    private bool _nextMarker = true;

    public RtpPacketizer(byte payloadType, uint? ssrc = null)
    {
        PayloadType = payloadType;
        Ssrc = ssrc ?? (uint)Random.Shared.NextInt64(1, uint.MaxValue);
        _sequence = (ushort)Random.Shared.Next(0, ushort.MaxValue + 1);
        _timestamp = (uint)Random.Shared.NextInt64(0, uint.MaxValue);
    }

    public byte PayloadType { get; set; }

    public uint Ssrc { get; }

    public ushort NextSequenceNumber => _sequence;

    public uint NextTimestamp => _timestamp;

    /// <summary>The next packet carries the marker bit (start of a talkspurt, e.g. after hold).</summary>
    public void MarkTalkspurt() => _nextMarker = true;

    /// <summary>Writes header + payload into <paramref name="destination"/> and returns the packet length.</summary>
    public int Write(ReadOnlySpan<byte> payload, int samples, Span<byte> destination)
    {
        RtpPacket.WriteHeader(destination, _nextMarker, PayloadType, _sequence, _timestamp, Ssrc);
        payload.CopyTo(destination[RtpPacket.HeaderLength..]);
        _nextMarker = false;
        _sequence++;
        _timestamp += (uint)samples;
        return RtpPacket.HeaderLength + payload.Length;
    }
}
