using System.Globalization;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>What became of one datagram.</summary>
public enum SipParseOutcome
{
    /// <summary>A well-formed request or response (<see cref="SipParseResult.Message"/>).</summary>
    Parsed,

    /// <summary>Only CRLFs: an RFC 5626 keep-alive, silently ignored.</summary>
    KeepAlive,

    /// <summary>A broken request whose Via/From/To/Call-ID/CSeq are intact, so it can be answered with an error.</summary>
    Rejected,

    /// <summary>Broken beyond answering (garbage, a broken response, no usable Via/Call-ID/CSeq): dropped and counted.</summary>
    Dropped,
}

/// <summary>The outcome of parsing one datagram, with the status and reason phrase to answer a rejected request with.</summary>
public sealed class SipParseResult
{
    private SipParseResult(SipParseOutcome outcome, SipMessage? message, int errorStatus, string? errorReason)
    {
        Outcome = outcome;
        Message = message;
        ErrorStatus = errorStatus;
        ErrorReason = errorReason;
    }

    public SipParseOutcome Outcome { get; }

    /// <summary>The message (<see cref="SipParseOutcome.Parsed"/>) or the answerable request (<see cref="SipParseOutcome.Rejected"/>).</summary>
    public SipMessage? Message { get; }

    /// <summary>Status code for the error response (400, 505, 513) when rejected.</summary>
    public int ErrorStatus { get; }

    /// <summary>Reason phrase naming the problem (rejected) or the reason it was dropped (for logs and counters).</summary>
    public string? ErrorReason { get; }

    internal static SipParseResult Ok(SipMessage message) => new(SipParseOutcome.Parsed, message, 0, null);

    internal static readonly SipParseResult KeepAlive = new(SipParseOutcome.KeepAlive, null, 0, null);

    internal static SipParseResult Reject(SipRequest request, int status, string reason) => new(SipParseOutcome.Rejected, request, status, reason);

    internal static SipParseResult Drop(string reason) => new(SipParseOutcome.Dropped, null, 0, reason);
}

/// <summary>
/// Parses one UDP datagram into a <see cref="SipMessage"/> (RFC 3261 §7, with the §18.3 framing rules for UDP:
/// Content-Length larger than the datagram's body is an error, a shorter one truncates the body, a missing one means
/// "the rest of the datagram"). It never throws on bad input: every problem becomes a <see cref="SipParseResult"/>
/// with a reason, so one bad datagram can never take the user agent down.
/// </summary>
public static class SipMessageParser
{
    /// <summary>Header lines accepted per message; beyond that the request is answered with 400.</summary>
    public const int MaxHeaderLines = 128;

    public static SipParseResult Parse(ReadOnlySpan<byte> datagram, int maxMessageBytes)
    {
        var start = 0;
        while (start < datagram.Length && datagram[start] is (byte)'\r' or (byte)'\n')
        {
            start++;
        }

        if (start == datagram.Length)
        {
            return SipParseResult.KeepAlive;
        }

        var data = datagram[start..];
        var oversize = data.Length > maxMessageBytes;
        if (oversize)
        {
            // Parse only the head, to answer 513 when the request is recognisable; never buffer the whole thing.
            data = data[..maxMessageBytes];
        }

        var headerEnd = HeaderEnd(data, out var separatorLength);
        if (data[..headerEnd].IndexOf((byte)0) >= 0)
        {
            // Text protocol: a NUL in the head means binary garbage, not a request we could answer.
            return SipParseResult.Drop("NUL byte in the header section");
        }

        var hasBlankLine = separatorLength > 0;
        var headText = Encoding.UTF8.GetString(data[..headerEnd]);
        var body = hasBlankLine ? data[(headerEnd + separatorLength)..] : [];

        var lines = SplitLines(headText);
        if (lines.Count == 0)
        {
            return SipParseResult.Drop("empty start line");
        }

        string? firstError = null;
        var firstErrorStatus = SipStatus.BadRequest;
        void Fail(string reason, int status = SipStatus.BadRequest)
        {
            if (firstError is null)
            {
                firstError = reason;
                firstErrorStatus = status;
            }
        }

        SipMessage message;
        var startLine = lines[0];
        if (startLine.StartsWith("SIP/", StringComparison.Ordinal))
        {
            if (!TryParseStatusLine(startLine, out var response))
            {
                return SipParseResult.Drop("malformed status line");
            }

            message = response;
        }
        else
        {
            var parts = startLine.Split(' ');
            if (parts.Length != 3 || !SipText.IsToken(parts[0]) || parts[1].Length == 0 || !parts[2].StartsWith("SIP/", StringComparison.OrdinalIgnoreCase))
            {
                return SipParseResult.Drop("malformed request line");
            }

            if (parts[2] != "SIP/2.0")
            {
                Fail("Version Not Supported", SipStatus.VersionNotSupported);
            }

            if (parts[1].IndexOf(':', StringComparison.Ordinal) <= 0)
            {
                Fail("Malformed Request-URI");
            }

            message = new SipRequest(parts[0], parts[1]);
        }

        if (oversize)
        {
            Fail("Message Too Large", SipStatus.MessageTooLarge);
        }

        if (lines.Count - 1 > MaxHeaderLines)
        {
            Fail("Too Many Header Lines");
        }

        var headers = message.Headers;
        for (var i = 1; i < lines.Count && i <= MaxHeaderLines; i++)
        {
            var line = lines[i];
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0 || !SipText.IsToken(line.AsSpan(0, colon).TrimEnd()))
            {
                Fail("Malformed Header Line");
                continue;
            }

            var name = SipHeaderNames.Normalize(line.AsSpan(0, colon).TrimEnd().ToString());
            headers.Add(name, line.AsSpan(colon + 1).Trim().ToString());
        }

        if (!hasBlankLine && !oversize)
        {
            // UDP framing: a datagram is a whole message, so a missing blank line means the head was cut short.
            Fail("Truncated Message (No Blank Line After Headers)");
        }

        var answerable = ParseCommonHeaders(message, out var headerError);
        if (headerError is not null)
        {
            Fail(headerError);
        }

        if (!oversize)
        {
            var contentLength = headers.Get(SipHeaderNames.ContentLength);
            if (contentLength is not null)
            {
                if (!int.TryParse(contentLength, NumberStyles.None, CultureInfo.InvariantCulture, out var length))
                {
                    Fail("Malformed Content-Length");
                }
                else if (length > body.Length)
                {
                    Fail("Content-Length Exceeds Body");
                }
                else
                {
                    body = body[..length];
                }
            }

            message.Body = body.ToArray();
        }

        if (message is SipRequest request)
        {
            if (answerable && request.CSeq.Method != request.Method)
            {
                Fail("CSeq Method Mismatch");
            }

            if (firstError is null)
            {
                return SipParseResult.Ok(request);
            }

            return answerable ? SipParseResult.Reject(request, firstErrorStatus, firstError) : SipParseResult.Drop(firstError);
        }

        // Responses are never answered: a broken one is dropped.
        return firstError is null ? SipParseResult.Ok(message) : SipParseResult.Drop(firstError);
    }

    /// <summary>Index where the header section ends and the length of the blank-line separator (0 when there is none).</summary>
    private static int HeaderEnd(ReadOnlySpan<byte> data, out int separatorLength)
    {
        var crlf = data.IndexOf("\r\n\r\n"u8);
        var lf = data.IndexOf("\n\n"u8);
        if (crlf >= 0 && (lf < 0 || crlf < lf))
        {
            separatorLength = 4;
            return crlf;
        }

        if (lf >= 0)
        {
            separatorLength = 2;
            return lf;
        }

        separatorLength = 0;
        var end = data.Length;
        while (end > 0 && data[end - 1] is (byte)'\r' or (byte)'\n')
        {
            end--;
        }

        return end;
    }

    /// <summary>Splits at CRLF (or bare LF) and unfolds continuation lines (leading SP/HT, RFC 3261 §7.3.1).</summary>
    private static List<string> SplitLines(string head)
    {
        var lines = new List<string>(16);
        foreach (var raw in head.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            if (line.Length > 0 && line[0] is ' ' or '\t' && lines.Count > 1)
            {
                lines[^1] = lines[^1] + " " + line.Trim();
            }
            else if (line.Length > 0 || lines.Count == 0)
            {
                lines.Add(line);
            }
        }

        return lines;
    }

    private static bool TryParseStatusLine(string line, out SipResponse response)
    {
        response = null!;
        // SIP/2.0 SP 3DIGIT SP reason (the reason may be empty or contain spaces)
        if (!line.StartsWith("SIP/2.0 ", StringComparison.Ordinal) || line.Length < 11)
        {
            return false;
        }

        var codeText = line.AsSpan(8, 3);
        if (!int.TryParse(codeText, NumberStyles.None, CultureInfo.InvariantCulture, out var code) || code is < 100 or > 699)
        {
            return false;
        }

        if (line.Length > 11 && line[11] != ' ')
        {
            return false;
        }

        response = new SipResponse(code, line.Length > 12 ? line[12..] : "");
        return true;
    }

    /// <summary>
    /// Fills Via/From/To/Call-ID/CSeq. Returns whether all five are usable (then an error response can be built);
    /// <paramref name="error"/> names the first problem.
    /// </summary>
    private static bool ParseCommonHeaders(SipMessage message, out string? error)
    {
        error = null;
        var headers = message.Headers;
        var viaEntries = headers.GetEntries(SipHeaderNames.Via);
        var vias = new List<SipVia>(viaEntries.Count);
        foreach (var entry in viaEntries)
        {
            if (!SipVia.TryParse(entry, out var via))
            {
                error ??= "Malformed Via Header";
                break;
            }

            vias.Add(via);
        }

        if (viaEntries.Count == 0)
        {
            error ??= "Missing Via Header";
        }

        message.Vias = vias;
        var viaOk = vias.Count > 0 && vias.Count == viaEntries.Count;

        var fromOk = ParseAddress(headers, SipHeaderNames.From, ref error, out var from);
        var toOk = ParseAddress(headers, SipHeaderNames.To, ref error, out var to);
        if (fromOk)
        {
            message.From = from!;
        }

        if (toOk)
        {
            message.To = to!;
        }

        var callId = headers.Get(SipHeaderNames.CallId);
        var callIdOk = !string.IsNullOrEmpty(callId) && !callId.AsSpan().ContainsAny(' ', '\t');
        if (callId is null)
        {
            error ??= "Missing Call-ID Header";
        }
        else if (!callIdOk)
        {
            error ??= "Malformed Call-ID Header";
        }
        else
        {
            message.CallId = callId;
        }

        var cseqText = headers.Get(SipHeaderNames.CSeq);
        var cseqOk = cseqText is not null && SipCSeq.TryParse(cseqText, out var cseq) && Assign(message, cseq);
        if (cseqText is null)
        {
            error ??= "Missing CSeq Header";
        }
        else if (!cseqOk)
        {
            error ??= "Malformed CSeq Header";
        }

        return viaOk && fromOk && toOk && callIdOk && cseqOk;
    }

    private static bool Assign(SipMessage message, SipCSeq cseq)
    {
        message.CSeq = cseq;
        return true;
    }

    private static bool ParseAddress(SipHeaderList headers, string name, ref string? error, out SipNameAddress? address)
    {
        address = null;
        var value = headers.Get(name);
        if (value is null)
        {
            error ??= $"Missing {name} Header";
            return false;
        }

        if (!SipNameAddress.TryParse(value, out address))
        {
            error ??= $"Malformed {name} Header";
            return false;
        }

        return true;
    }
}
