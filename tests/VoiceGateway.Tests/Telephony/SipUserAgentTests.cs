using System.Net;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using VoiceAgent.Gateway.Telephony.Sdp;
using VoiceAgent.Gateway.Telephony.Sip;
using static VoiceAgent.Gateway.Tests.Telephony.SipTestMessages;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// The UAS core driven datagram by datagram with a synthetic clock: call flows, the RFC 3261 retransmission timers
/// (T1 = 500 ms doubling to T2 = 4 s, 64·T1 = 32 s), dialogs, CANCEL, re-INVITE, errors.
/// </summary>
public sealed partial class SipUserAgentTests
{
    private static readonly IPEndPoint Pbx = new(IPAddress.Parse("192.0.2.10"), 5062);

    private readonly FakeTransport _transport = new();
    private readonly FakeMediaFactory _media = new();
    private readonly List<Action> _dispatched = [];
    private long _now = 1_000;
    private SipUserAgent _agent;

    public SipUserAgentTests() => _agent = Create(ringMs: 0);

    [Fact]
    public void An_invite_is_answered_100_180_200_with_an_sdp_answer_contact_and_record_route()
    {
        Receive(Invite());

        Assert.Equal([100, 180, 200], _transport.Responses.Select(r => r.StatusCode));
        Assert.All(_transport.Sent, s => Assert.Equal(Pbx, s.Destination)); // rport: back to the source port
        var ringing = _transport.Responses[1];
        var ok = _transport.Responses[2];
        Assert.NotNull(ok.To.Tag);
        Assert.Equal(ringing.To.Tag, ok.To.Tag);
        Assert.Null(_transport.Responses[0].To.Tag);
        Assert.Equal("<sip:voiceagent@192.0.2.1:5060>", ok.Headers.Get("Contact"));
        Assert.Equal("<sip:proxy.example.com;lr>", ok.Headers.Get("Record-Route"));
        Assert.Contains("received=192.0.2.10", ok.Headers.Get("Via"), StringComparison.Ordinal);
        Assert.Contains("rport=5062", ok.Headers.Get("Via"), StringComparison.Ordinal);
        Assert.Equal("application/sdp", ok.ContentType);

        // The caller listed PCMA first: it wins; telephone-event keeps the caller's payload type.
        var answer = Encoding.UTF8.GetString(ok.Body.Span);
        Assert.Contains("m=audio 40000 RTP/AVP 8 101\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=rtpmap:8 PCMA/8000\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("a=ptime:20\r\n", answer, StringComparison.Ordinal);
        Assert.Contains("c=IN IP4 192.0.2.1\r\n", answer, StringComparison.Ordinal);

        var media = Assert.Single(_media.Created);
        var plan = Assert.Single(media.Started);
        Assert.Equal(G711Codec.Pcma, plan.Codec);
        Assert.Equal(101, plan.DtmfPayloadType);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("192.0.2.10"), 49170), plan.RemoteRtp);
        Assert.Equal(SipCallState.Answered, Assert.Single(_agent.Calls).State);
    }

    [Fact]
    public void The_200_is_retransmitted_on_t1_doubling_to_t2_until_the_ack()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        _transport.Clear();

        var sentAt = new List<long>();
        for (var t = 0; t <= 12_000; t += 10)
        {
            Tick(10);
            if (_transport.Sent.Count > sentAt.Count)
            {
                sentAt.Add(t + 10);
            }
        }

        // First resend after T1 (500), then 1 s, 2 s, 4 s, 4 s (capped at T2).
        Assert.Equal([500, 1500, 3500, 7500, 11500], sentAt);
        Assert.All(_transport.Responses, r => Assert.Equal(200, r.StatusCode));

        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bKack1"));
        _transport.Clear();
        Tick(20_000);
        Assert.Empty(_transport.Sent);
        Assert.Equal(SipCallState.Confirmed, Assert.Single(_agent.Calls).State);
    }

    [Fact]
    public void Without_an_ack_the_agent_gives_up_after_64_t1_and_sends_bye_until_it_is_answered()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        for (var i = 0; i < 3205; i++)
        {
            Tick(10); // 32.05 s: past 64·T1, before the BYE's first retransmission
        }

        var bye = Assert.Single(_transport.Requests, r => r.Method == "BYE");
        Assert.Equal(Pbx, _transport.Sent.Single(s => s.Message == bye).Destination);
        Assert.Equal("sip:alice@192.0.2.10:5062", bye.RequestUri); // the caller's Contact
        Assert.Equal(tag, bye.From.Tag);
        Assert.Equal("1928301774", bye.To.Tag);
        Assert.Equal("<sip:proxy.example.com;lr>", bye.Headers.Get("Route"));
        Assert.Equal("BYE", bye.CSeq.Method);
        Assert.Empty(_agent.Calls);
        Assert.Equal("no ACK for the 200 OK", Assert.Single(_media.Created).StoppedWith);

        // Timer E resends the BYE until a final response arrives.
        _transport.Clear();
        Tick(500);
        Assert.Equal("BYE", Assert.Single(_transport.Requests).Method);
        var ok = "SIP/2.0 200 OK\r\n" + $"Via: {bye.Headers.Get("Via")}\r\n" +
            $"From: {bye.Headers.Get("From")}\r\nTo: {bye.Headers.Get("To")}\r\nCall-ID: {bye.CallId}\r\nCSeq: {bye.CSeq}\r\nContent-Length: 0\r\n\r\n";
        Receive(ok);
        Assert.Equal(0, _agent.ClientTransactionCount);
        _transport.Clear();
        Tick(10_000);
        Assert.Empty(_transport.Sent);
    }

    [Fact]
    public void A_retransmitted_invite_is_answered_with_the_last_response_and_creates_no_second_call()
    {
        Receive(Invite());
        _transport.Clear();
        Receive(Invite());

        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        Assert.Single(_agent.Calls);
        Assert.Single(_media.Created);
        Assert.Equal(1, _agent.Counters.RetransmissionsReceived);
    }

    [Fact]
    public void Bye_is_answered_200_and_ends_the_call_and_an_unknown_dialog_gets_481()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bKack1"));
        _transport.Clear();

        Receive(InDialog("BYE", tag, 2));
        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        Assert.Empty(_agent.Calls);
        Assert.Equal("caller hung up", _media.Created[0].StoppedWith);

        _transport.Clear();
        Receive(InDialog("BYE", "no-such-tag", 3, branch: "z9hG4bKother"));
        Assert.Equal(481, Assert.Single(_transport.Responses).StatusCode);
    }

    [Fact]
    public void Cancel_while_ringing_gets_200_and_the_invite_487_which_stops_retransmitting_at_the_ack()
    {
        _agent = Create(ringMs: 3000);
        Receive(Invite());
        Assert.Equal([100, 180], _transport.Responses.Select(r => r.StatusCode));
        _transport.Clear();

        Receive(Invite().Replace("INVITE sip:agent@192.0.2.1 SIP/2.0", "CANCEL sip:agent@192.0.2.1 SIP/2.0", StringComparison.Ordinal)
            .Replace("CSeq: 1 INVITE", "CSeq: 1 CANCEL", StringComparison.Ordinal)
            .Replace("Content-Type: application/sdp\r\n", "", StringComparison.Ordinal)
            .Split("\r\n\r\n")[0].Replace($"Content-Length: {Encoding.UTF8.GetByteCount(SipTestMessages.Sdp)}", "Content-Length: 0", StringComparison.Ordinal) + "\r\n\r\n");

        Assert.Equal([200, 487], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("CANCEL", _transport.Responses[0].CSeq.Method);
        Assert.Equal("INVITE", _transport.Responses[1].CSeq.Method);
        Assert.Empty(_agent.Calls);
        Assert.Equal("cancelled by the caller", _media.Created[0].StoppedWith);
        Assert.Equal(1, _agent.Counters.CallsCancelled);

        // Timer G resends the 487 until the ACK (same branch as the INVITE) arrives, then nothing more.
        _transport.Clear();
        Tick(500);
        Assert.Equal(487, Assert.Single(_transport.Responses).StatusCode);
        var tag = _transport.Responses[0].To.Tag!;
        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bK776asdhds"));
        _transport.Clear();
        Tick(30_000);
        Assert.Empty(_transport.Sent);
        Tick(10_000);
        Assert.Equal(0, _agent.ServerTransactionCount); // every transaction expired
    }

    [Fact]
    public void Cancel_after_the_answer_gets_200_but_leaves_the_call_up()
    {
        Receive(Invite());
        _transport.Clear();
        Receive(OutOfDialog("CANCEL", "z9hG4bK776asdhds", "a84b4c76e66710").Replace("CSeq: 7", "CSeq: 1", StringComparison.Ordinal)
            .Replace("pbx.example.com;branch", "pbx.example.com:5062;branch", StringComparison.Ordinal));

        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
        Assert.Single(_agent.Calls);
    }

    [Fact]
    public void Options_is_answered_200_with_allow_and_unknown_methods_501()
    {
        Receive(OutOfDialog("OPTIONS"));
        var ok = Assert.Single(_transport.Responses);
        Assert.Equal(200, ok.StatusCode);
        Assert.Equal("INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY", ok.Headers.Get("Allow"));

        _transport.Clear();
        Receive(OutOfDialog("SUBSCRIBE", "z9hG4bKsub"));
        Receive(OutOfDialog("FROBNICATE", "z9hG4bKfrob"));
        Assert.All(_transport.Responses, r =>
        {
            Assert.Equal(501, r.StatusCode);
            Assert.Equal("Not Implemented", r.ReasonPhrase);
            Assert.NotNull(r.Headers.Get("Allow"));
        });
        Assert.Equal(2, _transport.Responses.Count);
    }

    [Fact]
    public void An_offer_without_a_common_codec_gets_488_and_no_call()
    {
        var g722Only = SipTestMessages.Sdp.Replace("m=audio 49170 RTP/AVP 8 0 101", "m=audio 49170 RTP/AVP 9 101", StringComparison.Ordinal)
            .Replace("a=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\n", "a=rtpmap:9 G722/8000\r\n", StringComparison.Ordinal);
        Receive(Invite(sdp: g722Only));

        Assert.Equal([100, 488], _transport.Responses.Select(r => r.StatusCode));
        Assert.StartsWith("305 ", _transport.Responses[1].Headers.Get("Warning"), StringComparison.Ordinal);
        Assert.Empty(_agent.Calls);
        Assert.NotNull(_media.Created[0].StoppedWith);
    }

    [Fact]
    public void Re_invite_to_hold_and_back_is_answered_recvonly_then_sendrecv_with_a_new_sdp_version()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        var firstAnswer = Encoding.UTF8.GetString(_transport.Responses[^1].Body.Span);
        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bKack1"));
        _transport.Clear();

        var hold = SipTestMessages.Sdp.Replace("a=sendrecv", "a=sendonly", StringComparison.Ordinal);
        Receive(Invite(toTag: tag, cseq: 2, branch: "z9hG4bKhold", sdp: hold));
        Assert.Equal([100, 200], _transport.Responses.Select(r => r.StatusCode));
        var holdAnswer = Encoding.UTF8.GetString(_transport.Responses[^1].Body.Span);
        Assert.Contains("a=recvonly", holdAnswer, StringComparison.Ordinal);
        var media = _media.Created[0];
        Assert.True(Assert.Single(media.Updated).OnHold);
        Assert.NotEqual(Version(firstAnswer), Version(holdAnswer));
        Receive(InDialog("ACK", tag, 2, branch: "z9hG4bKack2"));

        _transport.Clear();
        Receive(Invite(toTag: tag, cseq: 3, branch: "z9hG4bKresume"));
        var resumeAnswer = Encoding.UTF8.GetString(_transport.Responses[^1].Body.Span);
        Assert.Contains("a=sendrecv", resumeAnswer, StringComparison.Ordinal);
        Assert.False(media.Updated[^1].OnHold);
        Assert.Equal(Version(holdAnswer) + 1, Version(resumeAnswer));

        // A re-INVITE older than the last request is refused (§12.2.2).
        _transport.Clear();
        Receive(Invite(toTag: tag, cseq: 2, branch: "z9hG4bKstale"));
        Assert.Equal(500, Assert.Single(_transport.Responses).StatusCode);

        static long Version(string sdp) => long.Parse(sdp.Split("\r\n").First(l => l.StartsWith("o=", StringComparison.Ordinal)).Split(' ')[2], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public void Sip_info_dtmf_reaches_the_media_and_is_answered_200()
    {
        Receive(Invite());
        var tag = _transport.Responses[^1].To.Tag!;
        Receive(InDialog("ACK", tag, 1, branch: "z9hG4bKack1"));
        _transport.Clear();

        Receive(InDialog("INFO", tag, 2, branch: "z9hG4bKinfo1", body: "Signal=5\r\nDuration=160\r\n", contentType: "application/dtmf-relay"));
        Receive(InDialog("INFO", tag, 3, branch: "z9hG4bKinfo2", body: "#", contentType: "application/dtmf"));

        Assert.Equal([200, 200], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("5#", new string([.. _media.Created[0].Digits]));
    }

    [Fact]
    public void Malformed_requests_get_400_with_the_reason_and_garbage_is_dropped_and_counted()
    {
        Receive(Invite().Replace("Content-Length: ", "Content-Length: 9", StringComparison.Ordinal));
        var rejected = Assert.Single(_transport.Responses);
        Assert.Equal(400, rejected.StatusCode);
        Assert.Equal("Content-Length Exceeds Body", rejected.ReasonPhrase);
        Assert.Contains("Content-Length Exceeds Body", rejected.Headers.Get("Warning"), StringComparison.Ordinal);

        _transport.Clear();
        _agent.HandleDatagram([0xde, 0xad, 0xbe, 0xef, 0x00, 0x01], Pbx, _now);
        Assert.Empty(_transport.Sent);
        Assert.Equal(1, _agent.Counters.Rejected);
        Assert.Equal(1, _agent.Counters.Dropped);
        Assert.Empty(_agent.Calls);
    }

    [Fact]
    public void A_full_gateway_answers_486_with_retry_after()
    {
        _media.Refuse = true;
        Receive(Invite());
        Assert.Equal([100, 486], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("5", _transport.Responses[1].Headers.Get("Retry-After"));
        Assert.Empty(_agent.Calls);
    }

    [Fact]
    public void An_invite_without_an_offer_gets_our_offer_in_the_200_and_the_answer_from_the_ack_starts_media()
    {
        Receive(Invite(sdp: null));
        var ok = _transport.Responses[^1];
        Assert.Equal(200, ok.StatusCode);
        Assert.Contains("m=audio 40000 RTP/AVP 0 8 101", Encoding.UTF8.GetString(ok.Body.Span), StringComparison.Ordinal);
        Assert.Empty(_media.Created[0].Started);

        var answer = SipTestMessages.Sdp.Replace("RTP/AVP 8 0 101", "RTP/AVP 0 101", StringComparison.Ordinal);
        Receive(InDialog("ACK", ok.To.Tag!, 1, branch: "z9hG4bKack1", body: answer, contentType: "application/sdp"));

        Assert.Equal(G711Codec.Pcmu, Assert.Single(_media.Created[0].Started).Codec);
    }

    [Fact]
    public void The_agent_hangs_up_with_bye_when_media_asks_for_it()
    {
        ConfirmedCall();

        _media.Infos[0].RequestHangup!("no RTP for 60 s");
        Assert.Empty(_transport.Sent); // posted to the core thread, not run on the media thread
        RunDispatched();

        Assert.Equal("BYE", Assert.Single(_transport.Requests).Method);
        Assert.Equal("no RTP for 60 s", _media.Created[0].StoppedWith);
    }

    [Fact]
    public void Beyond_the_transaction_cap_requests_get_a_stateless_503_until_transactions_expire()
    {
        _agent = new SipUserAgent(
            new SipUserAgentSettings { AdvertisedHost = "192.0.2.1", Port = 5060, MaxServerTransactions = 3 },
            _transport,
            _media,
            new SipCounters(),
            NullLogger.Instance,
            _dispatched.Add,
            () => _now);
        for (var i = 0; i < 4; i++)
        {
            Receive(OutOfDialog("OPTIONS", $"z9hG4bKcap{i}", $"cap-{i}"));
        }

        Assert.Equal([200, 200, 200, 503], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("10", _transport.Responses[3].Headers.Get("Retry-After"));
        Assert.Equal(1, _agent.Counters.OverloadDrops);

        Tick(32_000); // timer J ends the three transactions
        _transport.Clear();
        Receive(OutOfDialog("OPTIONS", "z9hG4bKcap9", "cap-9"));
        Assert.Equal(200, Assert.Single(_transport.Responses).StatusCode);
    }

    [Fact]
    public void Required_extensions_are_refused_with_420_listing_them()
    {
        Receive(Invite(extraHeaders: "Require: 100rel, timer\r\n"));
        Assert.Equal([100, 420], _transport.Responses.Select(r => r.StatusCode));
        Assert.Equal("100rel, timer", _transport.Responses[1].Headers.Get("Unsupported"));
    }

    private SipUserAgent Create(int ringMs) => new(
        new SipUserAgentSettings { AdvertisedHost = "192.0.2.1", Port = 5060, RingMs = ringMs },
        _transport,
        _media,
        new SipCounters(),
        NullLogger.Instance,
        _dispatched.Add,
        () => _now);

    private void Receive(string text) => _agent.HandleDatagram(Bytes(text), Pbx, _now);

    private void Tick(long ms)
    {
        _now += ms;
        _agent.OnTick(_now);
    }

    private sealed class FakeTransport : ISipTransport
    {
        public List<(SipMessage Message, IPEndPoint Destination)> Sent { get; } = [];

        public List<SipResponse> Responses => Sent.Select(s => s.Message).OfType<SipResponse>().ToList();

        public List<SipRequest> Requests => Sent.Select(s => s.Message).OfType<SipRequest>().ToList();

        public void Send(ReadOnlySpan<byte> datagram, IPEndPoint destination)
        {
            var parsed = SipMessageParser.Parse(datagram, 65535);
            Assert.Equal(SipParseOutcome.Parsed, parsed.Outcome); // everything we send must parse
            Sent.Add((parsed.Message!, destination));
        }

        public void Clear() => Sent.Clear();
    }

    private sealed class FakeMediaFactory : ISipMediaFactory
    {
        public List<FakeMedia> Created { get; } = [];

        public List<SipCallInfo> Infos { get; } = [];

        public bool Refuse { get; set; }

        public SipMediaReservation Reserve(SipCallInfo call)
        {
            if (Refuse)
            {
                return new SipMediaReservation(null, SipStatus.BusyHere, "full");
            }

            Infos.Add(call);
            var media = new FakeMedia();
            Created.Add(media);
            return new SipMediaReservation(media);
        }
    }

    private sealed class FakeMedia : ISipCallMedia
    {
        public int LocalRtpPort => 40000;

        public List<SdpMediaPlan> Started { get; } = [];

        public List<SdpMediaPlan> Updated { get; } = [];

        public List<char> Digits { get; } = [];

        public string? StoppedWith { get; private set; }

        public void Start(SdpMediaPlan plan) => Started.Add(plan);

        public void Update(SdpMediaPlan plan) => Updated.Add(plan);

        public void Dtmf(char digit) => Digits.Add(digit);

        public void Stop(string reason) => StoppedWith ??= reason;
    }
}
