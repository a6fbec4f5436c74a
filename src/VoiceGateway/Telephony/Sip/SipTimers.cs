namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>RFC 3261 §17 timer values (milliseconds). Defaults are the RFC's; tests may shorten them.</summary>
public sealed record SipTimers
{
    /// <summary>RTT estimate: first retransmission interval.</summary>
    public int T1 { get; init; } = 500;

    /// <summary>Cap on the retransmission interval for non-INVITE requests and INVITE responses.</summary>
    public int T2 { get; init; } = 4000;

    /// <summary>How long a message may stay in the network (Confirmed/Completed linger).</summary>
    public int T4 { get; init; } = 5000;

    /// <summary>64·T1: give up on a retransmitted response or request (timers B, F, H, J, L).</summary>
    public int GiveUp => 64 * T1;

    /// <summary>The next retransmission interval after <paramref name="current"/>: doubled, capped at T2.</summary>
    public int Next(int current) => Math.Min(current * 2, T2);
}

/// <summary>Server transaction states (RFC 3261 §17.2, with RFC 6026's Accepted state for INVITE 2xx).</summary>
public enum SipTransactionState
{
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

/// <summary>
/// One server transaction: the request, where responses go, the last response (re-sent when the request is
/// retransmitted, and on timer G for a non-2xx final INVITE response over UDP), and its timers.
/// </summary>
public sealed class SipServerTransaction
{
    internal SipServerTransaction(string key, SipRequest request, System.Net.IPEndPoint responseTarget, string topVia)
    {
        Key = key;
        Request = request;
        ResponseTarget = responseTarget;
        TopVia = topVia;
    }

    public string Key { get; }

    public SipRequest Request { get; }

    public System.Net.IPEndPoint ResponseTarget { get; }

    /// <summary>The top Via as it goes back in responses (with received/rport filled in).</summary>
    public string TopVia { get; }

    public bool IsInvite => Request.Method == SipMethods.Invite;

    public SipTransactionState State { get; internal set; } = SipTransactionState.Proceeding;

    public int LastStatus { get; internal set; }

    internal byte[]? LastResponse { get; set; }

    internal long RetransmitAt { get; set; } = long.MaxValue;

    internal int Interval { get; set; }

    internal long ExpireAt { get; set; } = long.MaxValue;

    /// <summary>The call this INVITE created or modified (null for non-INVITE requests).</summary>
    internal SipCall? Call { get; set; }

    /// <summary>The key for a request: branch + sent-by + method, ACK and CANCEL matching as RFC 3261 §17.2.3 says.</summary>
    public static string KeyFor(SipRequest request, string? methodOverride = null)
    {
        var method = methodOverride ?? (request.Method == SipMethods.Ack ? SipMethods.Invite : request.Method);
        var via = request.TopVia;
        if (via.Branch is { } branch && branch.StartsWith(SipVia.MagicCookie, StringComparison.Ordinal))
        {
            return $"{branch}|{via.SentBy}|{method}";
        }

        // RFC 2543 peers: no usable branch, so fall back to the dialog-ish identity of the request.
        return $"2543|{request.CallId}|{request.From.Tag}|{request.CSeq.Number}|{via.SentBy}|{method}";
    }
}

/// <summary>A request we sent (BYE): retransmitted on timer E until a final response or timer F.</summary>
internal sealed class SipClientTransaction(string key, byte[] request, System.Net.IPEndPoint target, long now, SipTimers timers)
{
    public string Key { get; } = key;

    public byte[] Request { get; } = request;

    public System.Net.IPEndPoint Target { get; } = target;

    public int Interval { get; set; } = timers.T1;

    public long RetransmitAt { get; set; } = now + timers.T1;

    public long ExpireAt { get; } = now + timers.GiveUp;

    /// <summary>The call a REFER belongs to (its final response or its timeout decides the transfer); null for BYE.</summary>
    public string? CallKey { get; init; }
}
