using System.Text;
using VoiceAgent.Gateway.Telephony.Sip;
using static VoiceAgent.Gateway.Tests.Telephony.SipTestMessages;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>The datagram parser: well-formed messages, the RFC 3261 lexical corners, and every kind of bad input.</summary>
public sealed class SipMessageParserTests
{
    private const int Max = 8192;

    [Fact]
    public void An_invite_parses_into_its_request_line_headers_and_body()
    {
        var result = SipMessageParser.Parse(Bytes(Invite()), Max);

        Assert.Equal(SipParseOutcome.Parsed, result.Outcome);
        var request = Assert.IsType<SipRequest>(result.Message);
        Assert.Equal("INVITE", request.Method);
        Assert.Equal("sip:agent@192.0.2.1", request.RequestUri);
        Assert.Equal("a84b4c76e66710", request.CallId);
        Assert.Equal(new SipCSeq(1, "INVITE"), request.CSeq);
        Assert.Equal("1928301774", request.From.Tag);
        Assert.Equal("Alice", request.From.DisplayName);
        Assert.Null(request.To.Tag);
        var via = Assert.Single(request.Vias);
        Assert.Equal("UDP", via.Transport);
        Assert.Equal("pbx.example.com", via.Host);
        Assert.Equal(5062, via.Port);
        Assert.Equal("z9hG4bK776asdhds", via.Branch);
        Assert.True(via.WantsRport);
        Assert.True(request.HasSdpBody);
        Assert.Equal(SipTestMessages.Sdp, Encoding.UTF8.GetString(request.Body.Span));
    }

    [Fact]
    public void Compact_header_names_folded_lines_and_several_vias_per_line_are_understood()
    {
        var text =
            "OPTIONS sip:agent@192.0.2.1 SIP/2.0\r\n" +
            "v: SIP/2.0/UDP first.example.com;branch=z9hG4bKa, SIP / 2.0 / UDP second.example.com:5070;branch=z9hG4bKb\r\n" +
            "v: SIP/2.0/UDP third.example.com;branch=z9hG4bKc\r\n" +
            "t: <sip:agent@192.0.2.1>\r\n" +
            "f: \"Bob, the tester\" <sip:bob@example.com>\r\n" +
            "  ;tag=77\r\n" +
            "i: compact-1\r\n" +
            "CSeq:   3   OPTIONS\r\n" +
            "l: 0\r\n" +
            "\r\n";

        var result = SipMessageParser.Parse(Bytes(text), Max);

        Assert.Equal(SipParseOutcome.Parsed, result.Outcome);
        var request = (SipRequest)result.Message!;
        Assert.Equal(["first.example.com", "second.example.com", "third.example.com"], request.Vias.Select(v => v.Host));
        Assert.Equal(5070, request.Vias[1].Port);
        Assert.Equal("Bob, the tester", request.From.DisplayName);
        Assert.Equal("77", request.From.Tag);
        Assert.Equal("compact-1", request.CallId);
        Assert.Equal(3, request.CSeq.Number);
    }

    [Fact]
    public void Content_length_shorter_than_the_datagram_truncates_the_body()
    {
        var text = Invite(sdp: "v=0\r\n").Replace("Content-Length: 5", "Content-Length: 3", StringComparison.Ordinal) + "extra";
        var request = (SipRequest)SipMessageParser.Parse(Bytes(text), Max).Message!;
        Assert.Equal("v=0", Encoding.UTF8.GetString(request.Body.Span));
    }

    [Fact]
    public void Missing_content_length_takes_the_rest_of_the_datagram_as_body()
    {
        var text = Invite().Replace($"Content-Length: {Encoding.UTF8.GetByteCount(SipTestMessages.Sdp)}\r\n", "", StringComparison.Ordinal);
        var request = (SipRequest)SipMessageParser.Parse(Bytes(text), Max).Message!;
        Assert.Equal(SipTestMessages.Sdp, Encoding.UTF8.GetString(request.Body.Span));
    }

    [Fact]
    public void A_response_parses_with_its_status_and_reason()
    {
        var text =
            "SIP/2.0 200 OK for your BYE\r\n" +
            "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbye1\r\n" +
            "From: <sip:agent@192.0.2.1>;tag=a\r\n" +
            "To: <sip:alice@example.com>;tag=b\r\n" +
            "Call-ID: c1\r\n" +
            "CSeq: 2 BYE\r\n" +
            "Content-Length: 0\r\n\r\n";

        var response = Assert.IsType<SipResponse>(SipMessageParser.Parse(Bytes(text), Max).Message);
        Assert.Equal(200, response.StatusCode);
        Assert.Equal("OK for your BYE", response.ReasonPhrase);
        Assert.Equal("BYE", response.CSeq.Method);
    }

    [Fact]
    public void Crlf_keepalives_are_recognised()
    {
        Assert.Equal(SipParseOutcome.KeepAlive, SipMessageParser.Parse("\r\n\r\n"u8, Max).Outcome);
        Assert.Equal(SipParseOutcome.KeepAlive, SipMessageParser.Parse("\r\n"u8, Max).Outcome);
    }

    public static TheoryData<string, string, int, string> AnswerableErrors => new()
    {
        { "content-length beyond the body", Invite().Replace("Content-Length: ", "Content-Length: 9", StringComparison.Ordinal), 400, "Content-Length Exceeds Body" },
        { "content-length not a number", Invite().Replace("Content-Length: ", "Content-Length: -", StringComparison.Ordinal), 400, "Malformed Content-Length" },
        { "header line without a colon", Invite().Replace("Max-Forwards: 70", "Max-Forwards 70", StringComparison.Ordinal), 400, "Malformed Header Line" },
        { "cseq method differs from the request", Invite().Replace("CSeq: 1 INVITE", "CSeq: 1 BYE", StringComparison.Ordinal), 400, "CSeq Method Mismatch" },
        { "sip version 3", Invite().Replace("sip:agent@192.0.2.1 SIP/2.0", "sip:agent@192.0.2.1 SIP/3.0", StringComparison.Ordinal), 505, "Version Not Supported" },
        { "headers cut short", Invite(sdp: null).Replace("\r\n\r\n", "\r\nSubj", StringComparison.Ordinal), 400, "Malformed Header Line" },
        { "request-uri without a scheme", Invite().Replace("INVITE sip:agent@192.0.2.1", "INVITE agent", StringComparison.Ordinal), 400, "Malformed Request-URI" },
        { "header name with a space", Invite().Replace("Max-Forwards: 70", "Max Forwards: 70", StringComparison.Ordinal), 400, "Malformed Header Line" },
    };

    [Theory]
    [MemberData(nameof(AnswerableErrors))]
    public void Broken_requests_with_intact_transaction_headers_are_rejected_with_a_reason(string what, string text, int status, string reason)
    {
        var result = SipMessageParser.Parse(Bytes(text), Max);

        Assert.True(result.Outcome == SipParseOutcome.Rejected, $"{what}: {result.Outcome} {result.ErrorReason}");
        Assert.Equal(status, result.ErrorStatus);
        Assert.Equal(reason, result.ErrorReason);
        Assert.IsType<SipRequest>(result.Message);
    }

    public static TheoryData<string, byte[]> Unanswerable => new()
    {
        { "binary garbage", Enumerable.Range(0, 300).Select(i => (byte)((i * 7919) % 251)).ToArray() },
        { "nul bytes in the head", Bytes("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\0\r\n\r\n") },
        { "no call-id", Bytes(Invite().Replace("Call-ID: a84b4c76e66710\r\n", "", StringComparison.Ordinal)) },
        { "no via", Bytes(Invite().Replace("Via: SIP/2.0/UDP pbx.example.com:5062;branch=z9hG4bK776asdhds;rport\r\n", "", StringComparison.Ordinal)) },
        { "broken via", Bytes(Invite().Replace("Via: SIP/2.0/UDP pbx.example.com:5062", "Via: SIP/2.0/UDP pbx.example.com:99999", StringComparison.Ordinal)) },
        { "from without its closing bracket", Bytes(Invite().Replace("From: \"Alice\" <sip:alice@example.com>", "From: Alice <sip:alice@example.com", StringComparison.Ordinal)) },
        { "cseq without a method", Bytes(Invite().Replace("CSeq: 1 INVITE", "CSeq: 1", StringComparison.Ordinal)) },
        { "truncated request line", Bytes("INVITE sip:agent@192.0.2.1") },
        { "http request", Bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n") },
        { "broken status line", Bytes("SIP/2.0 2OO OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n") },
        { "response with content-length beyond body", Bytes("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 BYE\r\nContent-Length: 50\r\n\r\n") },
    };

    [Theory]
    [MemberData(nameof(Unanswerable))]
    public void Garbage_and_requests_without_usable_transaction_headers_are_dropped(string what, byte[] datagram)
    {
        var result = SipMessageParser.Parse(datagram, Max);
        Assert.True(result.Outcome == SipParseOutcome.Dropped, $"{what}: {result.Outcome}");
        Assert.False(string.IsNullOrEmpty(result.ErrorReason));
    }

    [Fact]
    public void An_oversize_request_is_rejected_with_513_without_parsing_past_the_limit()
    {
        var padding = new string('x', 20_000);
        var text = Invite(extraHeaders: $"X-Padding: {padding}\r\n");
        var result = SipMessageParser.Parse(Bytes(text), Max);

        // The limit cuts the padding header, but Via/From/To/Call-ID/CSeq come first, so 513 can be sent.
        Assert.Equal(SipParseOutcome.Rejected, result.Outcome);
        Assert.Equal(513, result.ErrorStatus);
    }

    [Fact]
    public void Every_prefix_of_an_invite_parses_without_throwing()
    {
        // Truncation at every byte: the parser must always return an outcome, never throw.
        var full = Bytes(Invite());
        for (var length = 0; length <= full.Length; length++)
        {
            var result = SipMessageParser.Parse(full.AsSpan(0, length), Max);
            Assert.True(Enum.IsDefined(result.Outcome));
        }
    }

    [Fact]
    public void Serialized_response_round_trips_through_the_parser()
    {
        var request = (SipRequest)SipMessageParser.Parse(Bytes(Invite()), Max).Message!;
        var response = SipResponse.For(request, 486, "Busy Here", "totag1", topVia: "SIP/2.0/UDP pbx.example.com:5062;branch=z9hG4bK776asdhds;rport=5062;received=192.0.2.10");
        response.Body = "hello"u8.ToArray();

        var parsed = Assert.IsType<SipResponse>(SipMessageParser.Parse(SipMessageWriter.ToBytes(response), Max).Message);

        Assert.Equal(486, parsed.StatusCode);
        Assert.Equal("Busy Here", parsed.ReasonPhrase);
        Assert.Equal("totag1", parsed.To.Tag);
        Assert.Equal("192.0.2.10", parsed.TopVia.Parameters["received"]);
        Assert.Equal("a84b4c76e66710", parsed.CallId);
        Assert.Equal("hello", Encoding.UTF8.GetString(parsed.Body.Span));
        Assert.Equal("5", parsed.Headers.Get("Content-Length"));
    }
}
