using System.Globalization;
using System.Net;
using System.Security.Cryptography;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>Sends datagrams for the SIP core (UDP in production, a list in tests).</summary>
public interface ISipTransport
{
    void Send(ReadOnlySpan<byte> datagram, IPEndPoint destination);
}

/// <summary>Settings of the user agent core.</summary>
public sealed record SipUserAgentSettings
{
    /// <summary>Host written into Contact, Via and SDP (the address peers reach us at).</summary>
    public required string AdvertisedHost { get; init; }

    public required int Port { get; init; }

    /// <summary>Address written into SDP c= lines (RTP may be reached through another address than SIP); default: <see cref="AdvertisedHost"/>.</summary>
    public string? MediaAddress { get; init; }

    /// <summary>How long to ring (180) before answering; 0 answers at once.</summary>
    public int RingMs { get; init; }

    public SipTimers Timers { get; init; } = new();

    /// <summary>Largest datagram accepted (RFC 3261 §18.1.1 puts UDP messages under ~1300 bytes; PBX INVITEs reach 4 KB).</summary>
    public int MaxMessageBytes { get; init; } = 8192;

    /// <summary>Server/User-Agent header value.</summary>
    public string Product { get; init; } = "VoiceAgent";

    /// <summary>
    /// Server transactions kept at once. Each lives 64·T1 (32 s) to absorb retransmissions, so a request flood would
    /// otherwise grow memory with its rate; beyond the cap new requests get a stateless 503 with Retry-After.
    /// </summary>
    public int MaxServerTransactions { get; init; } = 20_000;

    /// <summary>
    /// How long an accepted transfer (202 to our REFER) may take to report its outcome before the agent gives up on it
    /// and keeps the caller. The target may ring for a while before it answers, so this is longer than 64·T1.
    /// </summary>
    public int TransferTimeoutMs { get; init; } = 120_000;

    /// <summary>Called with an error kind (malformed_rejected, malformed_dropped, overload) for the gateway metrics.</summary>
    public Action<string>? ReportError { get; init; }
}

/// <summary>
/// The SIP user agent core (UAS, RFC 3261 subset): server transactions and their retransmission timers, dialogs,
/// INVITE/ACK/CANCEL/BYE/OPTIONS/INFO/NOTIFY, re-INVITE, and BYE and REFER as client transactions when the agent
/// hangs up or hands the caller over.
/// <para>
/// Threading: single-threaded by design. The owner (<see cref="SipService"/>) calls <see cref="HandleDatagram"/>,
/// <see cref="OnTick"/>, <see cref="Hangup"/> and <see cref="Transfer"/> from one loop, so the transaction and dialog
/// tables need no locks; media runs elsewhere and talks back only through <see cref="SipCallInfo.RequestHangup"/> and
/// <see cref="SipCallInfo.RequestTransfer"/>, which the owner marshals onto that loop. Nothing here waits on the engine: every request is answered before the method returns.
/// </para>
/// </summary>
public sealed partial class SipUserAgent
{
    private readonly SipUserAgentSettings _settings;
    private readonly ISipTransport _transport;
    private readonly ISipMediaFactory _media;
    private readonly ILogger _logger;
    private readonly Action<Action> _dispatch;
    private readonly Func<long> _clock;
    private readonly Dictionary<string, SipServerTransaction> _serverTransactions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SipClientTransaction> _clientTransactions = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SipCall> _calls = new(StringComparer.Ordinal);
    private readonly List<SipServerTransaction> _serverScratch = [];
    private readonly List<SipCall> _callScratch = [];
    private readonly List<SipClientTransaction> _clientScratch = [];

    /// <summary>
    /// Creates the core. <paramref name="dispatch"/> runs an action on the core's thread later (hang-up requests from
    /// media threads); <paramref name="clock"/> is the core's millisecond clock (the one the owner passes as <c>now</c>).
    /// </summary>
    public SipUserAgent(
        SipUserAgentSettings settings,
        ISipTransport transport,
        ISipMediaFactory media,
        SipCounters counters,
        ILogger logger,
        Action<Action> dispatch,
        Func<long> clock)
    {
        _settings = settings;
        _transport = transport;
        _media = media;
        Counters = counters;
        _logger = logger;
        _dispatch = dispatch;
        _clock = clock;
    }

    public SipCounters Counters { get; }

    /// <summary>Calls in progress (for tests and statistics; read on the core thread).</summary>
    public IReadOnlyCollection<SipCall> Calls => _calls.Values;

    /// <summary>Server transactions alive (for tests: they must all expire).</summary>
    public int ServerTransactionCount => _serverTransactions.Count;

    public int ClientTransactionCount => _clientTransactions.Count;

    /// <summary>Handles one received datagram completely (parse, match, answer).</summary>
    public void HandleDatagram(ReadOnlySpan<byte> datagram, IPEndPoint source, long now)
    {
        Interlocked.Increment(ref Counters.DatagramsCount);
        if (datagram.Length > _settings.MaxMessageBytes)
        {
            Interlocked.Increment(ref Counters.OversizeCount);
        }

        var parsed = SipMessageParser.Parse(datagram, _settings.MaxMessageBytes);
        switch (parsed.Outcome)
        {
            case SipParseOutcome.KeepAlive:
                Interlocked.Increment(ref Counters.KeepAlivesCount);
                return;
            case SipParseOutcome.Dropped:
                Interlocked.Increment(ref Counters.DroppedCount);
                _settings.ReportError?.Invoke("malformed_dropped");
                _logger.LogDebug("Dropped a {Length}-byte datagram from {Source}: {Reason}", datagram.Length, source, parsed.ErrorReason);
                return;
            case SipParseOutcome.Rejected:
                var bad = (SipRequest)parsed.Message!;
                if (bad.Method == SipMethods.Ack)
                {
                    // An ACK is never answered (§17.1.1.3): a broken one can only be dropped.
                    Interlocked.Increment(ref Counters.DroppedCount);
                    return;
                }

                Interlocked.Increment(ref Counters.RejectedCount);
                _settings.ReportError?.Invoke("malformed_rejected");
                _logger.LogInformation("Rejected {Method} from {Source}: {Status} {Reason}", bad.Method, source, parsed.ErrorStatus, parsed.ErrorReason);
                var response = SipResponse.For(bad, parsed.ErrorStatus, parsed.ErrorReason, NewTag(), TopViaFor(bad, source));
                response.Headers.Add(SipHeaderNames.Warning, $"399 {_settings.AdvertisedHost} \"{parsed.ErrorReason}\"");
                SendResponse(response, ResponseTarget(bad.TopVia, source));
                return;
        }

        if (parsed.Message is SipRequest request)
        {
            Interlocked.Increment(ref Counters.RequestsCount);
            HandleRequest(request, source, now);
        }
        else
        {
            Interlocked.Increment(ref Counters.ResponsesCount);
            HandleResponse((SipResponse)parsed.Message!, now);
        }
    }

    /// <summary>Runs the retransmission and expiry timers that are due, and answers calls whose ringing is over.</summary>
    public void OnTick(long now)
    {
        _serverScratch.Clear();
        _serverScratch.AddRange(_serverTransactions.Values);
        foreach (var tx in _serverScratch)
        {
            if (now >= tx.ExpireAt)
            {
                tx.State = SipTransactionState.Terminated;
                _serverTransactions.Remove(tx.Key);
                continue;
            }

            if (now >= tx.RetransmitAt && tx.LastResponse is { } last)
            {
                // Timer G: a non-2xx final response to INVITE is resent until the ACK (UDP is unreliable).
                _transport.Send(last, tx.ResponseTarget);
                Interlocked.Increment(ref Counters.RetransmissionsSentCount);
                tx.Interval = _settings.Timers.Next(tx.Interval);
                tx.RetransmitAt = now + tx.Interval;
            }
        }

        _callScratch.Clear();
        _callScratch.AddRange(_calls.Values);
        foreach (var call in _callScratch)
        {
            if (call.State == SipCallState.Ringing && now >= call.AnswerAt)
            {
                Answer(call, now);
            }

            CheckTransferTimeout(call, now);

            if (call.PendingOk is { } ok)
            {
                if (now >= call.OkGiveUpAt)
                {
                    // §13.3.1.4: no ACK within 64·T1 — the dialog is confirmed and then ended with a BYE.
                    _logger.LogWarning("Call {CallId}: no ACK for the 200 OK within {Ms} ms; sending BYE", call.CallId, _settings.Timers.GiveUp);
                    call.PendingOk = null;
                    SendBye(call, now);
                    EndCall(call, "no ACK for the 200 OK");
                }
                else if (now >= call.OkRetransmitAt)
                {
                    _transport.Send(ok, call.InviteTransaction!.ResponseTarget);
                    Interlocked.Increment(ref Counters.RetransmissionsSentCount);
                    call.OkInterval = _settings.Timers.Next(call.OkInterval);
                    call.OkRetransmitAt = now + call.OkInterval;
                }
            }
        }

        _clientScratch.Clear();
        _clientScratch.AddRange(_clientTransactions.Values);
        foreach (var tx in _clientScratch)
        {
            if (now >= tx.ExpireAt)
            {
                // Timer F: the peer never answered. After a BYE the call is already over on our side; after a REFER
                // the transfer failed and the call goes on.
                _clientTransactions.Remove(tx.Key);
                if (tx.CallKey is { } callKey)
                {
                    OnReferTimedOut(callKey, tx.Key);
                }
            }
            else if (now >= tx.RetransmitAt)
            {
                _transport.Send(tx.Request, tx.Target);
                Interlocked.Increment(ref Counters.RetransmissionsSentCount);
                tx.Interval = _settings.Timers.Next(tx.Interval);
                tx.RetransmitAt = now + tx.Interval;
            }
        }
    }

    /// <summary>The agent ends a call: BYE when answered, 480 while still ringing.</summary>
    public void Hangup(string callKey, string reason, long now)
    {
        if (!_calls.TryGetValue(callKey, out var call))
        {
            return;
        }

        if (call.State == SipCallState.Ringing && call.InviteTransaction is { } invite)
        {
            RespondInvite(invite, SipStatus.TemporarilyUnavailable, now, call.LocalTag);
        }
        else
        {
            call.PendingOk = null;
            SendBye(call, now);
        }

        EndCall(call, reason);
    }

    /// <summary>Ends every call with a BYE (shutdown).</summary>
    public void HangupAll(string reason, long now)
    {
        foreach (var key in _calls.Keys.ToArray())
        {
            Hangup(key, reason, now);
        }
    }

    private void HandleRequest(SipRequest request, IPEndPoint source, long now)
    {
        if (request.Method == SipMethods.Ack)
        {
            HandleAck(request, source, now);
            return;
        }

        var key = SipServerTransaction.KeyFor(request);
        if (_serverTransactions.TryGetValue(key, out var existing))
        {
            // A retransmission: answer with the last response (or nothing yet) and stop.
            Interlocked.Increment(ref Counters.RetransmissionsReceivedCount);
            if (existing.LastResponse is { } last)
            {
                _transport.Send(last, existing.ResponseTarget);
            }

            return;
        }

        if (_serverTransactions.Count >= _settings.MaxServerTransactions)
        {
            Interlocked.Increment(ref Counters.OverloadDropsCount);
            _settings.ReportError?.Invoke("overload");
            var busy = SipResponse.For(request, SipStatus.ServiceUnavailable, "Overloaded", NewTag(), TopViaFor(request, source));
            busy.Headers.Add(SipHeaderNames.RetryAfter, "10");
            SendResponse(busy, ResponseTarget(request.TopVia, source));
            return;
        }

        var tx = new SipServerTransaction(key, request, ResponseTarget(request.TopVia, source), TopViaFor(request, source));
        _serverTransactions[key] = tx;
        switch (request.Method)
        {
            case SipMethods.Invite when request.To.Tag is null:
                HandleInitialInvite(tx, source, now);
                break;
            case SipMethods.Invite:
                HandleReInvite(tx, source, now);
                break;
            case SipMethods.Cancel:
                HandleCancel(tx, now);
                break;
            case SipMethods.Bye:
                HandleBye(tx, source, now);
                break;
            case SipMethods.Options:
                HandleOptions(tx, now);
                break;
            case SipMethods.Info:
                HandleInfo(tx, now);
                break;
            case SipMethods.Notify:
                HandleNotify(tx, now);
                break;
            default:
                var response = NewResponse(tx, SipStatus.NotImplemented);
                response.Headers.Add(SipHeaderNames.Allow, SipMethods.Allowed);
                Respond(tx, response, now);
                break;
        }
    }

    private void HandleResponse(SipResponse response, long now)
    {
        var key = $"{response.TopVia.Branch}|{response.CSeq.Method}";
        if (!_clientTransactions.TryGetValue(key, out var tx))
        {
            Interlocked.Increment(ref Counters.StrayCount);
            return;
        }

        if (response.IsProvisional)
        {
            tx.Interval = _settings.Timers.T2; // §17.1.2.2: after a provisional response, retransmit every T2
            return;
        }

        _clientTransactions.Remove(key);
        _logger.LogDebug("{Method} for {CallId} answered {Status}", response.CSeq.Method, response.CallId, response.StatusCode);
        if (tx.CallKey is { } callKey)
        {
            OnReferAnswered(callKey, key, response, now);
        }
    }

    private SipResponse NewResponse(SipServerTransaction tx, int status, string? reason = null, string? toTag = null)
    {
        var response = SipResponse.For(tx.Request, status, reason, toTag ?? (status > SipStatus.Trying ? NewTag() : null), tx.TopVia);
        response.Headers.Add(SipHeaderNames.Server, _settings.Product);
        return response;
    }

    /// <summary>Sends a response in a transaction and moves it along its state machine.</summary>
    private byte[] Respond(SipServerTransaction tx, SipResponse response, long now)
    {
        var bytes = SipMessageWriter.ToBytes(response);
        _transport.Send(bytes, tx.ResponseTarget);
        tx.LastStatus = response.StatusCode;
        tx.LastResponse = bytes;
        if (response.StatusCode < 200)
        {
            return bytes;
        }

        var timers = _settings.Timers;
        if (!tx.IsInvite)
        {
            tx.State = SipTransactionState.Completed; // timer J: absorb retransmissions for 64·T1
            tx.ExpireAt = now + timers.GiveUp;
        }
        else if (response.StatusCode < 300)
        {
            tx.State = SipTransactionState.Accepted; // RFC 6026 timer L; the call resends the 2xx itself
            tx.ExpireAt = now + timers.GiveUp;
        }
        else
        {
            tx.State = SipTransactionState.Completed; // timer G resends, timer H gives up
            tx.Interval = timers.T1;
            tx.RetransmitAt = now + timers.T1;
            tx.ExpireAt = now + timers.GiveUp;
        }

        return bytes;
    }

    private void SendResponse(SipResponse response, IPEndPoint target)
    {
        response.Headers.Add(SipHeaderNames.Server, _settings.Product);
        _transport.Send(SipMessageWriter.ToBytes(response), target);
    }

    /// <summary>RFC 3261 §18.2.2 with RFC 3581: rport → the source port; otherwise the source address at the sent-by port.</summary>
    internal static IPEndPoint ResponseTarget(SipVia via, IPEndPoint source) =>
        via.WantsRport ? source : new IPEndPoint(source.Address, via.Port ?? 5060);

    /// <summary>The top Via for responses: received= when the sent-by host is not the source address, rport= filled in.</summary>
    internal static string TopViaFor(SipRequest request, IPEndPoint source)
    {
        var raw = request.Headers.GetEntries(SipHeaderNames.Via)[0];
        var via = request.TopVia;
        var address = source.Address.ToString();
        var parts = raw.Split(';');
        for (var i = 1; i < parts.Length; i++)
        {
            if (parts[i].Trim().Equals("rport", StringComparison.OrdinalIgnoreCase))
            {
                parts[i] = "rport=" + source.Port.ToString(CultureInfo.InvariantCulture);
            }
        }

        var result = string.Join(';', parts);
        var hostIsSource = via.Host.Trim('[', ']').Equals(address, StringComparison.OrdinalIgnoreCase);
        if ((!hostIsSource || via.WantsRport) && !via.Parameters.ContainsKey("received"))
        {
            result += ";received=" + address;
        }

        return result;
    }

    internal static string NewTag() => RandomToken(8);

    internal static string NewBranch() => SipVia.MagicCookie + RandomToken(10);

    private static string RandomToken(int bytes)
    {
        Span<byte> random = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(random);
        return Convert.ToHexStringLower(random);
    }
}
