using System.Globalization;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sdp;

/// <summary>A bad SDP body; the message says which line and why (it becomes the SIP reason/Warning text).</summary>
public sealed class SdpParseException(string message) : FormatException(message);

/// <summary>Media direction attribute (RFC 3264 §5.1).</summary>
public enum MediaDirection
{
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

/// <summary>One m= section with its c= line and attributes (in order).</summary>
public sealed class SdpMediaDescription
{
    public required string Media { get; init; }

    public required int Port { get; init; }

    public required string Protocol { get; init; }

    public required List<string> Formats { get; init; }

    public string? ConnectionAddress { get; set; }

    public List<KeyValuePair<string, string?>> Attributes { get; } = [];

    /// <summary>The direction attribute of this section, or <paramref name="sessionDefault"/>.</summary>
    public MediaDirection Direction(MediaDirection sessionDefault)
    {
        foreach (var (name, _) in Attributes)
        {
            if (SdpSessionDescription.TryParseDirection(name, out var direction))
            {
                return direction;
            }
        }

        return sessionDefault;
    }

    /// <summary>The a=rtpmap encoding of a payload type (e.g. "PCMU/8000"), or null.</summary>
    public string? RtpMap(string payloadType)
    {
        foreach (var (name, value) in Attributes)
        {
            if (name == "rtpmap" && value is not null)
            {
                var space = value.IndexOf(' ', StringComparison.Ordinal);
                if (space > 0 && value.AsSpan(0, space).SequenceEqual(payloadType))
                {
                    return value[(space + 1)..].Trim();
                }
            }
        }

        return null;
    }
}

/// <summary>
/// A parsed SDP document (RFC 4566): the lines a telephone offer/answer uses — v, o, s, c, t, m, a — and the rest
/// kept as unknown lines. Parsing is strict where an error would make the answer wrong (v=0 first, m= syntax, port
/// numbers, c= syntax) and lenient elsewhere, because PBXs send all sorts of extra attributes.
/// </summary>
public sealed class SdpSessionDescription
{
    public string Origin { get; private set; } = "";

    public string? ConnectionAddress { get; private set; }

    public List<KeyValuePair<string, string?>> Attributes { get; } = [];

    public List<SdpMediaDescription> Media { get; } = [];

    /// <summary>The session-level direction (sendrecv when absent).</summary>
    public MediaDirection Direction
    {
        get
        {
            foreach (var (name, _) in Attributes)
            {
                if (TryParseDirection(name, out var direction))
                {
                    return direction;
                }
            }

            return MediaDirection.SendRecv;
        }
    }

    public static SdpSessionDescription Parse(ReadOnlySpan<byte> body)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
        }
        catch (DecoderFallbackException)
        {
            throw new SdpParseException("SDP is not valid UTF-8");
        }

        var sdp = new SdpSessionDescription();
        SdpMediaDescription? media = null;
        var lineNumber = 0;
        var sawVersion = false;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            if (line.Length < 2 || line[1] != '=' || line[0] is < 'a' or > 'z')
            {
                throw new SdpParseException($"SDP line {lineNumber} is not 'x=value'");
            }

            var value = line[2..];
            if (!sawVersion)
            {
                if (line[0] != 'v' || value.Trim() != "0")
                {
                    throw new SdpParseException("SDP must start with v=0");
                }

                sawVersion = true;
                continue;
            }

            switch (line[0])
            {
                case 'o':
                    sdp.Origin = value;
                    break;
                case 'c':
                    var address = ParseConnection(value, lineNumber);
                    if (media is null)
                    {
                        sdp.ConnectionAddress = address;
                    }
                    else
                    {
                        media.ConnectionAddress = address;
                    }

                    break;
                case 'm':
                    media = ParseMedia(value, lineNumber);
                    sdp.Media.Add(media);
                    break;
                case 'a':
                    var colon = value.IndexOf(':', StringComparison.Ordinal);
                    var attribute = colon < 0
                        ? new KeyValuePair<string, string?>(value.Trim(), null)
                        : new KeyValuePair<string, string?>(value[..colon].Trim(), value[(colon + 1)..].Trim());
                    (media?.Attributes ?? sdp.Attributes).Add(attribute);
                    break;
                default:
                    break; // s, t, b, i, u, e, p, z, k, r: not needed for an audio answer
            }
        }

        if (!sawVersion)
        {
            throw new SdpParseException("SDP is empty");
        }

        return sdp;
    }

    internal static bool TryParseDirection(string name, out MediaDirection direction)
    {
        switch (name)
        {
            case "sendrecv":
                direction = MediaDirection.SendRecv;
                return true;
            case "sendonly":
                direction = MediaDirection.SendOnly;
                return true;
            case "recvonly":
                direction = MediaDirection.RecvOnly;
                return true;
            case "inactive":
                direction = MediaDirection.Inactive;
                return true;
            default:
                direction = default;
                return false;
        }
    }

    internal static string DirectionName(MediaDirection direction) => direction switch
    {
        MediaDirection.SendOnly => "sendonly",
        MediaDirection.RecvOnly => "recvonly",
        MediaDirection.Inactive => "inactive",
        _ => "sendrecv",
    };

    private static string ParseConnection(string value, int lineNumber)
    {
        // c=IN IP4 192.0.2.1[/ttl]
        var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 3 || parts[0] != "IN" || parts[1] is not ("IP4" or "IP6"))
        {
            throw new SdpParseException($"SDP line {lineNumber}: c= must be 'IN IP4|IP6 address'");
        }

        var slash = parts[2].IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? parts[2] : parts[2][..slash];
    }

    private static SdpMediaDescription ParseMedia(string value, int lineNumber)
    {
        // m=audio 49170[/2] RTP/AVP 0 8 101
        var parts = value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 4)
        {
            throw new SdpParseException($"SDP line {lineNumber}: m= needs media, port, protocol and formats");
        }

        var portText = parts[1];
        var slash = portText.IndexOf('/', StringComparison.Ordinal);
        if (slash >= 0)
        {
            portText = portText[..slash];
        }

        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new SdpParseException($"SDP line {lineNumber}: bad port '{parts[1]}'");
        }

        return new SdpMediaDescription
        {
            Media = parts[0],
            Port = port,
            Protocol = parts[2],
            Formats = [.. parts[3..]],
        };
    }
}
