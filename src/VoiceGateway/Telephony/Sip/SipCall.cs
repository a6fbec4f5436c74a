using System.Net;
using VoiceAgent.Gateway.Telephony.Sdp;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>Where a call is in its life.</summary>
public enum SipCallState
{
    /// <summary>INVITE received, 180 sent, not answered yet (CANCEL still possible).</summary>
    Ringing,

    /// <summary>200 OK sent, waiting for the ACK (the 200 is retransmitted meanwhile).</summary>
    Answered,

    /// <summary>ACK received: the dialog is confirmed.</summary>
    Confirmed,

    Ended,
}

/// <summary>
/// The media side of one call as the SIP layer sees it (implemented over RTP and an engine session). Calls come from
/// the SIP core's single thread and must not block it.
/// </summary>
public interface ISipCallMedia
{
    /// <summary>The RTP port announced in SDP.</summary>
    int LocalRtpPort { get; }

    /// <summary>The call was answered with this plan: start sending and receiving.</summary>
    void Start(SdpMediaPlan plan);

    /// <summary>A re-INVITE changed the plan (hold, resume, new address or codec).</summary>
    void Update(SdpMediaPlan plan);

    /// <summary>A digit from SIP INFO (RFC 4733 digits arrive on RTP and never pass through here).</summary>
    void Dtmf(char digit);

    /// <summary>The call is over; release everything (idempotent, returns at once).</summary>
    void Stop(string reason);
}

/// <summary>What a new INVITE tells the media side about the caller.</summary>
public sealed record SipCallInfo(string CallId, string From, string To, IPEndPoint SignalingPeer)
{
    /// <summary>Asks the SIP layer to end the call with a BYE (posted to its thread; safe from any thread).</summary>
    public Action<string>? RequestHangup { get; init; }

    /// <summary>
    /// Asks the SIP layer to hand the caller over to a SIP URI with a REFER (posted to its thread; safe from any
    /// thread). The agent leaves the call with a BYE once the peer reports the transfer done; if it refuses or fails,
    /// the call goes on with the agent.
    /// </summary>
    public Action<string>? RequestTransfer { get; init; }
}

/// <summary>The media side either takes the call (media) or says why not (a SIP status: 486 full, 503 no ports).</summary>
public sealed record SipMediaReservation(ISipCallMedia? Media, int RejectStatus = 0, string? RejectReason = null);

/// <summary>Creates the media for new calls (the SIP core asks once per INVITE).</summary>
public interface ISipMediaFactory
{
    SipMediaReservation Reserve(SipCallInfo call);
}

/// <summary>
/// One call = one dialog (RFC 3261 §12) on the UAS side: identifiers, route set, sequence numbers, the INVITE
/// transaction that created it, our SDP identity, the negotiated plan and the 2xx retransmission state.
/// </summary>
public sealed class SipCall
{
    internal SipCall(SipRequest invite, string localTag, IPEndPoint peer, long now)
    {
        CallId = invite.CallId;
        LocalTag = localTag;
        RemoteTag = invite.From.Tag;
        RemoteFrom = invite.Headers.Get(SipHeaderNames.From)!;
        LocalTo = $"{invite.Headers.Get(SipHeaderNames.To)};tag={localTag}";
        RemoteTarget = invite.Headers.Get(SipHeaderNames.Contact) is { } contact && SipNameAddress.TryParse(SplitFirst(contact), out var c)
            ? c.Uri
            : invite.From.Uri;
        RouteSet = invite.Headers.GetEntries(SipHeaderNames.RecordRoute);
        RemoteCSeq = invite.CSeq.Number;
        Peer = peer;
        InviteReceivedAt = now;
    }

    public string CallId { get; }

    public string LocalTag { get; }

    public string? RemoteTag { get; }

    /// <summary>The caller's From header as received (our To in requests we send).</summary>
    public string RemoteFrom { get; }

    /// <summary>The INVITE's To header with our tag (our From in requests we send).</summary>
    public string LocalTo { get; }

    /// <summary>The caller's Contact URI: Request-URI of requests we send in the dialog.</summary>
    public string RemoteTarget { get; }

    /// <summary>Record-Route entries of the INVITE, in order (the UAS route set, §12.1.1).</summary>
    public IReadOnlyList<string> RouteSet { get; }

    /// <summary>Where the caller's signaling comes from; in-dialog requests go back there (symmetric, like rport).</summary>
    public IPEndPoint Peer { get; internal set; }

    public SipCallState State { get; internal set; } = SipCallState.Ringing;

    public long RemoteCSeq { get; internal set; }

    public long LocalCSeq { get; internal set; }

    public long InviteReceivedAt { get; }

    /// <summary>When the 200 OK was first sent (ms on the core clock), 0 before.</summary>
    public long AnsweredAt { get; internal set; }

    public SdpMediaPlan? Plan { get; internal set; }

    public string? EndReason { get; internal set; }

    internal SdpLocalMedia? LocalSdp { get; set; }

    internal ISipCallMedia? Media { get; set; }

    internal SipServerTransaction? InviteTransaction { get; set; }

    internal bool MediaStarted { get; set; }

    internal string? PendingAnswerSdp { get; set; }

    /// <summary>The INVITE (initial or re-INVITE) carried no offer: our 200 holds the offer and the ACK the answer.</summary>
    internal bool AwaitingAnswerInAck { get; set; }

    internal long AnswerAt { get; set; } = long.MaxValue;

    // 2xx retransmission (§13.3.1.4): the UAS core, not the transaction, resends the 200 until the ACK.
    internal byte[]? PendingOk { get; set; }

    internal long PendingOkCSeq { get; set; }

    internal long OkRetransmitAt { get; set; } = long.MaxValue;

    internal int OkInterval { get; set; }

    internal long OkGiveUpAt { get; set; } = long.MaxValue;

    /// <summary>The REFER in progress (one at a time), or null.</summary>
    internal SipTransfer? Transfer { get; set; }

    internal string Key => KeyOf(CallId, LocalTag);

    internal static string KeyOf(string callId, string localTag) => $"{callId}|{localTag}";

    private static string SplitFirst(string list)
    {
        var entries = new List<string>(1);
        SipText.SplitList(list, entries);
        return entries.Count > 0 ? entries[0] : list;
    }
}

/// <summary>Where a transfer (our REFER and the implicit subscription it creates, RFC 3515) stands.</summary>
internal enum SipTransferState
{
    /// <summary>REFER sent, no final response yet.</summary>
    Requested,

    /// <summary>2xx to the REFER: waiting for a NOTIFY whose sipfrag carries the final status.</summary>
    Accepted,
}

/// <summary>One REFER of a call: its target, its client transaction and when the agent stops waiting for it.</summary>
internal sealed class SipTransfer(string target, string transactionKey, long giveUpAt)
{
    public string Target { get; } = target;

    public string TransactionKey { get; } = transactionKey;

    public SipTransferState State { get; set; } = SipTransferState.Requested;

    /// <summary>Without a final NOTIFY by then the transfer counts as failed and the call goes on with the agent.</summary>
    public long GiveUpAt { get; set; } = giveUpAt;
}
