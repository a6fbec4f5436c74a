using VoiceAgent.Gateway.Telephony.Sip;
using static VoiceAgent.Gateway.Tests.Telephony.SipTestMessages;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// The agent's blind transfer (RFC 3515 REFER, RFC 5589 §6) driven datagram by datagram: the REFER in the dialog, the
/// NOTIFYs that report progress, the BYE after success, and every way a transfer can fail without dropping the caller.
/// </summary>
public sealed partial class SipUserAgentTests
{
    private const string Target = "sip:agents@pbx.example.test";

    [Fact]
    public void A_transfer_sends_refer_in_the_dialog_and_leaves_with_bye_once_the_target_answered()
    {
        var tag = ConfirmedCall();
        _media.Infos[0].RequestTransfer!(Target);
        Assert.Empty(_transport.Sent); // posted to the core thread, not run on the media thread
        RunDispatched();

        var refer = Assert.Single(_transport.Requests);
        Assert.Equal("REFER", refer.Method);
        Assert.Equal(Pbx, _transport.Sent[0].Destination);
        Assert.Equal("sip:alice@192.0.2.10:5062", refer.RequestUri); // the caller's Contact
        Assert.Equal(tag, refer.From.Tag);
        Assert.Equal("1928301774", refer.To.Tag);
        Assert.Equal("<sip:proxy.example.com;lr>", refer.Headers.Get("Route"));
        Assert.Equal("1 REFER", refer.CSeq.ToString());
        Assert.Equal($"<{Target}>", refer.Headers.Get("Refer-To"));
        Assert.Equal("<sip:voiceagent@192.0.2.1:5060>", refer.Headers.Get("Referred-By"));
        Assert.Equal("<sip:voiceagent@192.0.2.1:5060>", refer.Headers.Get("Contact"));
        Assert.Equal(1, _agent.Counters.TransfersRequested);

        Receive(ResponseTo(refer, 202, "Accepted"));
        Receive(Notify(tag, 2, "SIP/2.0 100 Trying", "active;expires=60"));
        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        Assert.Single(_agent.Calls); // still trying: the caller stays

        _transport.Clear();
        Receive(Notify(tag, 3, "SIP/2.0 200 OK", "terminated;reason=noresource"));
        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        var bye = Assert.Single(_transport.Requests);
        Assert.Equal("BYE", bye.Method);
        Assert.Equal("2 BYE", bye.CSeq.ToString());
        Assert.Empty(_agent.Calls);
        Assert.Equal($"transferred to {Target}", _media.Created[0].StoppedWith);
        Assert.Equal(1, _agent.Counters.TransfersCompleted);
        Assert.Equal(0, _agent.Counters.TransfersFailed);
    }

    [Fact]
    public void A_refused_refer_keeps_the_caller_with_the_agent_and_a_later_transfer_can_be_tried()
    {
        var tag = ConfirmedCall();
        _agent.Transfer(CallKey(tag), Target, _now);
        var refer = Assert.Single(_transport.Requests);

        _transport.Clear();
        Receive(ResponseTo(refer, 403, "Forbidden"));
        Assert.Empty(_transport.Sent);
        Assert.Single(_agent.Calls);
        Assert.Null(_media.Created[0].StoppedWith);
        Assert.Equal(1, _agent.Counters.TransfersFailed);
        Assert.Equal(0, _agent.ClientTransactionCount);

        _agent.Transfer(CallKey(tag), Target, _now);
        Assert.Equal("2 REFER", Assert.Single(_transport.Requests).CSeq.ToString());
    }

    [Fact]
    public void An_unanswered_refer_is_resent_on_timer_e_and_given_up_after_64_t1_without_dropping_the_caller()
    {
        var tag = ConfirmedCall();
        _agent.Transfer(CallKey(tag), Target, _now);
        _agent.Transfer(CallKey(tag), Target, _now); // one at a time: the second request is ignored
        Assert.Single(_transport.Requests);

        _transport.Clear();
        Tick(500);
        Assert.Equal("REFER", Assert.Single(_transport.Requests).Method);
        Tick(32_000);
        Assert.Equal(1, _agent.Counters.TransfersFailed);
        Assert.Single(_agent.Calls);
        Assert.DoesNotContain(_transport.Requests, r => r.Method == "BYE");
    }

    [Fact]
    public void An_accepted_transfer_that_never_reports_its_outcome_is_given_up_and_the_call_goes_on()
    {
        var tag = ConfirmedCall();
        _agent.Transfer(CallKey(tag), Target, _now);
        Receive(ResponseTo(_transport.Requests[0], 202, "Accepted"));

        Tick(119_000);
        Assert.Equal(0, _agent.Counters.TransfersFailed);
        Tick(1_000); // TransferTimeoutMs = 120 s after the 202
        Assert.Equal(1, _agent.Counters.TransfersFailed);
        Assert.Single(_agent.Calls);

        // A late NOTIFY now matches no subscription.
        _transport.Clear();
        Receive(Notify(tag, 2, "SIP/2.0 200 OK", "terminated"));
        Assert.Equal(481, Assert.Single(_transport.Responses).StatusCode);
        Assert.Single(_agent.Calls);
    }

    [Fact]
    public void A_failed_transfer_reported_by_notify_keeps_the_caller()
    {
        var tag = ConfirmedCall();
        _agent.Transfer(CallKey(tag), Target, _now);
        Receive(ResponseTo(_transport.Requests[0], 202, "Accepted"));

        _transport.Clear();
        Receive(Notify(tag, 2, "SIP/2.0 486 Busy Here", "terminated;reason=noresource"));
        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        Assert.Empty(_transport.Requests);
        Assert.Single(_agent.Calls);
        Assert.Equal(1, _agent.Counters.TransfersFailed);
    }

    [Fact]
    public void Bad_notifies_get_481_489_415_or_400_and_change_nothing()
    {
        var tag = ConfirmedCall();
        Receive(Notify(tag, 2, "SIP/2.0 200 OK", "terminated"));                                  // no transfer in progress
        _agent.Transfer(CallKey(tag), Target, _now);
        Receive(ResponseTo(_transport.Requests.Single(r => r.Method == "REFER"), 202, "Accepted"));
        _transport.Clear();
        Receive(Notify(tag, 3, "SIP/2.0 200 OK", "active", package: "presence"));                 // not the refer package
        Receive(Notify(tag, 4, "SIP/2.0 200 OK", "active", contentType: "text/plain"));           // not a sipfrag
        Receive(Notify(tag, 5, "hello", "active"));                                                // no status line
        Receive(Notify("wrong-tag", 6, "SIP/2.0 200 OK", "active"));                               // no such dialog

        Assert.Equal([489, 415, 400, 481], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("message/sipfrag", _transport.Responses[1].Headers.Get("Accept"));
        Assert.Empty(_transport.Requests);
        Assert.Single(_agent.Calls);
        Assert.Equal(0, _agent.Counters.TransfersCompleted + _agent.Counters.TransfersFailed);
    }

    [Fact]
    public void A_bye_from_the_peer_after_the_202_ends_the_call_naming_the_transfer()
    {
        var tag = ConfirmedCall();
        _agent.Transfer(CallKey(tag), Target, _now);
        Receive(ResponseTo(_transport.Requests[0], 202, "Accepted"));

        Receive(InDialog("BYE", tag, 2, branch: "z9hG4bKbye1"));
        Assert.Empty(_agent.Calls);
        Assert.Equal($"the peer ended the call during the transfer to {Target}", _media.Created[0].StoppedWith);
    }

    [Theory]
    [InlineData("SIP/2.0 200 OK\r\n", 200)]
    [InlineData("  SIP/2.0 180 Ringing", 180)]
    [InlineData("SIP/2.0 603 Decline\r\nVia: x\r\n", 603)]
    [InlineData("SIP/2.0 20 OK", 0)]
    [InlineData("SIP/2.0 2000 OK", 0)]
    [InlineData("HTTP/1.1 200 OK", 0)]
    [InlineData("", 0)]
    public void Sipfrag_status_lines_are_read_strictly(string body, int expected)
    {
        var ok = SipUserAgent.TryParseSipfragStatus(Bytes(body), out var status);
        Assert.Equal(expected != 0, ok);
        Assert.Equal(expected, ok ? status : 0);
    }

    /// <summary>An answered and ACKed call; returns our To tag with the transport cleared.</summary>
    private string ConfirmedCall()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bKack1"));
        _transport.Clear();
        return tag;
    }

    private static string CallKey(string tag) => SipCall.KeyOf("a84b4c76e66710", tag);

    private void RunDispatched()
    {
        foreach (var action in _dispatched)
        {
            action();
        }

        _dispatched.Clear();
    }

    private static string Notify(string tag, int cseq, string sipfrag, string state, string package = "refer", string contentType = "message/sipfrag;version=2.0") =>
        InDialog("NOTIFY", tag, cseq, branch: $"z9hG4bKnotify{cseq}", body: sipfrag + "\r\n", contentType: contentType,
            extraHeaders: $"Event: {package}\r\nSubscription-State: {state}\r\n");
}
