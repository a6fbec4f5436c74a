using VoiceAgent.Gateway.Tests.Telephony.Harness;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// CANCEL needs a call that is still ringing, so this runs its own gateway configured to ring 3 s before answering
/// (<c>Telephony:Sip:RingMs</c>); no call is ever answered there, so it never runs the model.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class SippCancelTests(TelephonyFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public void Cancel_while_ringing_gets_200_then_487_and_the_ack_ends_the_transaction()
    {
        using var gateway = TelephonyGateway.Start(new Dictionary<string, string>
        {
            ["Telephony__Sip__RingMs"] = "3000",
            ["Telephony__Twilio__Enabled"] = "false",
        });

        var result = Sipp.Run("cancel.xml", gateway.Sip, fixture.Work, "-m", "3", "-r", "10");

        output.WriteLine(result.ToString());
        Assert.True(result.ExitCode == 0, result.ToString());
        var calls = result.Calls();
        Assert.Equal(3, calls.Count);
        Assert.All(calls.Values, call =>
        {
            Assert.Equal(["INVITE", "100", "180", "CANCEL", "200", "487", "ACK"], call.Select(m => m.Label));
            Assert.Equal("CANCEL", call[4].CSeqMethod);
            Assert.Equal("INVITE", call[5].CSeqMethod);
        });

        Assert.Equal(3, gateway.Counter("calls_cancelled"));
        Assert.Equal(0, gateway.Counter("calls_answered"));
        Assert.Empty(gateway.Get("/v1/telephony/calls").GetProperty("active").EnumerateArray());
        var retransmitted = gateway.Counter("retransmissions_sent");
        Assert.Equal(0, retransmitted); // every 487 was ACKed at once: timer G never fired
    }
}
