using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VoiceAgent.Core.Audio;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.Gateway.Telephony.Sdp;
using VoiceAgent.Gateway.Telephony.Sip;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>What every call's media needs from the process (one instance, shared).</summary>
public sealed record RtpCallContext(
    VoiceAgentEngine Engine,
    TelephonyOptions Options,
    CallRegistry Registry,
    GatewayMetrics Metrics,
    CallActionPolicy CallActions,
    ILoggerFactory LoggerFactory);

/// <summary>
/// The RTP side of one SIP call, bridged to an engine session.
/// <para>
/// Receive loop: datagram → <see cref="RtpPacket"/> → symmetric-RTP latch (replies go where the caller's packets
/// come from) → audio into the <see cref="RtpJitterBuffer"/>, RFC 4733 events into the <see cref="DtmfEventDecoder"/>.
/// Media loop, every 20 ms of wall clock: one G.711 packet out (the next reply frame, or silence — a continuous
/// stream keeps NAT bindings and PBX RTP timers alive), then one 20 ms frame played out of the jitter buffer (lost
/// packets concealed) into the session. A late tick is caught up (at most 100 ms at once) so the packet rate and
/// the timestamps stay true to real time. Nothing here blocks the SIP thread: <see cref="Start"/>,
/// <see cref="Update"/> and <see cref="Stop"/> only set state and start or cancel tasks.
/// </para>
/// </summary>
public sealed class RtpCallMedia : ISipCallMedia, IDisposable
{
    private const int MaxCatchUpTicks = 5;
    private const int LatchIdleMs = 500; // another source may take over the stream after the current one is quiet this long

    private readonly Socket _socket;
    private readonly SipCallInfo _info;
    private readonly CallRecord _record;
    private readonly SessionAdmission.SessionLease _lease;
    private readonly RtpCallContext _context;
    private readonly ILogger _logger;
    private readonly object _jitterGate = new();
    private readonly object _digitGate = new();
    private readonly Queue<char> _pendingDigits = new(); // digits that arrive before the engine session is open
    private readonly RtpJitterBuffer _jitter;
    private readonly DtmfEventDecoder _dtmf = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly long _createdAt = Stopwatch.GetTimestamp();
    private volatile SdpMediaPlan? _plan;
    private volatile IPEndPoint? _sendTo;
    private IPEndPoint? _latched;
    private long _lastFromLatched;
    private long _lastPacketAt;
    private uint? _ssrc;
    private RtpPacketizer? _packetizer;
    private volatile EngineCallBridge? _bridge;
    private int _started;
    private int _stopped;
    private Task _receiveTask = Task.CompletedTask;
    private Task _mediaTask = Task.CompletedTask;

    public RtpCallMedia(Socket socket, SipCallInfo info, CallRecord record, SessionAdmission.SessionLease lease, RtpCallContext context)
    {
        _socket = socket;
        _info = info;
        _record = record;
        _lease = lease;
        _context = context;
        _logger = context.LoggerFactory.CreateLogger<RtpCallMedia>();
        LocalRtpPort = ((IPEndPoint)socket.LocalEndPoint!).Port;
        var depth = Math.Max(1, context.Options.Rtp.JitterBufferMs / EngineCallBridge.FrameMs);
        _jitter = new RtpJitterBuffer(capacity: Math.Max(64, depth * 4), targetDepth: depth);
        record.Jitter = _jitter.Stats;
    }

    public int LocalRtpPort { get; }

    public void Start(SdpMediaPlan plan)
    {
        if (Interlocked.Exchange(ref _started, 1) == 1 || _cts.IsCancellationRequested)
        {
            return;
        }

        Apply(plan, previous: null);
        _packetizer = new RtpPacketizer((byte)plan.PayloadType);
        _record.SetupMs = Stopwatch.GetElapsedTime(_createdAt).TotalMilliseconds;
        _record.State = "answered";
        _lastPacketAt = Environment.TickCount64;
        var token = _cts.Token;
        _receiveTask = Task.Run(() => ReceiveLoopAsync(token), CancellationToken.None);
        _mediaTask = Task.Run(() => MediaLoopAsync(token), CancellationToken.None);
    }

    public void Update(SdpMediaPlan plan)
    {
        var previous = _plan;
        Apply(plan, previous);
        if (_packetizer is { } packetizer)
        {
            packetizer.PayloadType = (byte)plan.PayloadType;
            if (previous is { OnHold: true } && !plan.OnHold)
            {
                packetizer.MarkTalkspurt(); // resuming: a new talkspurt for the caller's playout
            }
        }
    }

    public void Dtmf(char digit)
    {
        lock (_digitGate)
        {
            if (_bridge is { } bridge)
            {
                bridge.PushDtmf(digit);
            }
            else if (_pendingDigits.Count < 32)
            {
                _pendingDigits.Enqueue(digit);
            }
        }
    }

    public void Stop(string reason)
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            return;
        }

        _cts.Cancel();
        _ = Task.Run(async () =>
        {
            try
            {
                await Task.WhenAll(_receiveTask, _mediaTask).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // Expected while tearing down.
            }

            _bridge?.Dispose();
            _socket.Dispose();
            _lease.Dispose();
            _cts.Dispose();
            _record.End(reason);
            _context.Registry.Ended(_record);
        });
    }

    /// <summary>Same as <see cref="Stop"/>: the call's resources are released in the background.</summary>
    public void Dispose() => Stop("disposed");

    private void Apply(SdpMediaPlan plan, SdpMediaPlan? previous)
    {
        if (previous is null || !Equals(previous.RemoteRtp, plan.RemoteRtp))
        {
            // New peer address (answer, or a re-INVITE moving the media): latch afresh.
            _latched = null;
            _sendTo = plan.RemoteRtp;
            lock (_jitterGate)
            {
                _jitter.Reset();
            }
        }

        _plan = plan;
        _record.Codec = plan.Codec == G711Codec.Pcmu ? "PCMU" : "PCMA";
        _record.OnHold = plan.OnHold;
        _record.RemoteMedia = (_sendTo ?? plan.RemoteRtp)?.ToString();
        if (previous is not null)
        {
            _record.State = plan.OnHold ? "on hold" : "answered";
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[2048];
        EndPoint any = new IPEndPoint(_socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue; // ICMP errors surface on some stacks; the stream goes on
            }

            try
            {
                OnDatagram(buffer.AsSpan(0, received.ReceivedBytes), (IPEndPoint)received.RemoteEndPoint);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // One bad packet must never end the call.
                _record.InvalidPacket();
                _logger.LogDebug(ex, "Call {Call}: RTP packet failed", _record.Id);
            }
        }
    }

    private void OnDatagram(ReadOnlySpan<byte> data, IPEndPoint source)
    {
        var kind = RtpPacket.TryParse(data, out var packet);
        if (kind == RtpPacketKind.Rtcp)
        {
            return;
        }

        var plan = _plan;
        if (kind == RtpPacketKind.Invalid || plan is null)
        {
            _record.InvalidPacket();
            return;
        }

        var now = Environment.TickCount64;
        if (_latched is null || (!source.Equals(_latched) && now - _lastFromLatched > LatchIdleMs))
        {
            if (_latched is not null || !source.Equals(plan.RemoteRtp))
            {
                _logger.LogInformation("Call {Call}: RTP latched to {Source} (SDP said {Sdp})", _record.Id, source, plan.RemoteRtp);
            }

            _latched = source;
            _sendTo = source;
            _record.RemoteMedia = source.ToString();
        }
        else if (!source.Equals(_latched))
        {
            _record.InvalidPacket(); // a second source while the latched one is active: not this call's stream
            return;
        }

        _lastFromLatched = now;
        Volatile.Write(ref _lastPacketAt, now);
        _record.PacketIn();
        lock (_jitterGate)
        {
            if (_ssrc != packet.Ssrc)
            {
                if (_ssrc is not null)
                {
                    _record.SsrcChanged();
                    _jitter.Reset();
                }

                _ssrc = packet.Ssrc;
            }

            if (packet.PayloadType == plan.PayloadType)
            {
                _jitter.Insert(packet.SequenceNumber, packet.Payload);
                return;
            }

            // Event packets share the sequence space: mark their numbers so they are not concealed as losses.
            _jitter.MarkSkipped(packet.SequenceNumber);
        }

        if (packet.PayloadType == plan.DtmfPayloadType)
        {
            if (_dtmf.Process(packet.Payload, packet.Timestamp) is { } digit)
            {
                Dtmf(digit);
            }
        }
        else if (packet.PayloadType != 13)
        {
            _record.InvalidPacket(); // not negotiated (13 = comfort noise is tolerated and treated as silence)
        }
    }

    private async Task MediaLoopAsync(CancellationToken cancellationToken)
    {
        EngineCallBridge bridge;
        try
        {
            bridge = EngineCallBridge.Open(_context.Engine, _context.Options, _record, _context.Registry, _context.Metrics, "sip", _logger);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _logger.LogError(ex, "Call {Call}: could not open an engine session", _record.Id);
            _context.Metrics.Error("sip", "session_open_failed");
            _info.RequestHangup?.Invoke("engine session failed");
            return;
        }

        lock (_digitGate)
        {
            _bridge = bridge;
            while (_pendingDigits.TryDequeue(out var digit))
            {
                bridge.PushDtmf(digit);
            }
        }

        var actions = _context.CallActions.IsEnabled ? new ReplyActionTracker(_context.CallActions) : null;
        var events = bridge.RunEventsAsync(actions is null ? null : actions.OnEvent, cancellationToken);
        var state = new TickState();
        var clock = Stopwatch.StartNew();
        long done = 0;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(EngineCallBridge.FrameMs));
        try
        {
            do
            {
                var due = clock.ElapsedMilliseconds / EngineCallBridge.FrameMs;
                if (due - done > MaxCatchUpTicks)
                {
                    done = due - MaxCatchUpTicks; // a stall longer than 100 ms is not replayed in a burst
                }

                while (done < due)
                {
                    Tick(bridge, state);
                    done++;
                    if (actions?.Poll(state.SentReply, clock.ElapsedMilliseconds, out var turn) is { } action)
                    {
                        RunCallAction(action, turn);
                    }
                }

                CheckTimeouts();
            }
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            // Call ended.
        }

        await events.ConfigureAwait(false);
    }

    private void Tick(EngineCallBridge bridge, TickState state)
    {
        var plan = _plan!;
        if (plan.WeSend && _sendTo is { } destination && _packetizer is { } packetizer)
        {
            var payload = state.Payload.AsSpan(0, EngineCallBridge.FrameSamples);
            state.SentReply = bridge.TryReadReply(state.Reply, out _);
            if (state.SentReply)
            {
                if (plan.Codec == G711Codec.Pcmu)
                {
                    G711.MuLawEncode(state.Reply, payload);
                }
                else
                {
                    G711.ALawEncode(state.Reply, payload);
                }
            }
            else
            {
                payload.Fill(plan.Codec == G711Codec.Pcmu ? (byte)0xFF : (byte)0xD5); // G.711 silence
            }

            var length = packetizer.Write(payload, EngineCallBridge.FrameSamples, state.Packet);
            try
            {
                _socket.SendTo(state.Packet.AsSpan(0, length), SocketFlags.None, destination);
                _record.PacketOut();
            }
            catch (SocketException)
            {
                // Unreachable for now (ICMP); RTP is best effort and the next packet tries again.
            }
        }
        else
        {
            state.SentReply = true; // on hold (or no address yet) nothing is played: a pending call action waits
        }

        if (!plan.WeReceive)
        {
            return; // on hold: neither music-on-hold nor silence reaches the engine
        }

        PushOneFrame(bridge, state, plan);

        // A backlog (packets that queued while the session opened, or a sender clock running fast) is drained
        // a few frames per tick: the engine works on audio time, so early frames cost nothing and none is dropped.
        for (var extra = 0; extra < MaxCatchUpTicks; extra++)
        {
            int backlog;
            lock (_jitterGate)
            {
                backlog = _jitter.Buffered - (2 * _jitter.TargetDepth);
            }

            if (backlog <= 0)
            {
                break;
            }

            PushOneFrame(bridge, state, plan);
        }
    }

    /// <summary>Plays one 20 ms frame out of the jitter buffer (packets may be 10–60 ms long) into the session.</summary>
    private void PushOneFrame(EngineCallBridge bridge, TickState state, SdpMediaPlan plan)
    {
        while (state.FifoCount < EngineCallBridge.FrameSamples)
        {
            JitterPlayout result;
            int length;
            lock (_jitterGate)
            {
                result = _jitter.Playout(state.Payload, out length);
            }

            var space = state.Fifo.AsSpan(state.FifoCount);
            if (result == JitterPlayout.Packet)
            {
                var n = Math.Min(length, space.Length);
                var pcm = space[..n];
                if (plan.Codec == G711Codec.Pcmu)
                {
                    G711.MuLawDecode(state.Payload.AsSpan(0, n), pcm);
                }
                else
                {
                    G711.ALawDecode(state.Payload.AsSpan(0, n), pcm);
                }

                state.Concealer.Good(pcm);
                state.FifoCount += n;
            }
            else if (result == JitterPlayout.Lost)
            {
                var n = Math.Min(state.Concealer.LastFrameSamples > 0 ? state.Concealer.LastFrameSamples : EngineCallBridge.FrameSamples, space.Length);
                state.Concealer.Conceal(space[..n]);
                state.FifoCount += n;
            }
            else
            {
                var n = EngineCallBridge.FrameSamples - state.FifoCount;
                space[..n].Clear();
                state.FifoCount += n;
            }
        }

        bridge.PushCaller(state.Fifo.AsSpan(0, EngineCallBridge.FrameSamples));
        state.FifoCount -= EngineCallBridge.FrameSamples;
        state.Fifo.AsSpan(EngineCallBridge.FrameSamples, state.FifoCount).CopyTo(state.Fifo);
    }

    private void CheckTimeouts()
    {
        var rtp = _context.Options.Rtp;
        var silentMs = Environment.TickCount64 - Volatile.Read(ref _lastPacketAt);
        if (_plan is { OnHold: false } && silentMs > rtp.TimeoutSeconds * 1000L)
        {
            RequestHangupOnce($"no RTP for {rtp.TimeoutSeconds} s");
        }
        else if (Stopwatch.GetElapsedTime(_createdAt).TotalSeconds > rtp.MaxCallSeconds)
        {
            RequestHangupOnce($"call longer than {rtp.MaxCallSeconds} s");
        }
    }

    /// <summary>A reply asked to end or hand over the call and has finished playing (docs/telephony.md, "Call actions").</summary>
    private void RunCallAction(CallAction action, int turn)
    {
        if (action.Kind == CallActionKind.Hangup)
        {
            _context.Metrics.CallAction("sip", action.Name);
            RequestHangupOnce(action.EndReason(turn));
        }
        else if (action.Target is not { } target)
        {
            _logger.LogWarning("Call {Call}: reply {Turn} announced a transfer, but CallActions:TransferTarget is not set; the call stays with the agent", _record.Id, turn);
        }
        else if (_record.State != "hanging up")
        {
            _logger.LogInformation("Call {Call}: transferring to {Target} after turn {Turn}", _record.Id, target, turn);
            _record.State = "transferring";
            _context.Metrics.CallAction("sip", action.Name);
            _info.RequestTransfer?.Invoke(target);
        }
    }

    private void RequestHangupOnce(string reason)
    {
        if (_record.State != "hanging up")
        {
            _record.State = "hanging up";
            _logger.LogInformation("Call {Call}: hanging up ({Reason})", _record.Id, reason);
            _info.RequestHangup?.Invoke(reason);
        }
    }

    /// <summary>The media loop's buffers, allocated once per call.</summary>
    private sealed class TickState
    {
        public readonly float[] Reply = new float[EngineCallBridge.FrameSamples];
        public readonly byte[] Payload = new byte[480];
        public readonly byte[] Packet = new byte[RtpPacket.HeaderLength + 480];
        public readonly short[] Fifo = new short[EngineCallBridge.FrameSamples + 480];
        public readonly PacketLossConcealer Concealer = new();
        public int FifoCount;

        /// <summary>Whether the last tick sent reply audio (true while on hold, when nothing can be played).</summary>
        public bool SentReply;
    }
}
