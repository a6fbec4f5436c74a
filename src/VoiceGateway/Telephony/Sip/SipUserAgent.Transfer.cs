using System.Globalization;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// Blind transfer by the agent (RFC 3515 REFER, RFC 5589 §6): the agent asks the caller's side to call the target,
/// follows the implicit subscription's NOTIFYs (message/sipfrag bodies), and leaves the call with a BYE once the
/// target answered. A refused, failed or unanswered transfer leaves the call with the agent, so the caller is never
/// dropped by a transfer that did not happen.
/// </summary>
public sealed partial class SipUserAgent
{
    /// <summary>Asks the caller's side to call <paramref name="target"/> (a SIP or tel URI) with a REFER.</summary>
    public void Transfer(string callKey, string target, long now)
    {
        if (!_calls.TryGetValue(callKey, out var call))
        {
            return;
        }

        if (call.State != SipCallState.Confirmed)
        {
            // Before the ACK the dialog is not confirmed; the media only asks after a reply has played, so this is rare.
            _logger.LogWarning("Call {CallId}: transfer to {Target} not sent, the call is {State}", call.CallId, target, call.State);
            return;
        }

        if (call.Transfer is { } pending)
        {
            _logger.LogInformation("Call {CallId}: a transfer to {Target} is already in progress", call.CallId, pending.Target);
            return;
        }

        var contact = $"<sip:voiceagent@{HostPort()}>";
        var key = SendInDialog(call, SipMethods.Refer, now, headers =>
        {
            headers.Add(SipHeaderNames.Contact, contact);
            headers.Add(SipHeaderNames.ReferTo, $"<{target}>");
            headers.Add(SipHeaderNames.ReferredBy, contact);
        }, call.Key);
        call.Transfer = new SipTransfer(target, key, long.MaxValue);
        Interlocked.Increment(ref Counters.TransfersRequestedCount);
        _logger.LogInformation("Call {CallId}: REFER to {Target}", call.CallId, target);
    }

    /// <summary>The final response to our REFER: 2xx starts the wait for the outcome, anything else ends the attempt.</summary>
    private void OnReferAnswered(string callKey, string transactionKey, SipResponse response, long now)
    {
        if (!_calls.TryGetValue(callKey, out var call) || call.Transfer is not { } transfer || transfer.TransactionKey != transactionKey)
        {
            return;
        }

        if (response.StatusCode < 300)
        {
            // A NOTIFY may already have moved it on (UDP reorders); only a still-pending REFER starts its wait here.
            if (transfer.State == SipTransferState.Requested)
            {
                transfer.State = SipTransferState.Accepted;
                transfer.GiveUpAt = now + _settings.TransferTimeoutMs;
            }

            return;
        }

        TransferFailed(call, $"the REFER was answered {response.StatusCode} {response.ReasonPhrase}");
    }

    /// <summary>Timer F fired for our REFER: the peer never answered it.</summary>
    private void OnReferTimedOut(string callKey, string transactionKey)
    {
        if (_calls.TryGetValue(callKey, out var call) && call.Transfer?.TransactionKey == transactionKey)
        {
            TransferFailed(call, "the REFER was not answered");
        }
    }

    /// <summary>An accepted transfer that has not reported its outcome in time is given up (checked on each tick).</summary>
    private void CheckTransferTimeout(SipCall call, long now)
    {
        if (call.Transfer is { State: SipTransferState.Accepted } transfer && now >= transfer.GiveUpAt)
        {
            TransferFailed(call, $"no final NOTIFY within {_settings.TransferTimeoutMs} ms");
        }
    }

    /// <summary>
    /// A NOTIFY of the REFER's implicit subscription (RFC 3515 §2.4.4): its sipfrag body is the status line the target
    /// answered the caller's side with. 1xx: still trying; 2xx: done, the agent leaves with a BYE; 3xx–6xx: failed.
    /// </summary>
    private void HandleNotify(SipServerTransaction tx, long now)
    {
        var request = tx.Request;
        if (!TryAcceptInDialog(tx, now, out var call))
        {
            return;
        }

        var package = request.Headers.Get(SipHeaderNames.Event)?.Split(';')[0].Trim() ?? "";
        if (!package.Equals("refer", StringComparison.OrdinalIgnoreCase))
        {
            Respond(tx, NewResponse(tx, SipStatus.BadEvent, toTag: call.LocalTag), now);
            return;
        }

        if (call.Transfer is not { } transfer)
        {
            Respond(tx, NewResponse(tx, SipStatus.CallDoesNotExist, "Subscription Does Not Exist", call.LocalTag), now);
            return;
        }

        var type = request.ContentType?.Split(';')[0].Trim() ?? "";
        if (!type.Equals("message/sipfrag", StringComparison.OrdinalIgnoreCase))
        {
            var unsupported = NewResponse(tx, SipStatus.UnsupportedMediaType, toTag: call.LocalTag);
            unsupported.Headers.Add(SipHeaderNames.Accept, "message/sipfrag");
            Respond(tx, unsupported, now);
            return;
        }

        if (!TryParseSipfragStatus(request.Body.Span, out var status))
        {
            Respond(tx, NewResponse(tx, SipStatus.BadRequest, "Sipfrag Without A Status Line", call.LocalTag), now);
            return;
        }

        Respond(tx, NewResponse(tx, SipStatus.Ok, toTag: call.LocalTag), now);
        if (status is >= 200 and < 300)
        {
            Interlocked.Increment(ref Counters.TransfersCompletedCount);
            call.Transfer = null;
            SendBye(call, now);
            EndCall(call, $"transferred to {transfer.Target}");
        }
        else if (status >= 300)
        {
            TransferFailed(call, $"the transfer target answered {status.ToString(CultureInfo.InvariantCulture)}");
        }
        else
        {
            var state = request.Headers.Get(SipHeaderNames.SubscriptionState)?.Split(';')[0].Trim() ?? "";
            if (state.Equals("terminated", StringComparison.OrdinalIgnoreCase))
            {
                TransferFailed(call, "the subscription ended without a final status");
            }
            else if (transfer.State == SipTransferState.Requested)
            {
                // Progress before the 202 (reordered): the REFER was evidently accepted.
                transfer.State = SipTransferState.Accepted;
                transfer.GiveUpAt = now + _settings.TransferTimeoutMs;
            }
        }
    }

    private void TransferFailed(SipCall call, string why)
    {
        var target = call.Transfer?.Target;
        call.Transfer = null;
        Interlocked.Increment(ref Counters.TransfersFailedCount);
        _logger.LogWarning("Call {CallId}: transfer to {Target} failed ({Why}); the caller stays with the agent", call.CallId, target, why);
    }

    /// <summary>Reads the status code of a sipfrag's first line ("SIP/2.0 200 OK").</summary>
    internal static bool TryParseSipfragStatus(ReadOnlySpan<byte> body, out int status)
    {
        status = 0;
        var text = Encoding.UTF8.GetString(body).TrimStart();
        var end = text.IndexOfAny(['\r', '\n']);
        var line = end < 0 ? text : text[..end];
        var parts = line.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 2
            && parts[0].Equals("SIP/2.0", StringComparison.OrdinalIgnoreCase)
            && parts[1].Length == 3
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out status)
            && status is >= 100 and < 700;
    }
}
