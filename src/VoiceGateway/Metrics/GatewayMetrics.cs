using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace VoiceAgent.Gateway.Metrics;

/// <summary>
/// Process-wide gateway counters, gauges and the engine first-packet histogram, rendered in the Prometheus text
/// format at <c>/metrics</c>. Every transport (websocket, signalr, sip, twilio, …) reports through the same calls
/// with its own <c>transport</c> label. All members are thread-safe and lock-free on the hot path (Interlocked on
/// pre-created cells), because they are called from every session's send and receive loops.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>Upper bounds (seconds) of the first-packet histogram: the 300 ms budget sits in the middle.</summary>
    public static readonly double[] FirstPacketBucketsSeconds = [0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2, 5];

    private readonly ConcurrentDictionary<string, TransportCells> _transports = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string Transport, string Kind), Counter> _errors = new();
    private readonly ConcurrentDictionary<(string Transport, string Reason), Counter> _rejections = new();
    private readonly ConcurrentDictionary<(string Transport, string Action), Counter> _callActions = new();

    /// <summary>Makes <paramref name="transport"/> appear in every series (at zero) before its first session.</summary>
    public void RegisterTransport(string transport) => Cells(transport);

    /// <summary>A caller session started on <paramref name="transport"/>.</summary>
    public void SessionOpened(string transport)
    {
        var cells = Cells(transport);
        Interlocked.Increment(ref cells.Active);
        Interlocked.Increment(ref cells.Opened);
    }

    /// <summary>A caller session ended (pairs with <see cref="SessionOpened"/>).</summary>
    public void SessionClosed(string transport) => Interlocked.Decrement(ref Cells(transport).Active);

    /// <summary>A connection was refused before a session opened (<paramref name="reason"/>: capacity, auth, origin, …).</summary>
    public void SessionRejected(string transport, string reason) => _rejections.GetOrAdd((transport, reason), static _ => new Counter()).Increment();

    /// <summary>A user turn was answered (the reply finished or was interrupted).</summary>
    public void TurnCompleted(string transport) => Interlocked.Increment(ref Cells(transport).Turns);

    /// <summary>Something went wrong in one session (<paramref name="kind"/>: a protocol error code, reply_failed, …).</summary>
    public void Error(string transport, string kind) => _errors.GetOrAdd((transport, kind), static _ => new Counter()).Increment();

    /// <summary>A reply's call action was carried out (SIP REFER or BYE, Twilio stream close) or sent (call_action event).</summary>
    public void CallAction(string transport, string action) => _callActions.GetOrAdd((transport, action), static _ => new Counter()).Increment();

    /// <summary>Reply audio frames discarded because a client did not read fast enough.</summary>
    public void DroppedFrames(string transport, long count)
    {
        if (count > 0)
        {
            Interlocked.Add(ref Cells(transport).DroppedFrames, count);
        }
    }

    /// <summary>Engine first packet of a turn: end of the caller's turn to the first reply audio frame, in milliseconds.</summary>
    public void ObserveFirstPacket(string transport, double milliseconds)
    {
        if (double.IsNaN(milliseconds) || milliseconds < 0)
        {
            return;
        }

        Cells(transport).FirstPacket.Observe(milliseconds / 1000.0);
    }

    /// <summary>Sessions open now on <paramref name="transport"/>.</summary>
    public long ActiveSessions(string transport) => _transports.TryGetValue(transport, out var cells) ? Interlocked.Read(ref cells.Active) : 0;

    /// <summary>Sessions open now on every transport.</summary>
    public long TotalActiveSessions => _transports.Values.Sum(c => Interlocked.Read(ref c.Active));

    /// <summary>Frames dropped so far on <paramref name="transport"/>.</summary>
    public long DroppedFrameCount(string transport) => _transports.TryGetValue(transport, out var cells) ? Interlocked.Read(ref cells.DroppedFrames) : 0;

    /// <summary>Renders every metric in the Prometheus text exposition format (version 0.0.4).</summary>
    public string RenderPrometheus()
    {
        var text = new StringBuilder(2048);
        var transports = _transports.OrderBy(p => p.Key, StringComparer.Ordinal).ToArray();

        Header(text, "voiceagent_sessions_active", "gauge", "Caller sessions open now.");
        foreach (var (transport, cells) in transports)
        {
            Sample(text, "voiceagent_sessions_active", Labels(transport), Interlocked.Read(ref cells.Active));
        }

        Header(text, "voiceagent_sessions_opened_total", "counter", "Caller sessions opened since start.");
        foreach (var (transport, cells) in transports)
        {
            Sample(text, "voiceagent_sessions_opened_total", Labels(transport), Interlocked.Read(ref cells.Opened));
        }

        Header(text, "voiceagent_sessions_rejected_total", "counter", "Connections refused before a session opened, by reason.");
        foreach (var ((transport, reason), counter) in _rejections.OrderBy(p => p.Key))
        {
            Sample(text, "voiceagent_sessions_rejected_total", Labels(transport, ("reason", reason)), counter.Value);
        }

        Header(text, "voiceagent_turns_total", "counter", "User turns answered (finished or interrupted replies).");
        foreach (var (transport, cells) in transports)
        {
            Sample(text, "voiceagent_turns_total", Labels(transport), Interlocked.Read(ref cells.Turns));
        }

        Header(text, "voiceagent_errors_total", "counter", "Session errors by kind.");
        foreach (var ((transport, kind), counter) in _errors.OrderBy(p => p.Key))
        {
            Sample(text, "voiceagent_errors_total", Labels(transport, ("kind", kind)), counter.Value);
        }

        Header(text, "voiceagent_call_actions_total", "counter", "Replies that transferred or ended the call (docs/telephony.md, \"Call actions\").");
        foreach (var ((transport, action), counter) in _callActions.OrderBy(p => p.Key))
        {
            Sample(text, "voiceagent_call_actions_total", Labels(transport, ("action", action)), counter.Value);
        }

        Header(text, "voiceagent_dropped_frames_total", "counter", "Reply audio frames dropped because a client read too slowly.");
        foreach (var (transport, cells) in transports)
        {
            Sample(text, "voiceagent_dropped_frames_total", Labels(transport), Interlocked.Read(ref cells.DroppedFrames));
        }

        const string histogram = "voiceagent_engine_first_packet_seconds";
        Header(text, histogram, "histogram", "Engine first packet: end of the caller's turn to the first reply audio frame.");
        foreach (var (transport, cells) in transports)
        {
            cells.FirstPacket.Render(text, histogram, transport);
        }

        return text.ToString();
    }

    private TransportCells Cells(string transport) => _transports.GetOrAdd(transport, static _ => new TransportCells());

    private static void Header(StringBuilder text, string name, string type, string help) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append('\n')
            .Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string labels, double value) =>
        text.Append(name).Append(labels).Append(' ').Append(FormatValue(value)).Append('\n');

    internal static string FormatValue(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf" : value.ToString("R", CultureInfo.InvariantCulture);

    private static string Labels(string transport, params (string Name, string Value)[] more)
    {
        var text = new StringBuilder("{transport=\"").Append(Escape(transport)).Append('"');
        foreach (var (name, value) in more)
        {
            text.Append(',').Append(name).Append("=\"").Append(Escape(value)).Append('"');
        }

        return text.Append('}').ToString();
    }

    // Label values are free text (error kinds come from code, transports from other components): escape per the format.
    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal)
        .Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed class Counter
    {
        private long _value;

        public long Value => Interlocked.Read(ref _value);

        public void Increment() => Interlocked.Increment(ref _value);
    }

    private sealed class TransportCells
    {
        public long Active;
        public long Opened;
        public long Turns;
        public long DroppedFrames;
        public readonly Histogram FirstPacket = new(FirstPacketBucketsSeconds);
    }

    /// <summary>Cumulative-on-render histogram: each observation increments one bucket, rendering sums them.</summary>
    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _buckets = new long[bounds.Length + 1]; // last cell: above every bound
        private long _sumMicros; // the sum kept in integer microseconds so it can be added with Interlocked

        public void Observe(double seconds)
        {
            var index = Array.BinarySearch(bounds, seconds);
            if (index < 0)
            {
                index = ~index;
            }

            Interlocked.Increment(ref _buckets[index]);
            Interlocked.Add(ref _sumMicros, (long)Math.Round(seconds * 1e6));
        }

        public void Render(StringBuilder text, string name, string transport)
        {
            long cumulative = 0;
            for (var i = 0; i < bounds.Length; i++)
            {
                cumulative += Interlocked.Read(ref _buckets[i]);
                Sample(text, name + "_bucket", Labels(transport, ("le", FormatValue(bounds[i]))), cumulative);
            }

            cumulative += Interlocked.Read(ref _buckets[^1]);
            Sample(text, name + "_bucket", Labels(transport, ("le", "+Inf")), cumulative);
            Sample(text, name + "_sum", Labels(transport), Interlocked.Read(ref _sumMicros) / 1e6);
            // The count is the +Inf bucket (not _count) so a scrape racing an observation stays self-consistent.
            Sample(text, name + "_count", Labels(transport), cumulative);
        }
    }
}
