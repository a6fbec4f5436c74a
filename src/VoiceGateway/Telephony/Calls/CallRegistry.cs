using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Calls;

/// <summary>
/// Every telephony call in progress plus a bounded history of ended ones, for <c>/v1/telephony/calls</c> and
/// operators. It is also the hook for an IVR host living in the gateway process: <see cref="SessionEvent"/> fires
/// for every engine event of every telephony call (DTMF digits, transcripts, barge-ins), on the call's event loop.
/// </summary>
public sealed class CallRegistry(IOptions<TelephonyOptions> options)
{
    private readonly ConcurrentDictionary<string, CallRecord> _active = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<CallRecord> _recent = new();

    /// <summary>Raised for each engine event of a telephony call. Handlers must be quick and must not throw.</summary>
    public event Action<CallRecord, SessionEvent>? SessionEvent;

    public IEnumerable<CallRecord> Active => _active.Values;

    public IEnumerable<CallRecord> Recent => _recent;

    public void Started(CallRecord call) => _active[call.Id] = call;

    public void Ended(CallRecord call)
    {
        if (!_active.TryRemove(call.Id, out _))
        {
            return;
        }

        _recent.Enqueue(call);
        while (_recent.Count > options.Value.RecentCalls && _recent.TryDequeue(out _))
        {
        }
    }

    internal void Publish(CallRecord call, SessionEvent e) => SessionEvent?.Invoke(call, e);
}
