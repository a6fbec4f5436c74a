using System.Buffers.Binary;
using System.Globalization;
using VoiceAgent.Gateway.Tests.Telephony.Harness;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// Calls placed by sipp (a real SIP peer) against the gateway process: the message flow, reply RTP seen through the
/// relay (header fields, pacing, speech energy), hold/resume, DTMF, barge-in and 20 concurrent calls. The tests
/// do not depend on which reply the demo pack picks, only on the call flow and that a spoken reply comes back.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class SippCallTests(TelephonyFixture fixture, ITestOutputHelper output)
{
    private const double SpeechDbfs = -40; // a packet louder than this carries speech (G.711 silence is about -70 dBFS and below)

    private static readonly string[] CallFlow = ["INVITE", "100", "180", "200", "ACK", "BYE", "200"];

    [Fact]
    public void A_call_with_a_spoken_question_is_answered_100_180_200_and_reply_rtp_carries_speech()
    {
        fixture.Relay.Clear();
        var endedBefore = fixture.Gateway.EndedCalls("sip").Count;

        var result = Sipp.Run("call_question.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1", "-d", "9000");

        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var call = Assert.Single(result.Calls()).Value;
        Assert.Equal(CallFlow, call.Select(m => m.Label));
        Assert.Equal([true, false, false, false, true, true, false], call.Select(m => m.Sent));
        var setupMs = (call[3].At - call[0].At).TotalMilliseconds;
        output.WriteLine($"INVITE -> 100: {(call[1].At - call[0].At).TotalMilliseconds:F2} ms, -> 180: {(call[2].At - call[0].At).TotalMilliseconds:F2} ms, -> 200: {setupMs:F2} ms");

        // What the caller received, as the relay saw it on its way.
        var reply = fixture.Relay.Packets.Where(p => p.FromServer).ToList();
        var stream = AnalyseStream(reply);
        output.WriteLine(stream.ToString());
        var caller = fixture.Relay.Packets.Where(p => !p.FromServer).ToList();
        output.WriteLine($"caller RTP: {caller.Count} packets, largest gap {caller.Zip(caller.Skip(1)).Max(p => p.Second.AtMs - p.First.AtMs):F0} ms");
        var firstReplySpeech = reply.First(p => p.LevelDbfs >= SpeechDbfs).AtMs;
        var lastWord = caller.Last(p => p.LevelDbfs >= SpeechDbfs && p.AtMs < firstReplySpeech).AtMs;
        output.WriteLine($"caller's last word -> first reply speech on the wire: {firstReplySpeech - lastWord:F0} ms (includes the VAD's end-of-turn silence and the 60 ms jitter buffer)");
        Assert.True(reply.Count >= 300, $"only {reply.Count} reply packets in a 9 s call");
        Assert.Equal(1, stream.Ssrcs);
        Assert.All(reply, p => Assert.Equal(0, p.PayloadType));
        Assert.All(reply, p => Assert.Equal(160, p.PayloadBytes));
        Assert.Equal(0, stream.SequenceGaps);
        Assert.Equal(0, stream.TimestampErrors);
        // Only the stream's first packet may carry the marker. (The relay may not see that one: until the caller's
        // first packet arrives, the gateway sends to the SDP address, and then latches onto the relay.)
        Assert.All(reply.Skip(1), p => Assert.False(p.Marker));
        Assert.InRange(stream.MeanIntervalMs, 15, 30); // 20 ms pacing (loose: the box is shared with training and other suites)
        Assert.True(stream.SpeechPackets >= 25, $"only {stream.SpeechPackets} reply packets carry speech (> {SpeechDbfs} dBFS)");

        // The caller's audio arrived whole and the gateway's own account matches.
        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        output.WriteLine(record.ToString());
        Assert.Equal("PCMU", record.GetProperty("codec").GetString());
        Assert.Equal("caller hung up", record.GetProperty("end_reason").GetString());
        Assert.True(record.GetProperty("turns").GetInt64() >= 1);
        Assert.True(record.GetProperty("reply_speech_frames").GetInt64() >= 25);
        var jitter = record.GetProperty("jitter");
        Assert.Equal(new FileInfo(fixture.Audio.Question).Length / 160, jitter.GetProperty("received").GetInt64());
        Assert.Equal(0, jitter.GetProperty("lost").GetInt64());
        Assert.Equal(0, jitter.GetProperty("overflow").GetInt64());
    }

    [Fact]
    public void Loss_and_reordering_on_the_way_in_are_absorbed_by_the_jitter_buffer()
    {
        fixture.Relay.Clear();
        var endedBefore = fixture.Gateway.EndedCalls("sip").Count;
        fixture.Relay.Impair(dropEvery: 25, swapEvery: 10);
        SippResult result;
        try
        {
            result = Sipp.Run("call_question.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1", "-d", "9000");
        }
        finally
        {
            fixture.Relay.StopImpairing();
        }

        Assert.True(result.ExitCode == 0, result.ToString());
        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        var jitter = record.GetProperty("jitter");
        output.WriteLine($"relay dropped {fixture.Relay.Dropped} and swapped {fixture.Relay.Swapped} caller packets; gateway: {jitter}");
        Assert.True(fixture.Relay.Dropped >= 5 && fixture.Relay.Swapped >= 10);
        Assert.Equal(fixture.Relay.Dropped, jitter.GetProperty("lost").GetInt64());       // each loss concealed once
        Assert.Equal(fixture.Relay.Swapped, jitter.GetProperty("reordered").GetInt64());  // each swap put back in order
        Assert.Equal(0, jitter.GetProperty("late").GetInt64());                           // 20 ms late fits the 60 ms buffer
        Assert.True(record.GetProperty("turns").GetInt64() >= 1, "the question was not heard through the impairment");
        Assert.True(AnalyseStream([.. fixture.Relay.Packets.Where(p => p.FromServer)]).SpeechPackets >= 25, "no spoken reply");
    }

    [Fact]
    public void Options_keepalive_is_answered_200_with_allow()
    {
        var result = Sipp.Run("options.xml", fixture.Gateway.Sip, fixture.Work, "-m", "3", "-r", "10");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(3, result.Calls().Count);
        Assert.All(result.Calls().Values, call => Assert.Equal(["OPTIONS", "200"], call.Select(m => m.Label)));
    }

    [Fact]
    public void Hold_and_resume_by_re_invite_are_answered_and_the_agent_is_silent_while_held()
    {
        fixture.Relay.Clear();
        var result = Sipp.Run("call_hold.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1");

        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var call = Assert.Single(result.Calls()).Value;
        Assert.Equal(["INVITE", "100", "180", "200", "ACK", "INVITE", "100", "200", "ACK", "INVITE", "100", "200", "ACK", "BYE", "200"], call.Select(m => m.Label));
        Assert.Contains("a=recvonly", call[7].Text, StringComparison.Ordinal);   // answer to a=sendonly
        Assert.Contains("a=sendrecv", call[11].Text, StringComparison.Ordinal);  // answer to the resume
        Assert.NotEqual(Origin(call[3].Text), Origin(call[7].Text));             // a changed answer gets a new o= version

        // While held the agent sends nothing; the first packet after the resume starts a new talkspurt.
        var reply = fixture.Relay.Packets.Where(p => p.FromServer).ToList();
        var gaps = reply.Zip(reply.Skip(1)).Select(pair => (Gap: pair.Second.AtMs - pair.First.AtMs, After: pair.Second)).ToList();
        var hold = gaps.MaxBy(g => g.Gap);
        output.WriteLine($"longest gap in reply RTP: {hold.Gap:F0} ms");
        Assert.InRange(hold.Gap, 2000, 4500);
        Assert.True(hold.After.Marker);
        Assert.Equal(1, AnalyseStream(reply).Ssrcs);
        Assert.Equal(0, AnalyseStream(reply).SequenceGaps);

        static string Origin(string message) => message.Split('\n').First(l => l.StartsWith("o=", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Dtmf_by_sip_info_and_by_rfc4733_rtp_events_reach_the_engine_session()
    {
        fixture.Relay.Clear();
        var endedBefore = fixture.Gateway.EndedCalls("sip").Count;
        var sipp = Task.Run(() => Sipp.Run("call_dtmf.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1"));

        // Once the caller's question (sipp rtp_stream) has ended, press 7 and # as a phone does: RFC 4733 events on the
        // same SSRC, continuing its sequence numbers, each digit's packets sharing one timestamp, the end sent 3 times.
        var last = WaitForCallerStream(new FileInfo(fixture.Audio.Question).Length / 160);
        var sequence = (ushort)(last.Sequence + 1);
        var timestamp = last.Timestamp + 160;
        foreach (var digit in "7#")
        {
            var code = (byte)(digit == '#' ? 11 : digit - '0');
            for (var i = 1; i <= 6; i++)
            {
                var end = i >= 4;
                fixture.Relay.Inject(last.Port, Rfc4733(sequence++, timestamp, last.Ssrc, code, end, (ushort)(Math.Min(i, 4) * 400), marker: i == 1));
                Thread.Sleep(20);
            }

            timestamp += 8000;
        }

        // Garbage on the call's RTP port (too short, wrong version, bad CSRC count, unknown payload type) and an RTCP
        // report: counted, ignored, and the call goes on.
        byte[][] garbage =
        [
            [0x80, 0x00],
            [0x40, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9],
            [0x8F, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 9],
            Rfc4733(sequence++, timestamp, last.Ssrc, 1, false, 160, marker: false).Select((b, i) => i == 1 ? (byte)96 : b).ToArray(),
        ];
        foreach (var datagram in garbage)
        {
            fixture.Relay.Inject(last.Port, datagram);
        }

        fixture.Relay.Inject(last.Port, [0x80, 200, 0, 6, .. new byte[24]]);

        var result = await sipp;
        Assert.True(result.ExitCode == 0, result.ToString());
        var call = Assert.Single(result.Calls()).Value;
        Assert.Equal(["INVITE", "100", "180", "200", "ACK", "INFO", "200", "INFO", "200", "BYE", "200"], call.Select(m => m.Label));

        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        output.WriteLine(record.ToString());
        // The digits went into the engine session and came back out as its Dtmf events, in order.
        Assert.Equal("427#", record.GetProperty("dtmf").GetString());
        var jitter = record.GetProperty("jitter");
        Assert.Equal(0, jitter.GetProperty("lost").GetInt64()); // event packets are not losses
        Assert.Equal(0, jitter.GetProperty("late").GetInt64());
        Assert.Equal(0, jitter.GetProperty("duplicates").GetInt64());
        Assert.Equal(garbage.Length, record.GetProperty("invalid_packets").GetInt64());
    }

    [Fact]
    public void Speaking_over_the_reply_barges_in_and_the_reply_audio_stops()
    {
        fixture.Relay.Clear();
        var endedBefore = fixture.Gateway.EndedCalls("sip").Count;

        var result = Sipp.Run("call_question.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1", "-d", "12000", "-key", "audio", "bargein.ulaw,1,0");

        Assert.True(result.ExitCode == 0, result.ToString());
        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        output.WriteLine(record.ToString());
        Assert.True(record.GetProperty("barge_ins").GetInt64() >= 1, "the second question did not interrupt the reply");

        // On the wire: when the caller starts the second question while the agent speaks, the agent's speech stops
        // within about a second (VAD onset + jitter buffer + the reply frames already sent).
        var packets = fixture.Relay.Packets;
        var caller = packets.Where(p => !p.FromServer).ToList();
        var secondQuestion = caller.SkipWhile(p => p.LevelDbfs < SpeechDbfs)   // first question
            .SkipWhile(p => p.LevelDbfs >= SpeechDbfs || Quiet(caller, p) < 800) // its end and the pause after it
            .First(p => p.LevelDbfs >= SpeechDbfs).AtMs;
        var reply = packets.Where(p => p.FromServer).ToList();
        var speakingAtBargeIn = reply.Any(p => p.LevelDbfs >= SpeechDbfs && p.AtMs > secondQuestion - 400 && p.AtMs <= secondQuestion);
        var speechAfter = reply.Where(p => p.LevelDbfs >= SpeechDbfs && p.AtMs > secondQuestion + 1000 && p.AtMs < secondQuestion + 1400).Count();
        output.WriteLine($"second question at {secondQuestion:F0} ms; agent speaking then: {speakingAtBargeIn}; reply speech packets 1.0-1.4 s later: {speechAfter}");
        if (speakingAtBargeIn)
        {
            Assert.Equal(0, speechAfter);
        }
    }

    [Fact]
    public void Twenty_concurrent_calls_are_all_answered_with_the_full_call_flow()
    {
        fixture.Relay.Clear();
        var dropsBefore = fixture.Relay.KernelDrops();

        var result = Sipp.Run("call_question.xml", fixture.Gateway.Sip, fixture.Work, "-m", "20", "-l", "20", "-r", "20", "-rp", "1000", "-d", "12000");

        Assert.True(result.ExitCode == 0, result.ToString());
        var calls = result.Calls();
        Assert.Equal(20, calls.Count);
        Assert.All(calls.Values, call => Assert.Equal(CallFlow, call.Select(m => m.Label)));
        var setup = calls.Values.Select(c => (c[3].At - c[0].At).TotalMilliseconds).Order().ToList();
        var overlap = calls.Values.Max(c => c[0].At) < calls.Values.Min(c => c[5].At);
        Assert.True(overlap, "the 20 calls were not all up at the same time");

        var byStream = fixture.Relay.Packets.Where(p => p.FromServer).GroupBy(p => p.Ssrc).ToList();
        var streams = byStream.Select(g => AnalyseStream([.. g])).ToList();
        Assert.Equal(20, streams.Count);
        // A gap is the gateway's unless the relay's own socket lost packets on that port (the kernel counts them).
        var dropsAfter = fixture.Relay.KernelDrops();
        var relayDrops = byStream.Select(g => g.First().Port).Select(port => dropsAfter.GetValueOrDefault(port) - dropsBefore.GetValueOrDefault(port)).ToList();
        output.WriteLine($"sequence gaps per stream: {string.Join(' ', streams.Select(s => s.SequenceGaps))}; relay socket drops per port: {string.Join(' ', relayDrops)} ({dropsAfter.Count} relay ports read from /proc/net/udp)");
        Assert.All(streams.Zip(relayDrops), pair => Assert.True(
            pair.First.SequenceGaps <= pair.Second,
            $"{pair.First.SequenceGaps} sequence gaps in a reply stream whose relay socket dropped {pair.Second} datagrams"));
        // A reply clock starved by inference shows here first (before the thread-pool headroom: 33–34 ms, ~355 packets).
        Assert.All(streams, s => Assert.True(s.Packets >= 400, $"a stream had only {s.Packets} packets ({s.MeanIntervalMs:F2} ms mean interval)"));
        var spoken = streams.Count(s => s.SpeechPackets >= 25);
        output.WriteLine($"setup ms: min {setup[0]:F2}, median {setup[10]:F2}, max {setup[^1]:F2}; streams with a spoken reply: {spoken}/20; " +
            $"speech packets per stream: {string.Join(' ', streams.Select(s => s.SpeechPackets))}; " +
            $"mean RTP interval per stream {streams.Min(s => s.MeanIntervalMs):F2}–{streams.Max(s => s.MeanIntervalMs):F2} ms");
        Assert.True(spoken >= 1, "no call got a spoken reply");
    }

    /// <summary>Waits until the caller's stream (sipp rtp_stream) has sent all <paramref name="packets"/>; returns the last one.</summary>
    private RelayedPacket WaitForCallerStream(long packets)
    {
        var deadline = fixture.Relay.NowMs + 30_000;
        while (fixture.Relay.NowMs < deadline)
        {
            var caller = fixture.Relay.Packets.Where(p => !p.FromServer).ToList();
            if (caller.Count >= packets)
            {
                return caller[^1];
            }

            Thread.Sleep(50);
        }

        throw new TimeoutException($"The caller's RTP stream did not send its {packets} packets.");
    }

    /// <summary>Milliseconds of caller silence ending at <paramref name="packet"/>.</summary>
    private static double Quiet(List<RelayedPacket> caller, RelayedPacket packet)
    {
        var lastLoud = caller.LastOrDefault(p => p.AtMs < packet.AtMs && p.LevelDbfs >= SpeechDbfs);
        return lastLoud is null ? double.MaxValue : packet.AtMs - lastLoud.AtMs;
    }

    private static byte[] Rfc4733(ushort sequence, uint timestamp, uint ssrc, byte code, bool end, ushort duration, bool marker)
    {
        var packet = new byte[16];
        packet[0] = 0x80;
        packet[1] = (byte)((marker ? 0x80 : 0) | 101);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), sequence);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(4), timestamp);
        BinaryPrimitives.WriteUInt32BigEndian(packet.AsSpan(8), ssrc);
        packet[12] = code;
        packet[13] = (byte)((end ? 0x80 : 0) | 10);
        BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(14), duration);
        return packet;
    }

    internal static StreamReport AnalyseStream(IReadOnlyList<RelayedPacket> packets)
    {
        var gaps = 0;
        var timestampErrors = 0;
        for (var i = 1; i < packets.Count; i++)
        {
            if ((ushort)(packets[i - 1].Sequence + 1) != packets[i].Sequence)
            {
                gaps++;
            }

            if (packets[i].Timestamp - packets[i - 1].Timestamp != 160)
            {
                timestampErrors++;
            }
        }

        var speech = packets.Where(p => p.LevelDbfs >= SpeechDbfs).ToList();
        return new StreamReport(
            packets.Count,
            packets.Select(p => p.Ssrc).Distinct().Count(),
            gaps,
            timestampErrors,
            packets.Count > 1 ? (packets[^1].AtMs - packets[0].AtMs) / (packets.Count - 1) : 0,
            speech.Count,
            speech.Count > 0 ? 20 * Math.Log10(speech.Average(p => Math.Pow(10, p.LevelDbfs / 20))) : double.NegativeInfinity,
            speech.Count > 0 ? speech.Max(p => p.LevelDbfs) : double.NegativeInfinity);
    }

    internal sealed record StreamReport(int Packets, int Ssrcs, int SequenceGaps, int TimestampErrors, double MeanIntervalMs, int SpeechPackets, double MeanSpeechDbfs, double PeakDbfs)
    {
        public override string ToString() => string.Create(CultureInfo.InvariantCulture,
            $"reply RTP: {Packets} packets, {Ssrcs} SSRC, {SequenceGaps} sequence gaps, {TimestampErrors} timestamp errors, {MeanIntervalMs:F2} ms mean interval, {SpeechPackets} speech packets ({SpeechPackets * 20} ms) at {MeanSpeechDbfs:F1} dBFS mean RMS, {PeakDbfs:F1} dBFS peak");
    }
}
