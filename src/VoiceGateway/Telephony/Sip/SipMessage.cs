namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// A parsed SIP request or response. The parser fills the typed views of the headers every transaction and dialog
/// needs (top Via, From, To, Call-ID, CSeq), so a message that exists has passed those checks.
/// </summary>
public abstract class SipMessage
{
    public SipHeaderList Headers { get; } = new();

    /// <summary>The body (exactly Content-Length bytes when the header is present).</summary>
    public ReadOnlyMemory<byte> Body { get; set; }

    public IReadOnlyList<SipVia> Vias { get; internal set; } = [];

    public SipVia TopVia => Vias[0];

    public SipNameAddress From { get; internal set; } = null!;

    public SipNameAddress To { get; internal set; } = null!;

    public string CallId { get; internal set; } = "";

    public SipCSeq CSeq { get; internal set; }

    public string? ContentType => Headers.Get(SipHeaderNames.ContentType);

    /// <summary>Whether the body is an SDP document (Content-Type application/sdp, parameters ignored).</summary>
    public bool HasSdpBody =>
        !Body.IsEmpty && ContentType is { } type && type.AsSpan().Trim().StartsWith("application/sdp", StringComparison.OrdinalIgnoreCase);
}

/// <summary>A request: method, Request-URI and the common header views.</summary>
public sealed class SipRequest : SipMessage
{
    public SipRequest(string method, string requestUri)
    {
        Method = method;
        RequestUri = requestUri;
    }

    public string Method { get; }

    public string RequestUri { get; }

    public override string ToString() => $"{Method} {RequestUri} (Call-ID {CallId}, CSeq {CSeq})";
}

/// <summary>A response: status code, reason phrase and the common header views.</summary>
public sealed class SipResponse : SipMessage
{
    public SipResponse(int statusCode, string reasonPhrase)
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
    }

    public int StatusCode { get; }

    public string ReasonPhrase { get; }

    public bool IsProvisional => StatusCode < 200;

    public override string ToString() => $"{StatusCode} {ReasonPhrase} (Call-ID {CallId}, CSeq {CSeq})";

    /// <summary>
    /// Builds a response to <paramref name="request"/> per RFC 3261 §8.2.6.2: Via (all, in order), From, Call-ID and
    /// CSeq copied; To copied with <paramref name="toTag"/> added when the request's To has none (never on 100).
    /// </summary>
    /// <remarks>Each Via entry becomes its own line (equivalent on the wire, §7.3.1), so the UA can rewrite the top one
    /// (<paramref name="topVia"/>: the received/rport parameters of RFC 3261 §18.2.1 and RFC 3581).</remarks>
    public static SipResponse For(SipRequest request, int statusCode, string? reasonPhrase = null, string? toTag = null, string? topVia = null)
    {
        var response = new SipResponse(statusCode, reasonPhrase ?? SipStatus.Reason(statusCode))
        {
            Vias = request.Vias,
            From = request.From,
            To = request.To,
            CallId = request.CallId,
            CSeq = request.CSeq,
        };
        var headers = response.Headers;
        var vias = request.Headers.GetEntries(SipHeaderNames.Via);
        for (var i = 0; i < vias.Count; i++)
        {
            headers.Add(SipHeaderNames.Via, i == 0 && topVia is not null ? topVia : vias[i]);
        }

        headers.Add(SipHeaderNames.From, request.Headers.Get(SipHeaderNames.From)!);
        var to = request.Headers.Get(SipHeaderNames.To)!;
        if (statusCode > SipStatus.Trying && request.To.Tag is null && toTag is not null)
        {
            to = $"{to};tag={toTag}";
        }

        headers.Add(SipHeaderNames.To, to);
        headers.Add(SipHeaderNames.CallId, request.CallId);
        headers.Add(SipHeaderNames.CSeq, request.CSeq.ToString());
        return response;
    }
}
