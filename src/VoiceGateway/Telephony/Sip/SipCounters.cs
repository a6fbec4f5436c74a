namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// What the SIP layer has seen and done since start (thread-safe reads; written by the SIP thread and the receive
/// loop). Served at <c>/v1/telephony/stats</c>; the malformed-input tests read them to prove nothing was lost.
/// </summary>
public sealed class SipCounters
{
    internal long DatagramsCount;
    internal long RequestsCount;
    internal long ResponsesCount;
    internal long KeepAlivesCount;
    internal long RejectedCount;
    internal long DroppedCount;
    internal long OversizeCount;
    internal long OverloadDropsCount;
    internal long RetransmissionsReceivedCount;
    internal long RetransmissionsSentCount;
    internal long CallsOfferedCount;
    internal long CallsAnsweredCount;
    internal long CallsRejectedCount;
    internal long CallsCancelledCount;
    internal long CallsEndedCount;
    internal long StrayCount;
    internal long TransfersRequestedCount;
    internal long TransfersCompletedCount;
    internal long TransfersFailedCount;

    public long Datagrams => Interlocked.Read(ref DatagramsCount);

    public long Requests => Interlocked.Read(ref RequestsCount);

    public long Responses => Interlocked.Read(ref ResponsesCount);

    public long KeepAlives => Interlocked.Read(ref KeepAlivesCount);

    /// <summary>Malformed requests answered with an error status (400, 505, 513).</summary>
    public long Rejected => Interlocked.Read(ref RejectedCount);

    /// <summary>Datagrams too broken to answer (garbage, broken responses, no usable Via/Call-ID/CSeq): dropped.</summary>
    public long Dropped => Interlocked.Read(ref DroppedCount);

    /// <summary>Datagrams above the size limit (answered 513 when recognisable, else dropped; also in Rejected/Dropped).</summary>
    public long Oversize => Interlocked.Read(ref OversizeCount);

    /// <summary>Datagrams discarded because the SIP thread's bounded queue was full, and requests refused 503 at the transaction cap.</summary>
    public long OverloadDrops => Interlocked.Read(ref OverloadDropsCount);

    public long RetransmissionsReceived => Interlocked.Read(ref RetransmissionsReceivedCount);

    public long RetransmissionsSent => Interlocked.Read(ref RetransmissionsSentCount);

    public long CallsOffered => Interlocked.Read(ref CallsOfferedCount);

    public long CallsAnswered => Interlocked.Read(ref CallsAnsweredCount);

    public long CallsRejected => Interlocked.Read(ref CallsRejectedCount);

    public long CallsCancelled => Interlocked.Read(ref CallsCancelledCount);

    public long CallsEnded => Interlocked.Read(ref CallsEndedCount);

    /// <summary>ACKs and responses that matched nothing.</summary>
    public long Stray => Interlocked.Read(ref StrayCount);

    /// <summary>REFERs the agent sent to hand a caller over (docs/telephony.md, "Call actions").</summary>
    public long TransfersRequested => Interlocked.Read(ref TransfersRequestedCount);

    /// <summary>Transfers the peer reported done (a 2xx sipfrag); the agent then left the call with a BYE.</summary>
    public long TransfersCompleted => Interlocked.Read(ref TransfersCompletedCount);

    /// <summary>Transfers refused, failed or unanswered; the caller stays with the agent.</summary>
    public long TransfersFailed => Interlocked.Read(ref TransfersFailedCount);
}
