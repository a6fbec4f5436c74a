using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.Metrics;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>
/// The gateway-wide cap on concurrent caller sessions (<see cref="GatewayOptions.MaxSessions"/>), shared by every
/// transport so one busy transport cannot starve the engine for the others. A transport asks for a lease before it
/// opens an engine session and disposes the lease when the caller leaves; the lease also keeps the
/// active-session gauge in <see cref="GatewayMetrics"/> right.
/// </summary>
public sealed class SessionAdmission(IOptions<GatewayOptions> options, GatewayMetrics metrics)
{
    private int _active;

    /// <summary>Sessions holding a lease now.</summary>
    public int Active => Volatile.Read(ref _active);

    /// <summary>The configured cap.</summary>
    public int Capacity => options.Value.MaxSessions;

    /// <summary>Takes a slot for a new session, or returns false (and counts a rejection) when the gateway is full.</summary>
    public bool TryAdmit(string transport, [NotNullWhen(true)] out SessionLease? lease)
    {
        while (true)
        {
            var active = Volatile.Read(ref _active);
            if (active >= Capacity)
            {
                metrics.SessionRejected(transport, "capacity");
                lease = null;
                return false;
            }

            if (Interlocked.CompareExchange(ref _active, active + 1, active) == active)
            {
                metrics.SessionOpened(transport);
                lease = new SessionLease(this, transport);
                return true;
            }
        }
    }

    private void Release(string transport)
    {
        Interlocked.Decrement(ref _active);
        metrics.SessionClosed(transport);
    }

    /// <summary>One admitted session's slot; disposing it (once) frees the slot.</summary>
    public sealed class SessionLease : IDisposable
    {
        private readonly SessionAdmission _owner;
        private int _released;

        internal SessionLease(SessionAdmission owner, string transport)
        {
            _owner = owner;
            Transport = transport;
        }

        /// <summary>The transport label this session reports metrics under.</summary>
        public string Transport { get; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                _owner.Release(Transport);
            }
        }
    }
}
