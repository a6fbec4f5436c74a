using System.Globalization;
using System.Net;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sdp;

/// <summary>The G.711 codecs VoiceAgent speaks on RTP (RFC 3551 static payload types).</summary>
public enum G711Codec
{
    Pcmu = 0,
    Pcma = 8,
}

/// <summary>What our side of the call uses after an offer/answer exchange.</summary>
public sealed record SdpMediaPlan
{
    /// <summary>The voice codec and the payload type number the peer uses for it.</summary>
    public required G711Codec Codec { get; init; }

    public required int PayloadType { get; init; }

    /// <summary>RFC 4733 telephone-event payload type, when the peer offered it.</summary>
    public int? DtmfPayloadType { get; init; }

    /// <summary>Where the peer wants RTP (null when it gave 0.0.0.0, i.e. "do not send").</summary>
    public IPEndPoint? RemoteRtp { get; init; }

    /// <summary>Our direction (the mirror of the peer's).</summary>
    public required MediaDirection Direction { get; init; }

    public bool WeSend => Direction is MediaDirection.SendRecv or MediaDirection.SendOnly;

    public bool WeReceive => Direction is MediaDirection.SendRecv or MediaDirection.RecvOnly;

    /// <summary>The peer has put the call on hold (we neither play to it nor listen to its music-on-hold).</summary>
    public bool OnHold => Direction != MediaDirection.SendRecv;
}

/// <summary>The result of answering an offer: the SDP answer and the media plan, or why there is none (488).</summary>
public sealed record SdpAnswer(SdpMediaPlan? Plan, string? AnswerSdp, string? FailureReason);

/// <summary>Our side of the negotiation: the address and RTP port we announce, and the session's o= identity.</summary>
public sealed class SdpLocalMedia(string address, int rtpPort)
{
    public string Address { get; } = address;

    public int RtpPort { get; } = rtpPort;

    /// <summary>o= session id (stable for the call).</summary>
    public long SessionId { get; } = Random.Shared.NextInt64(1, long.MaxValue / 2);

    /// <summary>o= version: incremented each time we send a changed description (RFC 3264 §8).</summary>
    public long Version { get; set; } = 1;

    /// <summary>The previous body we sent (to decide whether the version must change).</summary>
    public string? LastBody { get; set; }
}

/// <summary>
/// RFC 3264 offer/answer for a voice call: PCMU (0) and PCMA (8), optional telephone-event/8000 (RFC 4733), ptime 20.
/// The caller's order decides the codec (its first supported one wins); the answer keeps every m-line in order and
/// rejects the ones we do not use with port 0; an offer with no usable audio stream gets no answer (SIP 488).
/// </summary>
public static class SdpNegotiator
{
    public const int PtimeMs = 20;

    /// <summary>Answers an offer. Throws <see cref="SdpParseException"/> only through <see cref="SdpSessionDescription.Parse"/>.</summary>
    public static SdpAnswer Answer(SdpSessionDescription offer, SdpLocalMedia local)
    {
        SdpMediaPlan? plan = null;
        var chosenIndex = -1;
        for (var i = 0; i < offer.Media.Count && plan is null; i++)
        {
            var media = offer.Media[i];
            if (media.Media != "audio" || media.Port == 0 || !media.Protocol.Equals("RTP/AVP", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            plan = PlanFor(offer, media);
            if (plan is not null)
            {
                chosenIndex = i;
            }
        }

        if (plan is null)
        {
            var reason = offer.Media.Any(m => m.Media == "audio")
                ? "no common codec: offer PCMU (0) or PCMA (8) on RTP/AVP"
                : "no audio stream in the offer";
            return new SdpAnswer(null, null, reason);
        }

        var body = new StringBuilder(256);
        AppendSessionHeader(body, local);
        for (var i = 0; i < offer.Media.Count; i++)
        {
            var media = offer.Media[i];
            if (i == chosenIndex)
            {
                AppendAudio(body, local.RtpPort, plan.PayloadType, plan.Codec, plan.DtmfPayloadType, plan.Direction);
            }
            else
            {
                // Rejected stream (RFC 3264 §6): same media and protocol, port 0, the offered formats.
                body.Append("m=").Append(media.Media).Append(" 0 ").Append(media.Protocol).Append(' ')
                    .Append(string.Join(' ', media.Formats)).Append("\r\n");
            }
        }

        return new SdpAnswer(plan, Stamp(body.ToString(), local), null);
    }

    /// <summary>Our offer for an INVITE that came without one (the answer then arrives in the ACK).</summary>
    public static string CreateOffer(SdpLocalMedia local, int dtmfPayloadType = 101)
    {
        var body = new StringBuilder(256);
        AppendSessionHeader(body, local);
        body.Append("m=audio ").Append(local.RtpPort.ToString(CultureInfo.InvariantCulture)).Append(" RTP/AVP 0 8 ")
            .Append(dtmfPayloadType.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("a=rtpmap:0 PCMU/8000\r\n")
            .Append("a=rtpmap:8 PCMA/8000\r\n");
        AppendDtmf(body, dtmfPayloadType);
        body.Append("a=ptime:20\r\n").Append("a=sendrecv\r\n");
        return Stamp(body.ToString(), local);
    }

    /// <summary>Reads the peer's answer to our offer (first audio line, first format we offered).</summary>
    public static SdpMediaPlan? AcceptAnswer(SdpSessionDescription answer)
    {
        foreach (var media in answer.Media)
        {
            if (media.Media == "audio" && media.Port != 0 && media.Protocol.Equals("RTP/AVP", StringComparison.OrdinalIgnoreCase))
            {
                return PlanFor(answer, media);
            }
        }

        return null;
    }

    private static SdpMediaPlan? PlanFor(SdpSessionDescription sdp, SdpMediaDescription media)
    {
        G711Codec? codec = null;
        var payloadType = -1;
        int? dtmf = null;
        foreach (var format in media.Formats)
        {
            if (!int.TryParse(format, NumberStyles.None, CultureInfo.InvariantCulture, out var pt) || pt > 127)
            {
                continue;
            }

            var map = media.RtpMap(format);
            var encoding = map?.Split('/') is { Length: >= 2 } parts ? (Name: parts[0], Rate: parts[1]) : default;
            if (codec is null)
            {
                var candidate = encoding.Name is null
                    ? pt switch { 0 => G711Codec.Pcmu, 8 => G711Codec.Pcma, _ => (G711Codec?)null }
                    : encoding.Rate != "8000" ? null
                    : encoding.Name.Equals("PCMU", StringComparison.OrdinalIgnoreCase) ? G711Codec.Pcmu
                    : encoding.Name.Equals("PCMA", StringComparison.OrdinalIgnoreCase) ? G711Codec.Pcma
                    : null;
                if (candidate is not null)
                {
                    codec = candidate;
                    payloadType = pt;
                    continue;
                }
            }

            if (dtmf is null && encoding.Name is not null
                && encoding.Name.Equals("telephone-event", StringComparison.OrdinalIgnoreCase) && encoding.Rate == "8000")
            {
                dtmf = pt;
            }
        }

        if (codec is null)
        {
            return null;
        }

        var address = media.ConnectionAddress ?? sdp.ConnectionAddress;
        IPEndPoint? remote = null;
        var silentHold = false;
        if (address is not null && IPAddress.TryParse(address, out var ip))
        {
            if (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any))
            {
                silentHold = true; // RFC 2543 hold: c=0.0.0.0 means "stop sending to me"
            }
            else
            {
                remote = new IPEndPoint(ip, media.Port);
            }
        }

        var theirs = media.Direction(sdp.Direction);
        if (silentHold && theirs == MediaDirection.SendRecv)
        {
            theirs = MediaDirection.SendOnly;
        }

        var ours = theirs switch
        {
            MediaDirection.SendOnly => MediaDirection.RecvOnly,
            MediaDirection.RecvOnly => MediaDirection.SendOnly,
            MediaDirection.Inactive => MediaDirection.Inactive,
            _ => MediaDirection.SendRecv,
        };

        return new SdpMediaPlan
        {
            Codec = codec.Value,
            PayloadType = payloadType,
            DtmfPayloadType = dtmf,
            RemoteRtp = remote,
            Direction = ours,
        };
    }

    private static void AppendSessionHeader(StringBuilder body, SdpLocalMedia local)
    {
        var family = local.Address.Contains(':', StringComparison.Ordinal) ? "IP6" : "IP4";
        body.Append("v=0\r\n")
            .Append("o=voiceagent ").Append(local.SessionId.ToString(CultureInfo.InvariantCulture)).Append(" {version} IN ")
            .Append(family).Append(' ').Append(local.Address).Append("\r\n")
            .Append("s=VoiceAgent\r\n")
            .Append("c=IN ").Append(family).Append(' ').Append(local.Address).Append("\r\n")
            .Append("t=0 0\r\n");
    }

    private static void AppendAudio(StringBuilder body, int port, int payloadType, G711Codec codec, int? dtmf, MediaDirection direction)
    {
        var pt = payloadType.ToString(CultureInfo.InvariantCulture);
        body.Append("m=audio ").Append(port.ToString(CultureInfo.InvariantCulture)).Append(" RTP/AVP ").Append(pt);
        if (dtmf is { } d)
        {
            body.Append(' ').Append(d.ToString(CultureInfo.InvariantCulture));
        }

        body.Append("\r\n").Append("a=rtpmap:").Append(pt).Append(codec == G711Codec.Pcmu ? " PCMU/8000" : " PCMA/8000").Append("\r\n");
        if (dtmf is { } e)
        {
            AppendDtmf(body, e);
        }

        body.Append("a=ptime:").Append(PtimeMs.ToString(CultureInfo.InvariantCulture)).Append("\r\n")
            .Append("a=").Append(SdpSessionDescription.DirectionName(direction)).Append("\r\n");
    }

    private static void AppendDtmf(StringBuilder body, int payloadType)
    {
        var pt = payloadType.ToString(CultureInfo.InvariantCulture);
        body.Append("a=rtpmap:").Append(pt).Append(" telephone-event/8000\r\n")
            .Append("a=fmtp:").Append(pt).Append(" 0-15\r\n");
    }

    /// <summary>Fills in o= version: unchanged bodies keep it, changed ones increment it (RFC 3264 §8).</summary>
    private static string Stamp(string template, SdpLocalMedia local)
    {
        if (local.LastBody is not null && local.LastBody != template)
        {
            local.Version++;
        }

        local.LastBody = template;
        return template.Replace("{version}", local.Version.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }
}
