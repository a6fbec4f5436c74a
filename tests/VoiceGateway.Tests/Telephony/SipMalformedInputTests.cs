using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using VoiceAgent.Gateway.Telephony.Sip;
using VoiceAgent.Gateway.Tests.Telephony.Harness;
using Xunit.Abstractions;
using static VoiceAgent.Gateway.Tests.Telephony.SipTestMessages;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// A corpus of broken datagrams sent to the running gateway's SIP port: each one that can be answered gets its status
/// with a reason phrase, the rest are dropped and counted; afterwards the agent still answers sipp's OPTIONS.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed partial class SipMalformedInputTests(TelephonyFixture fixture, ITestOutputHelper output)
{
    /// <summary>How the agent must treat a corpus entry.</summary>
    public enum Expect
    {
        /// <summary>Malformed but answerable: the parser's error status with a reason (counted as rejected).</summary>
        Rejected,

        /// <summary>Well-formed but unacceptable: answered by the user agent (488, 415, 501, 481, a bad SDP body's 400).</summary>
        Answered,

        /// <summary>Unanswerable: no response, counted as dropped.</summary>
        Dropped,

        /// <summary>No response and not an error (keep-alive, a response matching no transaction).</summary>
        Ignored,
    }

    /// <summary>(name, datagram, expected final status or null, how it is counted).</summary>
    public static IEnumerable<(string Name, byte[] Datagram, int? Status, Expect Expect)> Corpus()
    {
        var invite = Invite(callId: "malformed-1", branch: "z9hG4bKmal1");
        yield return ("headers truncated mid-line", Bytes(invite[..invite.IndexOf("CSeq", StringComparison.Ordinal)] + "CSe"), null, Expect.Dropped);
        yield return ("headers truncated after CSeq", Bytes(invite[..(invite.IndexOf("Contact", StringComparison.Ordinal) - 2)]), 400, Expect.Rejected);
        yield return ("request line only", Bytes("INVITE sip:agent@127.0.0.1 SIP/2.0\r\n"), null, Expect.Dropped);
        yield return ("half a request line", Bytes("INVITE sip:agent@127"), null, Expect.Dropped);
        yield return ("content-length beyond the body", Bytes(Invite(callId: "malformed-2", branch: "z9hG4bKmal2").Replace("Content-Length: ", "Content-Length: 9", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("negative content-length", Bytes(Invite(callId: "malformed-3", branch: "z9hG4bKmal3").Replace("Content-Length: ", "Content-Length: -", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("content-length not a number", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal4").Replace("Content-Length: 0", "Content-Length: zero", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("huge content-length", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal5").Replace("Content-Length: 0", "Content-Length: 99999999999999", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("cseq method mismatch", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal6").Replace("CSeq: 7 OPTIONS", "CSeq: 7 INVITE", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("sip version 3.0", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal7").Replace("SIP/2.0\r\n", "SIP/3.0\r\n", StringComparison.Ordinal)), 505, Expect.Rejected);
        yield return ("header without a colon", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal8").Replace("Max-Forwards: 70", "Max-Forwards 70", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("200 header lines", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal9").Replace("Content-Length: 0\r\n", string.Concat(Enumerable.Range(0, 200).Select(i => $"X-H{i}: {i}\r\n")) + "Content-Length: 0\r\n", StringComparison.Ordinal)), 400, Expect.Rejected);
        yield return ("malformed sdp body", Bytes(Invite(callId: "malformed-4", branch: "z9hG4bKmal10", sdp: "v=0\r\nm=audio port RTP/AVP 0\r\n")), 400, Expect.Answered);
        yield return ("body that is not sdp", Bytes(Invite(callId: "malformed-5", branch: "z9hG4bKmal11", sdp: "<xml/>").Replace("application/sdp", "application/xml", StringComparison.Ordinal)), 415, Expect.Answered);
        yield return ("no common codec", Bytes(Invite(callId: "malformed-6", branch: "z9hG4bKmal12", sdp: "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 9\r\n")), 488, Expect.Answered);
        yield return ("unknown method", Bytes(OutOfDialog("FROBNICATE", "z9hG4bKmal13")), 501, Expect.Answered);
        yield return ("bye for no dialog", Bytes(InDialog("BYE", "nosuchtag", 2, callId: "malformed-7", branch: "z9hG4bKmal14")), 481, Expect.Answered);
        yield return ("no call-id", Bytes(OutOfDialog("OPTIONS", "z9hG4bKmal15").Replace("Call-ID: opt-1\r\n", "", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("no via", Bytes(OutOfDialog("OPTIONS").Replace("Via: SIP/2.0/UDP pbx.example.com:5062;branch=z9hG4bKopt1\r\n", "", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("via with a bad port", Bytes(OutOfDialog("OPTIONS").Replace("pbx.example.com:5062;branch", "127.0.0.1:0;branch", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("no cseq", Bytes(OutOfDialog("OPTIONS").Replace("CSeq: 7 OPTIONS\r\n", "", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("nul bytes in the head", Bytes(OutOfDialog("OPTIONS").Replace("Max-Forwards", "Max\0Forwards", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("invalid utf-8", [.. Encoding.ASCII.GetBytes("OPTIONS sip:a@b SIP/2.0\r\nVia: "), 0xC3, 0x28, 0xFF, 0xFE, .. Encoding.ASCII.GetBytes("\r\n\r\n")], null, Expect.Dropped);
        yield return ("garbage ack", Bytes(InDialog("ACK", "x", 1).Replace("CSeq: 1 ACK", "CSeq: one ACK", StringComparison.Ordinal)), null, Expect.Dropped);
        yield return ("http request", Bytes("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"), null, Expect.Dropped);
        yield return ("broken response", Bytes("SIP/2.0 abc OK\r\n\r\n"), null, Expect.Dropped);
        yield return ("stray response", Bytes("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bKnothing\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 BYE\r\nContent-Length: 0\r\n\r\n"), null, Expect.Ignored);
        for (var seed = 1; seed <= 8; seed++)
        {
            var random = new Random(seed);
            var garbage = new byte[random.Next(1, 1400)];
            random.NextBytes(garbage);
            yield return ($"binary garbage #{seed} ({garbage.Length} bytes)", garbage, null, Expect.Dropped);
        }

        yield return ("oversize request (20 KB, head intact)", Bytes(OutOfDialog("OPTIONS", "z9hG4bKbig1").Replace("Content-Length: 0", "X-Padding: " + new string('x', 20_000) + "\r\nContent-Length: 0", StringComparison.Ordinal)), 513, Expect.Rejected);
        yield return ("oversize garbage (60 KB)", Enumerable.Repeat((byte)'A', 60_000).ToArray(), null, Expect.Dropped);
        yield return ("crlf keep-alive", "\r\n\r\n"u8.ToArray(), null, Expect.Ignored);
    }

    [Fact]
    public void Each_malformed_datagram_is_answered_with_a_reason_or_dropped_and_the_agent_still_answers_options()
    {
        var gateway = fixture.Gateway;
        var droppedBefore = gateway.Counter("dropped");
        var rejectedBefore = gateway.Counter("rejected");
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var buffer = new byte[65536];
        var corpus = Corpus().ToList();
        foreach (var (name, datagram, status, _) in corpus)
        {
            // The messages claim to come from pbx.example.com:5062 with rport, so answers come back to this socket.
            var patched = Encoding.UTF8.GetString(datagram).Contains("pbx.example.com", StringComparison.Ordinal)
                ? Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(datagram).Replace("pbx.example.com:5062;", $"127.0.0.1:{port};", StringComparison.Ordinal).Replace("pbx.example.com;", $"127.0.0.1:{port};", StringComparison.Ordinal))
                : datagram;
            socket.SendTo(patched, gateway.Sip);
            var branch = Branch().Match(Encoding.UTF8.GetString(patched)) is { Success: true } m ? m.Groups[1].Value : null;
            var responses = Receive(socket, buffer, status is null ? 300 : 3000, branch);
            var final = responses.LastOrDefault(r => r.StatusCode >= 200);
            output.WriteLine($"{name}: {(final is null ? "no answer" : $"{final.StatusCode} {final.ReasonPhrase} ({final.CSeq})")}");
            if (final is { StatusCode: >= 300, CSeq.Method: "INVITE" })
            {
                socket.SendTo(Ack(final, port), gateway.Sip); // as a caller would: stops the error's retransmission
            }

            if (status is null)
            {
                Assert.True(responses.Count == 0, $"{name}: expected no answer, got {string.Join(", ", responses.Select(r => r.StatusCode))}");
            }
            else
            {
                Assert.True(final is not null, $"{name}: no final response");
                Assert.Equal(status, final.StatusCode);
                Assert.False(string.IsNullOrWhiteSpace(final.ReasonPhrase), $"{name}: empty reason phrase");
            }
        }

        var dropped = gateway.Counter("dropped") - droppedBefore;
        var rejected = gateway.Counter("rejected") - rejectedBefore;
        output.WriteLine($"corpus: {corpus.Count} datagrams; rejected with a status: {rejected}; dropped: {dropped}; oversize counted: {gateway.Counter("oversize")}");
        Assert.Equal(corpus.Count(c => c.Expect == Expect.Rejected), rejected);
        Assert.Equal(corpus.Count(c => c.Expect == Expect.Dropped), dropped);

        var options = Sipp.Run("options.xml", gateway.Sip, fixture.Work, "-m", "1");
        Assert.True(options.ExitCode == 0, options.ToString());
    }

    /// <summary>Responses to the request with <paramref name="branch"/> (all responses when it had none).</summary>
    private static List<SipResponse> Receive(Socket socket, byte[] buffer, int timeoutMs, string? branch)
    {
        var responses = new List<SipResponse>();
        var deadline = Environment.TickCount64 + timeoutMs;
        while (Environment.TickCount64 < deadline)
        {
            if (!socket.Poll(TimeSpan.FromMilliseconds(Math.Max(1, deadline - Environment.TickCount64)), SelectMode.SelectRead))
            {
                break;
            }

            var n = socket.Receive(buffer);
            if (SipMessageParser.Parse(buffer.AsSpan(0, n), 65535).Message is SipResponse response && (branch is null || response.TopVia.Branch == branch))
            {
                responses.Add(response);
                if (response.StatusCode >= 200)
                {
                    // Let a stray retransmission or a second answer show up, then stop.
                    deadline = Math.Min(deadline, Environment.TickCount64 + 100);
                }
            }
        }

        return responses;
    }

    private static byte[] Ack(SipResponse response, int port) => Bytes(
        "ACK sip:agent@127.0.0.1 SIP/2.0\r\n" +
        $"Via: SIP/2.0/UDP 127.0.0.1:{port};branch={response.TopVia.Branch};rport\r\n" +
        $"From: {response.Headers.Get("From")}\r\nTo: {response.Headers.Get("To")}\r\nCall-ID: {response.CallId}\r\n" +
        $"CSeq: {response.CSeq.Number} ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");

    [GeneratedRegex(@"branch=([^;\s]+)")]
    private static partial Regex Branch();
}
