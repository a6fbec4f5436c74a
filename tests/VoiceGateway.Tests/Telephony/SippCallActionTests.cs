using System.Text.Json;
using VoiceAgent.Gateway.Tests.Telephony.Harness;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// Call actions on real SIP calls (sipp against the gateway process with the demo pack): a caller who asks for a person
/// hears the transfer reply and is then handed over with a REFER; a caller who says goodbye hears the goodbye and the
/// agent hangs up. Both actions wait until the reply has played.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class SippCallActionTests(TelephonyFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void A_caller_who_asks_for_an_agent_is_transferred_with_refer_after_the_reply_has_played()
    {
        fixture.Relay.Clear();
        var endedBefore = EndedCount();
        var stats = fixture.Gateway.Get("/v1/telephony/stats");

        var result = Sipp.Run("call_transfer.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1", "-key", "audio", "agent.ulaw,1,0");

        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var call = Assert.Single(result.Calls()).Value;
        Assert.Equal(["INVITE", "100", "180", "200", "ACK", "REFER", "202", "NOTIFY", "200", "NOTIFY", "200", "BYE", "200"], call.Select(m => m.Label));
        var refer = call[5];
        Assert.Contains($"Refer-To: <{TelephonyFixture.TransferTarget}>", refer.Text, StringComparison.Ordinal);
        Assert.Contains("CSeq: 1 REFER", refer.Text, StringComparison.Ordinal); // the agent's first request in the dialog
        Assert.Contains("CSeq: 2 BYE", call[11].Text, StringComparison.Ordinal);

        // The REFER waited for the reply: the caller's question (~1.5 s) plus the whole transfer reply (~3 s) after the ACK.
        var referAfterAckMs = (refer.At - call[4].At).TotalMilliseconds;
        output.WriteLine($"ACK -> REFER {referAfterAckMs:F0} ms, REFER -> BYE {(call[11].At - refer.At).TotalMilliseconds:F0} ms");
        Assert.True(referAfterAckMs > 4000, $"the REFER came {referAfterAckMs:F0} ms after the ACK, before the reply could have played");

        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        output.WriteLine(record.ToString());
        Assert.Equal($"transferred to {TelephonyFixture.TransferTarget}", record.GetProperty("end_reason").GetString());
        Assert.True(record.GetProperty("reply_speech_frames").GetInt64() >= 100, "the transfer reply (about 3 s) was not played before the REFER");
        var after = fixture.Gateway.Get("/v1/telephony/stats");
        Assert.Equal(Counter(stats, "transfers_requested") + 1, Counter(after, "transfers_requested"));
        Assert.Equal(Counter(stats, "transfers_completed") + 1, Counter(after, "transfers_completed"));
        Assert.Equal(Counter(stats, "transfers_failed"), Counter(after, "transfers_failed"));
    }

    [Fact]
    public void After_the_goodbye_has_played_the_agent_hangs_up_with_bye()
    {
        fixture.Relay.Clear();
        var endedBefore = EndedCount();

        var result = Sipp.Run("call_goodbye.xml", fixture.Gateway.Sip, fixture.Work, "-m", "1", "-key", "audio", "goodbye.ulaw,1,0");

        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var call = Assert.Single(result.Calls()).Value;
        Assert.Equal(["INVITE", "100", "180", "200", "ACK", "BYE", "200"], call.Select(m => m.Label));
        Assert.False(call[5].Sent); // the agent's BYE
        var record = fixture.Gateway.WaitForEndedSipCall(endedBefore);
        output.WriteLine(record.ToString());
        Assert.Equal("the agent ended the call after turn 1", record.GetProperty("end_reason").GetString());

        // The goodbye reply (about 3.4 s) went out whole before the BYE: its speech packets, then only silence.
        var reply = fixture.Relay.Packets.Where(p => p.FromServer).ToList();
        var speech = reply.Where(p => p.LevelDbfs >= -40).ToList();
        Assert.True(speech.Count >= 100, $"only {speech.Count} reply packets carry speech");
        var silentTailMs = reply[^1].AtMs - speech[^1].AtMs;
        output.WriteLine($"reply speech {speech.Count} packets; silence between its last packet and the last RTP packet: {silentTailMs:F0} ms");
        Assert.InRange(silentTailMs, 200, 3000); // AfterReplyMs (400) of silence, give or take the relay's view of the ends
    }

    private static long Counter(JsonElement stats, string name) => stats.GetProperty(name).GetInt64();

    private int EndedCount() => fixture.Gateway.EndedCalls("sip").Count;
}
