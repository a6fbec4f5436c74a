using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.CallActions;

/// <summary>
/// One call's pending action (telephony transports, where the gateway itself hangs up or transfers): a finished reply
/// that matches a rule arms it, a barge-in on that reply disarms it, and the media loop collects it once the reply's
/// audio has all left and <see cref="CallActionPolicy.AfterReply"/> has passed. Events arrive on the session's event
/// loop and polls on the media loop, hence the lock (held for a few field writes).
/// </summary>
/// <param name="policy">The rules.</param>
/// <param name="playoutLeadMs">Audio the transport sends ahead of real time (the caller hears the end that much later).</param>
public sealed class ReplyActionTracker(CallActionPolicy policy, int playoutLeadMs = 0)
{
    private readonly object _gate = new();
    private readonly long _afterReplyMs = (long)policy.AfterReply.TotalMilliseconds + playoutLeadMs;
    private CallAction? _pending;
    private int _pendingTurn;
    private long _drainedAt = -1;

    /// <summary>Follows the session: <see cref="SessionEventKind.ReplyDone"/> arms, <see cref="SessionEventKind.BargeIn"/> disarms.</summary>
    public void OnEvent(SessionEvent e)
    {
        switch (e.Kind)
        {
            case SessionEventKind.ReplyDone when policy.ForReply(e.Text) is { } action:
                lock (_gate)
                {
                    _pending = action;
                    _pendingTurn = e.TurnId;
                    _drainedAt = -1;
                }

                break;
            case SessionEventKind.BargeIn:
                lock (_gate)
                {
                    // The caller interrupted the reply that announced the action: they did not hear it, so do not act.
                    if (_pending is not null && _pendingTurn <= e.TurnId)
                    {
                        _pending = null;
                    }
                }

                break;
        }
    }

    /// <summary>
    /// Called by the media loop after each frame with whether it sent reply audio; returns the action (once) when the
    /// reply has finished playing out, else null. <paramref name="nowMs"/> is any monotonic millisecond clock;
    /// <paramref name="turn"/> is the turn whose reply asked for the action.
    /// </summary>
    public CallAction? Poll(bool replyAudioSent, long nowMs, out int turn)
    {
        lock (_gate)
        {
            turn = _pendingTurn;
            if (_pending is not { } action)
            {
                return null;
            }

            // Every frame of the reply was queued before ReplyDone armed the action, so the first frame without reply
            // audio after it means the reply has been sent in full.
            if (replyAudioSent)
            {
                _drainedAt = -1;
                return null;
            }

            if (_drainedAt < 0)
            {
                _drainedAt = nowMs;
            }

            if (nowMs - _drainedAt < _afterReplyMs)
            {
                return null;
            }

            _pending = null;
            return action;
        }
    }
}
