using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>One Via entry: <c>SIP/2.0/UDP host[:port];branch=…;rport;received=…</c> (RFC 3261 §20.42, RFC 3581).</summary>
public sealed class SipVia
{
    /// <summary>The RFC 3261 branch prefix that makes the branch a transaction id (§8.1.1.7).</summary>
    public const string MagicCookie = "z9hG4bK";

    private SipVia(string transport, string host, int? port, Dictionary<string, string?> parameters)
    {
        Transport = transport;
        Host = host;
        Port = port;
        Parameters = parameters;
    }

    public string Transport { get; }

    public string Host { get; }

    public int? Port { get; }

    public IReadOnlyDictionary<string, string?> Parameters { get; }

    public string? Branch => Parameters.TryGetValue("branch", out var b) ? b : null;

    /// <summary>host[:port] as sent (the transaction key uses it with the branch, §17.2.3).</summary>
    public string SentBy => Port is { } p ? $"{Host}:{p.ToString(CultureInfo.InvariantCulture)}" : Host;

    /// <summary>Whether the client asked for the response to go back to the source port (RFC 3581).</summary>
    public bool WantsRport => Parameters.ContainsKey("rport");

    public static bool TryParse(string value, [NotNullWhen(true)] out SipVia? via)
    {
        via = null;
        var text = value.AsSpan().Trim();
        // sent-protocol = name "/" version "/" transport, with optional whitespace around the slashes (§25.1 SLASH).
        var parts = new string[3];
        for (var i = 0; i < 3; i++)
        {
            text = text.TrimStart();
            var end = 0;
            while (end < text.Length && SipText.IsTokenChar(text[end]))
            {
                end++;
            }

            if (end == 0)
            {
                return false;
            }

            parts[i] = text[..end].ToString();
            text = text[end..].TrimStart();
            if (i < 2)
            {
                if (text.IsEmpty || text[0] != '/')
                {
                    return false;
                }

                text = text[1..];
            }
        }

        if (!parts[0].Equals("SIP", StringComparison.OrdinalIgnoreCase) || parts[1] != "2.0")
        {
            return false;
        }

        var transport = parts[2].ToUpperInvariant();
        var semicolon = text.IndexOf(';');
        var sentBy = (semicolon < 0 ? text : text[..semicolon]).Trim();
        var parameters = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (semicolon >= 0 && !SipText.TryParseParameters(text[semicolon..], parameters))
        {
            return false;
        }

        if (!TrySplitHostPort(sentBy, out var host, out var port))
        {
            return false;
        }

        via = new SipVia(transport, host, port, parameters);
        return true;
    }

    /// <summary>Splits host[:port], accepting bracketed IPv6 references.</summary>
    internal static bool TrySplitHostPort(ReadOnlySpan<char> text, [NotNullWhen(true)] out string? host, out int? port)
    {
        host = null;
        port = null;
        if (text.IsEmpty)
        {
            return false;
        }

        ReadOnlySpan<char> portText = [];
        if (text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0)
            {
                return false;
            }

            host = text[..(close + 1)].ToString();
            var rest = text[(close + 1)..];
            if (!rest.IsEmpty)
            {
                if (rest[0] != ':')
                {
                    return false;
                }

                portText = rest[1..];
            }
        }
        else
        {
            var colon = text.IndexOf(':');
            var hostPart = colon < 0 ? text : text[..colon];
            if (hostPart.IsEmpty || hostPart.IndexOfAny(" \t<>") >= 0)
            {
                return false;
            }

            host = hostPart.ToString();
            portText = colon < 0 ? [] : text[(colon + 1)..];
            if (colon >= 0 && portText.IsEmpty)
            {
                return false;
            }
        }

        if (!portText.IsEmpty)
        {
            if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p is < 1 or > 65535)
            {
                return false;
            }

            port = p;
        }

        return true;
    }
}

/// <summary>A From, To or Contact value: optional display name, the URI, and header parameters (tag).</summary>
public sealed class SipNameAddress
{
    private SipNameAddress(string? displayName, string uri, Dictionary<string, string?> parameters)
    {
        DisplayName = displayName;
        Uri = uri;
        Parameters = parameters;
    }

    public string? DisplayName { get; }

    public string Uri { get; }

    public IReadOnlyDictionary<string, string?> Parameters { get; }

    public string? Tag => Parameters.TryGetValue("tag", out var t) ? t : null;

    public static bool TryParse(string value, [NotNullWhen(true)] out SipNameAddress? address)
    {
        address = null;
        var text = value.AsSpan().Trim();
        if (text.IsEmpty)
        {
            return false;
        }

        string? display = null;
        string uri;
        ReadOnlySpan<char> rest;
        var open = SipText.IndexOfUnquoted(text, '<');
        if (open >= 0)
        {
            var displayPart = text[..open].Trim();
            if (displayPart.Length >= 2 && displayPart[0] == '"' && displayPart[^1] == '"')
            {
                displayPart = displayPart[1..^1];
            }

            display = displayPart.IsEmpty ? null : displayPart.ToString();
            var close = text[open..].IndexOf('>');
            if (close < 0)
            {
                return false;
            }

            uri = text.Slice(open + 1, close - 1).Trim().ToString();
            rest = text[(open + close + 1)..];
        }
        else
        {
            // addr-spec form: parameters after the URI belong to the header (§20.10), so split at the first ';'.
            var semicolon = text.IndexOf(';');
            uri = (semicolon < 0 ? text : text[..semicolon]).Trim().ToString();
            rest = semicolon < 0 ? [] : text[semicolon..];
        }

        if (uri.Length == 0 || uri.IndexOf(':', StringComparison.Ordinal) <= 0 || uri.AsSpan().ContainsAny(' ', '\t'))
        {
            return false;
        }

        var parameters = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        if (!SipText.TryParseParameters(rest, parameters))
        {
            return false;
        }

        address = new SipNameAddress(display, uri, parameters);
        return true;
    }
}

/// <summary>CSeq: sequence number and method (RFC 3261 §20.16; the number is below 2^31).</summary>
public readonly record struct SipCSeq(long Number, string Method)
{
    public override string ToString() => $"{Number.ToString(CultureInfo.InvariantCulture)} {Method}";

    public static bool TryParse(string value, out SipCSeq cseq)
    {
        cseq = default;
        var text = value.AsSpan().Trim();
        var space = text.IndexOfAny(' ', '\t');
        if (space <= 0)
        {
            return false;
        }

        var method = text[(space + 1)..].Trim();
        if (!SipText.TryParseUInt(text[..space], out var number) || number > int.MaxValue || !SipText.IsToken(method))
        {
            return false;
        }

        cseq = new SipCSeq(number, method.ToString());
        return true;
    }
}
