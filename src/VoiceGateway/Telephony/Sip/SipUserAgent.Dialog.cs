using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>In-dialog requests (BYE, INFO), OPTIONS, and the in-dialog requests we send.</summary>
public sealed partial class SipUserAgent
{
    private void HandleBye(SipServerTransaction tx, IPEndPoint source, long now)
    {
        var request = tx.Request;
        if (!TryAcceptInDialog(tx, now, out var call))
        {
            return;
        }

        call.Peer = source;
        Respond(tx, NewResponse(tx, SipStatus.Ok, toTag: call.LocalTag), now);
        if (call.InviteTransaction is { LastStatus: < 200 } invite)
        {
            // BYE on an early dialog: the INVITE still needs its final answer (§15.1.2).
            RespondInvite(invite, SipStatus.RequestTerminated, now, call.LocalTag);
        }

        // After a 202 many PBXs end our leg themselves once the target has answered (RFC 5589 §6 lets either side);
        // without the final NOTIFY the agent cannot tell that from the caller giving up, so the reason says both.
        EndCall(call, call.Transfer is { State: SipTransferState.Accepted } transfer ? $"the peer ended the call during the transfer to {transfer.Target}" : "caller hung up");
    }

    private void HandleOptions(SipServerTransaction tx, long now)
    {
        // PBX and trunk keep-alives ("qualify"): always 200 with our capabilities, in or out of a dialog.
        var response = NewResponse(tx, SipStatus.Ok);
        response.Headers.Add(SipHeaderNames.Allow, SipMethods.Allowed);
        response.Headers.Add(SipHeaderNames.Accept, "application/sdp");
        response.Headers.Add(SipHeaderNames.Contact, $"<sip:voiceagent@{HostPort()}>");
        Respond(tx, response, now);
    }

    private void HandleInfo(SipServerTransaction tx, long now)
    {
        var request = tx.Request;
        if (!TryAcceptInDialog(tx, now, out var call))
        {
            return;
        }

        var type = request.ContentType?.Split(';')[0].Trim() ?? "";
        char? digit = null;
        if (type.Equals("application/dtmf-relay", StringComparison.OrdinalIgnoreCase))
        {
            // "Signal=5\r\nDuration=160": the de-facto SIP INFO DTMF format (Cisco, Asterisk, FreeSWITCH).
            foreach (var line in Encoding.UTF8.GetString(request.Body.Span).Split('\n'))
            {
                var parts = line.Split('=', 2);
                if (parts.Length == 2 && parts[0].Trim().Equals("Signal", StringComparison.OrdinalIgnoreCase))
                {
                    digit = ParseDigit(parts[1].Trim());
                }
            }
        }
        else if (type.Equals("application/dtmf", StringComparison.OrdinalIgnoreCase))
        {
            digit = ParseDigit(Encoding.UTF8.GetString(request.Body.Span).Trim());
        }
        else if (!request.Body.IsEmpty)
        {
            var unsupported = NewResponse(tx, SipStatus.UnsupportedMediaType, toTag: call.LocalTag);
            unsupported.Headers.Add(SipHeaderNames.Accept, "application/dtmf-relay, application/dtmf");
            Respond(tx, unsupported, now);
            return;
        }

        Respond(tx, NewResponse(tx, SipStatus.Ok, toTag: call.LocalTag), now);
        if (digit is { } d)
        {
            call.Media?.Dtmf(d);
        }
    }

    private static char? ParseDigit(string text) => text switch
    {
        { Length: 1 } when "0123456789*#ABCDabcd".Contains(text[0], StringComparison.Ordinal) => char.ToUpperInvariant(text[0]),
        "10" => '*',
        "11" => '#',
        _ => null,
    };

    /// <summary>In-dialog requests must carry a higher CSeq than the last one (§12.2.2); a lower one gets 500.</summary>
    private bool CheckCSeq(SipServerTransaction tx, SipCall call, long now)
    {
        var number = tx.Request.CSeq.Number;
        if (number < call.RemoteCSeq || (number == call.RemoteCSeq && tx.Request.Method != SipMethods.Bye && tx != call.InviteTransaction))
        {
            Respond(tx, NewResponse(tx, SipStatus.ServerInternalError, "CSeq Out of Order", call.LocalTag), now);
            return false;
        }

        call.RemoteCSeq = number;
        return true;
    }

    /// <summary>
    /// The dialog of an in-dialog request (BYE, INFO, NOTIFY) whose CSeq is in order; otherwise it has been answered
    /// (481 for an unknown dialog, 500 for an old CSeq) and this returns false.
    /// </summary>
    private bool TryAcceptInDialog(SipServerTransaction tx, long now, [NotNullWhen(true)] out SipCall? call)
    {
        if (!TryFindDialog(tx.Request, out call))
        {
            Respond(tx, NewResponse(tx, SipStatus.CallDoesNotExist), now);
            return false;
        }

        return CheckCSeq(tx, call, now);
    }

    private bool TryFindDialog(SipRequest request, [NotNullWhen(true)] out SipCall? call)
    {
        call = null;
        return request.To.Tag is { } tag && _calls.TryGetValue(SipCall.KeyOf(request.CallId, tag), out call);
    }

    /// <summary>Sends BYE in the dialog as a client transaction (§15.1.1).</summary>
    private void SendBye(SipCall call, long now) => SendInDialog(call, SipMethods.Bye, now);

    /// <summary>
    /// Sends a request of ours in the dialog (§12.2.1.1: To/From swapped, Route from the route set, the next CSeq) as a
    /// non-INVITE client transaction: timer E resends it until a final response, timer F gives up. Returns its key.
    /// </summary>
    private string SendInDialog(SipCall call, string method, long now, Action<SipHeaderList>? addHeaders = null, string? callKey = null)
    {
        var branch = NewBranch();
        call.LocalCSeq++;
        var request = new SipRequest(method, call.RemoteTarget);
        var headers = request.Headers;
        headers.Add(SipHeaderNames.Via, $"SIP/2.0/UDP {HostPort()};branch={branch};rport");
        headers.Add(SipHeaderNames.MaxForwards, "70");
        foreach (var route in call.RouteSet)
        {
            headers.Add(SipHeaderNames.Route, route);
        }

        headers.Add(SipHeaderNames.From, call.LocalTo);
        headers.Add(SipHeaderNames.To, call.RemoteFrom);
        headers.Add(SipHeaderNames.CallId, call.CallId);
        headers.Add(SipHeaderNames.CSeq, $"{call.LocalCSeq.ToString(CultureInfo.InvariantCulture)} {method}");
        addHeaders?.Invoke(headers);
        headers.Add(SipHeaderNames.UserAgent, _settings.Product);
        var bytes = SipMessageWriter.ToBytes(request);
        _transport.Send(bytes, call.Peer);
        var key = $"{branch}|{method}";
        _clientTransactions[key] = new SipClientTransaction(key, bytes, call.Peer, now, _settings.Timers) { CallKey = callKey };
        return key;
    }

    private void EndCall(SipCall call, string reason)
    {
        if (call.State == SipCallState.Ended)
        {
            return;
        }

        call.State = SipCallState.Ended;
        call.EndReason = reason;
        call.AnswerAt = long.MaxValue;
        call.PendingOk = null;
        _calls.Remove(call.Key);
        Interlocked.Increment(ref Counters.CallsEndedCount);
        _logger.LogInformation("Call {CallId} ended: {Reason}", call.CallId, reason);
        call.Media?.Stop(reason);
    }
}
