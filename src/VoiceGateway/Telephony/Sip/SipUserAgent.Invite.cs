using System.Net;
using VoiceAgent.Gateway.Telephony.Sdp;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>INVITE, re-INVITE, ACK and CANCEL.</summary>
public sealed partial class SipUserAgent
{
    private void HandleInitialInvite(SipServerTransaction tx, IPEndPoint source, long now)
    {
        var request = tx.Request;
        Interlocked.Increment(ref Counters.CallsOfferedCount);

        // 100 at once: it stops the caller's INVITE retransmissions (timer A) whatever happens next.
        Respond(tx, NewResponse(tx, SipStatus.Trying), now);

        if (!CheckRequire(tx, now) || !TryReadOffer(tx, now, out var offer))
        {
            Interlocked.Increment(ref Counters.CallsRejectedCount);
            return;
        }

        var localTag = NewTag();
        var callKey = SipCall.KeyOf(request.CallId, localTag);
        var info = new SipCallInfo(request.CallId, request.Headers.Get(SipHeaderNames.From)!, request.Headers.Get(SipHeaderNames.To)!, source)
        {
            RequestHangup = reason => _dispatch(() => Hangup(callKey, reason, _clock())),
            RequestTransfer = target => _dispatch(() => Transfer(callKey, target, _clock())),
        };

        var reservation = _media.Reserve(info);
        if (reservation.Media is not { } media)
        {
            Interlocked.Increment(ref Counters.CallsRejectedCount);
            RespondInvite(tx, reservation.RejectStatus is >= 400 and < 700 ? reservation.RejectStatus : SipStatus.ServiceUnavailable, now, localTag, reservation.RejectReason);
            return;
        }

        var local = new SdpLocalMedia(_settings.MediaAddress ?? _settings.AdvertisedHost, media.LocalRtpPort);
        SdpMediaPlan? plan = null;
        string body;
        if (offer is not null)
        {
            var answer = SdpNegotiator.Answer(offer, local);
            if (answer.Plan is null)
            {
                media.Stop(answer.FailureReason!);
                Interlocked.Increment(ref Counters.CallsRejectedCount);
                var reject = NewResponse(tx, SipStatus.NotAcceptableHere, toTag: localTag);
                reject.Headers.Add(SipHeaderNames.Warning, $"305 {_settings.AdvertisedHost} \"{answer.FailureReason}\"");
                Respond(tx, reject, now);
                return;
            }

            plan = answer.Plan;
            body = answer.AnswerSdp!;
        }
        else
        {
            body = SdpNegotiator.CreateOffer(local);
        }

        var call = new SipCall(request, localTag, source, now)
        {
            LocalSdp = local,
            Media = media,
            InviteTransaction = tx,
            Plan = plan,
            PendingAnswerSdp = body,
            AwaitingAnswerInAck = offer is null,
        };
        tx.Call = call;
        _calls[call.Key] = call;

        var ringing = NewResponse(tx, SipStatus.Ringing, toTag: localTag);
        AddDialogHeaders(ringing, request);
        Respond(tx, ringing, now);

        if (_settings.RingMs <= 0)
        {
            Answer(call, now);
        }
        else
        {
            call.AnswerAt = now + _settings.RingMs;
        }
    }

    private void Answer(SipCall call, long now)
    {
        var tx = call.InviteTransaction!;
        var ok = NewResponse(tx, SipStatus.Ok, toTag: call.LocalTag);
        AddDialogHeaders(ok, tx.Request);
        ok.Headers.Add(SipHeaderNames.Allow, SipMethods.Allowed);
        ok.Headers.Add(SipHeaderNames.ContentType, "application/sdp");
        ok.Body = System.Text.Encoding.UTF8.GetBytes(call.PendingAnswerSdp!);
        var bytes = Respond(tx, ok, now);

        call.State = SipCallState.Answered;
        call.AnswerAt = long.MaxValue;
        call.AnsweredAt = now;
        StartOkRetransmission(call, bytes, tx.Request.CSeq.Number, now);
        Interlocked.Increment(ref Counters.CallsAnsweredCount);
        _logger.LogInformation("Call {CallId} from {From} answered in {Ms} ms ({Codec})", call.CallId, call.RemoteFrom, now - call.InviteReceivedAt, call.Plan?.Codec.ToString() ?? "offer in 200");
        if (call.Plan is { } plan)
        {
            call.Media!.Start(plan);
            call.MediaStarted = true;
        }
    }

    private void StartOkRetransmission(SipCall call, byte[] ok, long cseq, long now)
    {
        call.PendingOk = ok;
        call.PendingOkCSeq = cseq;
        call.OkInterval = _settings.Timers.T1;
        call.OkRetransmitAt = now + _settings.Timers.T1;
        call.OkGiveUpAt = now + _settings.Timers.GiveUp;
    }

    /// <summary>A final non-2xx answer to an INVITE (with our To tag so the ACK can match it).</summary>
    private void RespondInvite(SipServerTransaction tx, int status, long now, string? toTag, string? reason = null)
    {
        var response = NewResponse(tx, status, toTag: toTag);
        if (reason is not null)
        {
            response.Headers.Add(SipHeaderNames.Warning, $"399 {_settings.AdvertisedHost} \"{reason}\"");
        }

        if (status == SipStatus.ServiceUnavailable || status == SipStatus.BusyHere)
        {
            response.Headers.Add(SipHeaderNames.RetryAfter, "5");
        }

        Respond(tx, response, now);
    }

    private void HandleReInvite(SipServerTransaction tx, IPEndPoint source, long now)
    {
        var request = tx.Request;
        if (!TryFindDialog(request, out var call))
        {
            Respond(tx, NewResponse(tx, SipStatus.CallDoesNotExist), now);
            return;
        }

        if (call.InviteTransaction is { LastStatus: < 200 })
        {
            // §14.2: an INVITE still being answered; the caller retries after Retry-After.
            var pending = NewResponse(tx, SipStatus.ServerInternalError, "Previous INVITE Still Pending", call.LocalTag);
            pending.Headers.Add(SipHeaderNames.RetryAfter, "1");
            Respond(tx, pending, now);
            return;
        }

        if (!CheckCSeq(tx, call, now))
        {
            return;
        }

        Respond(tx, NewResponse(tx, SipStatus.Trying), now);
        if (!CheckRequire(tx, now) || !TryReadOffer(tx, now, out var offer))
        {
            return;
        }

        call.Peer = source;
        string body;
        SdpMediaPlan? plan = null;
        if (offer is not null)
        {
            var answer = SdpNegotiator.Answer(offer, call.LocalSdp!);
            if (answer.Plan is null)
            {
                // §14.2: a rejected re-INVITE leaves the session as it was.
                var reject = NewResponse(tx, SipStatus.NotAcceptableHere, toTag: call.LocalTag);
                reject.Headers.Add(SipHeaderNames.Warning, $"305 {_settings.AdvertisedHost} \"{answer.FailureReason}\"");
                Respond(tx, reject, now);
                return;
            }

            plan = answer.Plan;
            body = answer.AnswerSdp!;
        }
        else
        {
            body = SdpNegotiator.CreateOffer(call.LocalSdp!);
        }

        call.InviteTransaction = tx;
        call.AwaitingAnswerInAck = offer is null;
        tx.Call = call;
        var ok = NewResponse(tx, SipStatus.Ok, toTag: call.LocalTag);
        AddDialogHeaders(ok, request);
        ok.Headers.Add(SipHeaderNames.Allow, SipMethods.Allowed);
        ok.Headers.Add(SipHeaderNames.ContentType, "application/sdp");
        ok.Body = System.Text.Encoding.UTF8.GetBytes(body);
        var bytes = Respond(tx, ok, now);
        StartOkRetransmission(call, bytes, request.CSeq.Number, now);
        if (plan is not null)
        {
            _logger.LogInformation("Call {CallId} re-INVITE: {Direction}{Hold}", call.CallId, plan.Direction, plan.OnHold ? " (hold)" : "");
            ApplyPlan(call, plan);
        }
    }

    private static void ApplyPlan(SipCall call, SdpMediaPlan plan)
    {
        call.Plan = plan;
        if (call.MediaStarted)
        {
            call.Media!.Update(plan);
        }
        else
        {
            call.Media!.Start(plan);
            call.MediaStarted = true;
        }
    }

    private void HandleAck(SipRequest ack, IPEndPoint source, long now)
    {
        // ACK for a non-2xx final response: same branch as the INVITE, handled by the INVITE transaction.
        if (_serverTransactions.TryGetValue(SipServerTransaction.KeyFor(ack), out var invite) && invite.LastStatus >= 300)
        {
            if (invite.State == SipTransactionState.Completed)
            {
                invite.State = SipTransactionState.Confirmed; // timer I: absorb ACK retransmissions for T4
                invite.RetransmitAt = long.MaxValue;
                invite.ExpireAt = now + _settings.Timers.T4;
            }

            return;
        }

        // ACK for a 2xx: a new transaction of its own, matched to the dialog (§13.2.2.4).
        if (!TryFindDialog(ack, out var call) || call.PendingOk is null || ack.CSeq.Number != call.PendingOkCSeq)
        {
            if (call is null)
            {
                Interlocked.Increment(ref Counters.StrayCount);
            }

            return;
        }

        call.PendingOk = null;
        call.OkRetransmitAt = long.MaxValue;
        call.OkGiveUpAt = long.MaxValue;
        call.Peer = source;
        if (call.State == SipCallState.Answered)
        {
            call.State = SipCallState.Confirmed;
            _logger.LogDebug("Call {CallId} confirmed {Ms} ms after the INVITE", call.CallId, now - call.InviteReceivedAt);
        }

        if (!call.AwaitingAnswerInAck)
        {
            return;
        }

        call.AwaitingAnswerInAck = false;
        SdpMediaPlan? plan = null;
        if (ack.HasSdpBody)
        {
            try
            {
                plan = SdpNegotiator.AcceptAnswer(SdpSessionDescription.Parse(ack.Body.Span));
            }
            catch (SdpParseException ex)
            {
                _logger.LogWarning("Call {CallId}: the SDP answer in the ACK is malformed ({Error})", call.CallId, ex.Message);
            }
        }

        if (plan is null)
        {
            // We offered in the 200 and got no usable answer: there is no session to keep (§13.2.1).
            SendBye(call, now);
            EndCall(call, "no usable SDP answer in the ACK");
            return;
        }

        ApplyPlan(call, plan);
    }

    private void HandleCancel(SipServerTransaction tx, long now)
    {
        var request = tx.Request;
        var inviteKey = SipServerTransaction.KeyFor(request, SipMethods.Invite);
        if (!_serverTransactions.TryGetValue(inviteKey, out var invite))
        {
            Respond(tx, NewResponse(tx, SipStatus.CallDoesNotExist), now);
            return;
        }

        // §9.2: the CANCEL itself is always answered 200; it only matters while the INVITE has no final response.
        Respond(tx, NewResponse(tx, SipStatus.Ok, toTag: invite.Call?.LocalTag), now);
        if (invite.LastStatus >= 200)
        {
            return;
        }

        Interlocked.Increment(ref Counters.CallsCancelledCount);
        RespondInvite(invite, SipStatus.RequestTerminated, now, invite.Call?.LocalTag);
        if (invite.Call is { } call)
        {
            EndCall(call, "cancelled by the caller");
        }
    }

    /// <summary>Rejects with 420 when the request requires an extension we do not support (we support none).</summary>
    private bool CheckRequire(SipServerTransaction tx, long now)
    {
        var required = tx.Request.Headers.GetEntries(SipHeaderNames.Require);
        if (required.Count == 0)
        {
            return true;
        }

        var response = NewResponse(tx, SipStatus.BadExtension, toTag: tx.Call?.LocalTag);
        response.Headers.Add(SipHeaderNames.Unsupported, string.Join(", ", required));
        Respond(tx, response, now);
        return false;
    }

    /// <summary>Reads the SDP offer (null when the INVITE has none); answers 415/400 and returns false when it is unusable.</summary>
    private bool TryReadOffer(SipServerTransaction tx, long now, out SdpSessionDescription? offer)
    {
        offer = null;
        var request = tx.Request;
        if (request.Body.IsEmpty)
        {
            return true;
        }

        if (!request.HasSdpBody)
        {
            var unsupported = NewResponse(tx, SipStatus.UnsupportedMediaType);
            unsupported.Headers.Add(SipHeaderNames.Accept, "application/sdp");
            Respond(tx, unsupported, now);
            return false;
        }

        try
        {
            offer = SdpSessionDescription.Parse(request.Body.Span);
            return true;
        }
        catch (SdpParseException ex)
        {
            var bad = NewResponse(tx, SipStatus.BadRequest, "Malformed SDP Body");
            bad.Headers.Add(SipHeaderNames.Warning, $"399 {_settings.AdvertisedHost} \"{ex.Message}\"");
            Respond(tx, bad, now);
            return false;
        }
    }

    /// <summary>Contact (our address) and the INVITE's Record-Route (§12.1.1) on dialog-creating responses.</summary>
    private void AddDialogHeaders(SipResponse response, SipRequest request)
    {
        response.Headers.Add(SipHeaderNames.Contact, $"<sip:voiceagent@{HostPort()}>");
        response.Headers.CopyFrom(request.Headers, SipHeaderNames.RecordRoute);
    }

    private string HostPort()
    {
        var host = _settings.AdvertisedHost.Contains(':', StringComparison.Ordinal) ? $"[{_settings.AdvertisedHost}]" : _settings.AdvertisedHost;
        return $"{host}:{_settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
    }
}
