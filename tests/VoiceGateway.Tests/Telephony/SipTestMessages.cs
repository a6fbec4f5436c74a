using System.Text;
using VoiceAgent.Gateway.Telephony.Sip;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>SIP requests written the way PBXs and sipp send them, for the parser and user-agent tests.</summary>
internal static class SipTestMessages
{
    public const string Sdp =
        "v=0\r\n" +
        "o=pbx 2890844526 2890844526 IN IP4 192.0.2.10\r\n" +
        "s=call\r\n" +
        "c=IN IP4 192.0.2.10\r\n" +
        "t=0 0\r\n" +
        "m=audio 49170 RTP/AVP 8 0 101\r\n" +
        "a=rtpmap:8 PCMA/8000\r\n" +
        "a=rtpmap:0 PCMU/8000\r\n" +
        "a=rtpmap:101 telephone-event/8000\r\n" +
        "a=fmtp:101 0-16\r\n" +
        "a=ptime:20\r\n" +
        "a=sendrecv\r\n";

    public static string Invite(string callId = "a84b4c76e66710", string branch = "z9hG4bK776asdhds", string? sdp = Sdp, string? toTag = null, int cseq = 1, string? extraHeaders = null)
    {
        var body = sdp ?? "";
        var to = toTag is null ? "<sip:agent@192.0.2.1>" : $"<sip:agent@192.0.2.1>;tag={toTag}";
        return
            "INVITE sip:agent@192.0.2.1 SIP/2.0\r\n" +
            $"Via: SIP/2.0/UDP pbx.example.com:5062;branch={branch};rport\r\n" +
            "Max-Forwards: 70\r\n" +
            $"To: {to}\r\n" +
            "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n" +
            $"Call-ID: {callId}\r\n" +
            $"CSeq: {cseq} INVITE\r\n" +
            "Contact: <sip:alice@192.0.2.10:5062>\r\n" +
            "Record-Route: <sip:proxy.example.com;lr>\r\n" +
            (extraHeaders ?? "") +
            (body.Length > 0 ? "Content-Type: application/sdp\r\n" : "") +
            $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
            "\r\n" +
            body;
    }

    public static string InDialog(string method, string toTag, int cseq, string callId = "a84b4c76e66710", string branch = "z9hG4bKnashds8", string body = "", string? contentType = null, string? extraHeaders = null) =>
        $"{method} sip:voiceagent@192.0.2.1 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP pbx.example.com:5062;branch={branch};rport\r\n" +
        "Max-Forwards: 70\r\n" +
        $"To: <sip:agent@192.0.2.1>;tag={toTag}\r\n" +
        "From: \"Alice\" <sip:alice@example.com>;tag=1928301774\r\n" +
        $"Call-ID: {callId}\r\n" +
        $"CSeq: {cseq} {method}\r\n" +
        (contentType is null ? "" : $"Content-Type: {contentType}\r\n") +
        (extraHeaders ?? "") +
        $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
        "\r\n" +
        body;

    /// <summary>A response to a request the user agent sent (as the peer would write it: same Via, From, To, Call-ID, CSeq).</summary>
    public static string ResponseTo(SipRequest request, int status, string reason) =>
        $"SIP/2.0 {status} {reason}\r\n" +
        $"Via: {request.Headers.Get("Via")}\r\n" +
        $"From: {request.Headers.Get("From")}\r\n" +
        $"To: {request.Headers.Get("To")}\r\n" +
        $"Call-ID: {request.CallId}\r\n" +
        $"CSeq: {request.CSeq}\r\n" +
        "Content-Length: 0\r\n" +
        "\r\n";

    public static string OutOfDialog(string method, string branch = "z9hG4bKopt1", string callId = "opt-1") =>
        $"{method} sip:agent@192.0.2.1 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP pbx.example.com:5062;branch={branch}\r\n" +
        "Max-Forwards: 70\r\n" +
        "To: <sip:agent@192.0.2.1>\r\n" +
        "From: <sip:pbx@example.com>;tag=99\r\n" +
        $"Call-ID: {callId}\r\n" +
        $"CSeq: 7 {method}\r\n" +
        "Content-Length: 0\r\n" +
        "\r\n";

    public static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
