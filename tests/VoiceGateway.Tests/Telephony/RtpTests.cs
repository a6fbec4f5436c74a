using System.Buffers.Binary;
using VoiceAgent.Gateway.Telephony.Rtp;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>RTP header parsing and writing, the jitter buffer, loss concealment and RFC 4733 DTMF.</summary>
public sealed class RtpTests
{
    [Fact]
    public void A_packet_round_trips_through_the_packetizer_and_the_parser()
    {
        var packetizer = new RtpPacketizer(0, ssrc: 0x11223344);
        var firstSeq = packetizer.NextSequenceNumber;
        var firstTs = packetizer.NextTimestamp;
        var buffer = new byte[200];
        var payload = Enumerable.Range(0, 160).Select(i => (byte)i).ToArray();

        var length = packetizer.Write(payload, 160, buffer);
        Assert.Equal(RtpPacketKind.Rtp, RtpPacket.TryParse(buffer.AsSpan(0, length), out var first));
        Assert.True(first.Marker);
        Assert.Equal(0, first.PayloadType);
        Assert.Equal(firstSeq, first.SequenceNumber);
        Assert.Equal(firstTs, first.Timestamp);
        Assert.Equal(0x11223344u, first.Ssrc);
        Assert.True(first.Payload.SequenceEqual(payload));

        length = packetizer.Write(payload, 160, buffer);
        RtpPacket.TryParse(buffer.AsSpan(0, length), out var second);
        Assert.False(second.Marker);
        Assert.Equal((ushort)(firstSeq + 1), second.SequenceNumber);
        Assert.Equal(firstTs + 160, second.Timestamp);
    }

    [Fact]
    public void Csrcs_header_extension_and_padding_are_skipped()
    {
        // V=2 P=1 X=1 CC=1, PT 8; one CSRC; an extension of one word; 4 payload bytes; 3 bytes of padding.
        byte[] data =
        [
            0xB1, 0x08, 0x00, 0x05, 0, 0, 0, 160, 0, 0, 0, 1,
            0xCA, 0xFE, 0xBA, 0xBE,
            0xBE, 0xDE, 0x00, 0x01, 1, 2, 3, 4,
            9, 8, 7, 6,
            0, 0, 3,
        ];
        Assert.Equal(RtpPacketKind.Rtp, RtpPacket.TryParse(data, out var packet));
        Assert.Equal(8, packet.PayloadType);
        Assert.Equal(5, packet.SequenceNumber);
        Assert.Equal([9, 8, 7, 6], packet.Payload.ToArray());
    }

    [Theory]
    [InlineData(new byte[] { 0x80, 0x00, 0x00 })]                                          // too short
    [InlineData(new byte[] { 0x40, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9 })]                // version 1
    [InlineData(new byte[] { 0x8F, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9 })]                // 15 CSRCs announced, none there
    [InlineData(new byte[] { 0xA0, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9, 200 })]           // padding longer than the packet
    [InlineData(new byte[] { 0x90, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9 })]       // extension beyond the end
    public void Invalid_packets_are_reported_as_invalid(byte[] data) =>
        Assert.Equal(RtpPacketKind.Invalid, RtpPacket.TryParse(data, out _));

    [Fact]
    public void Rtcp_on_the_rtp_port_is_recognised()
    {
        byte[] senderReport = [0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        Assert.Equal(RtpPacketKind.Rtcp, RtpPacket.TryParse(senderReport, out _));
    }

    [Fact]
    public void The_jitter_buffer_waits_for_its_depth_then_plays_in_sequence_order_despite_reordering()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 3);
        var out1 = new byte[480];

        Assert.Equal(JitterInsertResult.Accepted, buffer.Insert(100, [100]));
        Assert.Equal(JitterPlayout.Empty, buffer.Playout(out1, out _)); // below target depth
        Assert.Equal(JitterInsertResult.Accepted, buffer.Insert(102, [102]));
        Assert.Equal(JitterInsertResult.Reordered, buffer.Insert(101, [101]));
        Assert.Equal(JitterInsertResult.Accepted, buffer.Insert(104, [104]));
        Assert.Equal(JitterInsertResult.Reordered, buffer.Insert(103, [103]));

        var played = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out var length));
            Assert.Equal(1, length);
            played.Add(out1[0]);
        }

        Assert.Equal([100, 101, 102, 103, 104], played);
        Assert.Equal(2, buffer.Stats.Reordered);
        Assert.Equal(0, buffer.Stats.Lost);
    }

    [Fact]
    public void A_packet_reordered_before_playout_began_becomes_the_first_one()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        buffer.Insert(11, [11]);
        buffer.Insert(10, [10]);
        var out1 = new byte[8];
        buffer.Playout(out1, out _);
        Assert.Equal(10, out1[0]);
    }

    [Fact]
    public void A_missing_packet_is_reported_lost_once_its_successor_is_here_and_arriving_late_it_is_dropped()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        var out1 = new byte[8];
        buffer.Insert(1, [1]);
        buffer.Insert(3, [3]);

        Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out _));
        Assert.Equal(JitterPlayout.Lost, buffer.Playout(out1, out _));  // 2 never came
        Assert.Equal(JitterInsertResult.Late, buffer.Insert(2, [2]));   // its slot has passed
        Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out _));
        Assert.Equal(3, out1[0]);
        Assert.Equal(1, buffer.Stats.Lost);
        Assert.Equal(1, buffer.Stats.Late);
    }

    [Fact]
    public void Duplicates_are_dropped_and_an_empty_buffer_rebuffers_without_counting_a_loss()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        var out1 = new byte[8];
        buffer.Insert(7, [7]);
        Assert.Equal(JitterInsertResult.Duplicate, buffer.Insert(7, [7]));
        buffer.Insert(8, [8]);
        buffer.Playout(out1, out _);
        buffer.Playout(out1, out _);

        // The sender pauses: underrun, re-buffer, then continue without concealing the pause.
        Assert.Equal(JitterPlayout.Empty, buffer.Playout(out1, out _));
        Assert.False(buffer.IsPlaying);
        buffer.Insert(20, [20]);
        Assert.Equal(JitterPlayout.Empty, buffer.Playout(out1, out _));
        buffer.Insert(21, [21]);
        Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out _));
        Assert.Equal(20, out1[0]);
        Assert.Equal(1, buffer.Stats.Duplicates);
        Assert.Equal(0, buffer.Stats.Lost);
        Assert.Equal(1, buffer.Stats.Underruns);
    }

    [Fact]
    public void Sequence_numbers_wrap_around_65535()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        var out1 = new byte[8];
        buffer.Insert(65534, [1]);
        buffer.Insert(0, [3]);
        buffer.Insert(65535, [2]);
        buffer.Insert(1, [4]);
        var played = new List<int>();
        while (buffer.Playout(out1, out _) == JitterPlayout.Packet)
        {
            played.Add(out1[0]);
        }

        Assert.Equal([1, 2, 3, 4], played);
    }

    [Fact]
    public void Skipped_event_packets_are_not_concealed_as_losses()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        var out1 = new byte[8];
        buffer.Insert(1, [1]);
        buffer.MarkSkipped(2); // a DTMF event packet used number 2
        buffer.Insert(3, [3]);
        Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out _));
        Assert.Equal(JitterPlayout.Packet, buffer.Playout(out1, out _));
        Assert.Equal(3, out1[0]);
        Assert.Equal(0, buffer.Stats.Lost);
    }

    [Fact]
    public void A_huge_jump_restarts_the_buffer_and_a_backlog_beyond_the_maximum_is_trimmed()
    {
        var buffer = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        var out1 = new byte[8];
        buffer.Insert(10, [10]);
        Assert.Equal(JitterInsertResult.Restarted, buffer.Insert(30000, [99]));
        Assert.Equal(1, buffer.Buffered);

        var trimmed = new RtpJitterBuffer(capacity: 16, targetDepth: 2);
        trimmed.Insert(0, [0]);
        trimmed.Insert(1, [1]);
        trimmed.Playout(out1, out _);
        for (ushort seq = 2; seq < 30; seq++)
        {
            trimmed.Insert(seq, [(byte)seq]);
        }

        Assert.True(trimmed.Buffered <= trimmed.MaxDepth);
        Assert.True(trimmed.Stats.Overflow > 0);
        trimmed.Playout(out1, out _);
        Assert.True(out1[0] > 2, "the oldest packets were discarded, not the newest");
    }

    [Fact]
    public void Loss_concealment_repeats_the_last_frame_fading_to_silence()
    {
        var plc = new PacketLossConcealer();
        var frame = Enumerable.Repeat((short)10000, 160).ToArray();
        plc.Good(frame);
        var out1 = new short[160];
        var levels = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            plc.Conceal(out1);
            levels.Add(out1[0]);
        }

        Assert.Equal([7000, 4000, 1500, 0, 0], levels);
        plc.Good(frame);
        plc.Conceal(out1);
        Assert.Equal(7000, out1[0]);
    }

    [Fact]
    public void Rfc4733_events_become_one_digit_per_key_press()
    {
        var decoder = new DtmfEventDecoder();
        var digits = new List<char>();
        void Feed(byte code, bool end, ushort duration, uint timestamp)
        {
            var payload = new byte[4];
            payload[0] = code;
            payload[1] = (byte)((end ? 0x80 : 0) | 10);
            BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(2), duration);
            if (decoder.Process(payload, timestamp) is { } digit)
            {
                digits.Add(digit);
            }
        }

        // '5': three updates and the end packet sent three times, all with the event's timestamp.
        Feed(5, false, 400, 1000);
        Feed(5, false, 800, 1000);
        Feed(5, false, 1200, 1000);
        Feed(5, true, 1600, 1000);
        Feed(5, true, 1600, 1000);
        Feed(5, true, 1600, 1000);
        // '#' whose start packets were lost: the end packets alone still count.
        Feed(11, true, 1600, 5000);
        Feed(11, true, 1600, 5000);
        // '*', 'A', and flash (16), which is not a digit.
        Feed(10, false, 160, 9000);
        Feed(12, false, 160, 12000);
        Feed(16, false, 160, 15000);

        Assert.Equal("5#*A", new string([.. digits]));
        Assert.Null(decoder.Process([1, 2], 20000)); // too short
    }
}
