using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Gateway.Tests.Telephony.Harness;

/// <summary>One RTP packet the relay passed on, with its header fields and the level of its G.711 payload.</summary>
public sealed record RelayedPacket(double AtMs, int Port, bool FromServer, byte PayloadType, bool Marker, ushort Sequence, uint Timestamp, uint Ssrc, int PayloadBytes, double LevelDbfs);

/// <summary>
/// A transparent RTP relay in front of the gateway's media, standing where a NAT or session border controller
/// would: the gateway announces <c>Telephony:Rtp:AdvertisedAddress</c> = the relay's address in its SDP answers, the
/// caller (sipp) sends there, the relay forwards to the gateway's real RTP port and back. Because the gateway latches
/// onto the relay (symmetric RTP), every reply packet passes through here, so the tests see exactly what the caller
/// receives — sequence numbers, timestamps, SSRC, timing and the speech energy of the payload — without packet capture
/// privileges. It can also inject packets towards the gateway as if they came from the caller.
/// </summary>
public sealed class RtpRelay : IDisposable
{
    private const int RelayReceiveBufferBytes = 2 << 20; // the kernel caps it at net.core.rmem_max

    private readonly Dictionary<int, Socket> _sockets = [];
    private readonly ConcurrentDictionary<int, IPEndPoint> _callers = new();
    private readonly ConcurrentQueue<RelayedPacket> _packets = new();
    private readonly Dictionary<Socket, PortState> _states = [];
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Thread _thread;
    private volatile bool _stopping;
    private int _dropEvery;
    private int _swapEvery;
    private int _dropped;
    private int _swapped;

    private RtpRelay(IPAddress front, IPAddress server, int min, int max, Dictionary<int, Socket> sockets)
    {
        Front = front;
        PortMin = min;
        PortMax = max;
        _sockets = sockets;
        foreach (var (port, socket) in sockets)
        {
            _states[socket] = new PortState(port, new IPEndPoint(server, port));
        }

        // Its own thread, not the thread pool: a test that blocks pool threads must not delay the packets it measures.
        _thread = new Thread(Run) { IsBackground = true, Name = "rtp-relay" };
        _thread.Start();
    }

    /// <summary>The address the gateway must advertise (callers send here).</summary>
    public IPAddress Front { get; }

    public int PortMin { get; }

    public int PortMax { get; }

    /// <summary>Milliseconds since the relay started (the clock of <see cref="RelayedPacket.AtMs"/>).</summary>
    public double NowMs => _clock.Elapsed.TotalMilliseconds;

    /// <summary>Binds every even port of a free range of <paramref name="count"/> ports on <paramref name="front"/>.</summary>
    public static RtpRelay Create(IPAddress front, IPAddress server, int count)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            var min = 30000 + (2 * Random.Shared.Next(0, 10000));
            var max = min + count - 1;
            var sockets = new Dictionary<int, Socket>();
            try
            {
                for (var port = min; port <= max; port += 2)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    sockets[port] = socket;
                    // 20 calls x 100 packets/s pass through one thread; a loaded machine that keeps it off the CPU
                    // for a moment must not make the kernel drop what the tests then count as the gateway's gaps.
                    socket.ReceiveBufferSize = RelayReceiveBufferBytes;
                    socket.Bind(new IPEndPoint(front, port));
                    // The gateway's own socket for the same port must be free too (it binds the server address).
                    using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    probe.Bind(new IPEndPoint(server, port));
                }

                return new RtpRelay(front, server, min, max, sockets);
            }
            catch (SocketException)
            {
                foreach (var socket in sockets.Values)
                {
                    socket.Dispose();
                }
            }
        }

        throw new InvalidOperationException($"No free RTP port range on {front} and {server}.");
    }

    public IReadOnlyList<RelayedPacket> Packets => [.. _packets];

    /// <summary>
    /// Datagrams the kernel has dropped on each of the relay's sockets (its receive queue was full), by port, from the
    /// <c>drops</c> column of /proc/net/udp; empty where that file is not available. A sequence gap the relay saw is
    /// the gateway's only if the relay lost nothing on that port meanwhile.
    /// </summary>
    public IReadOnlyDictionary<int, long> KernelDrops()
    {
        const string table = "/proc/net/udp";
        var drops = new Dictionary<int, long>();
        if (!File.Exists(table))
        {
            return drops;
        }

        // local_address is the IPv4 address as a host-order 32-bit hex number, then ':' and the port in hex.
        var address = $"{BitConverter.ToUInt32(Front.GetAddressBytes()):X8}:";
        foreach (var line in File.ReadLines(table).Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 12 && fields[1].StartsWith(address, StringComparison.Ordinal)
                && int.TryParse(fields[1][address.Length..], System.Globalization.NumberStyles.HexNumber, null, out var port)
                && _sockets.ContainsKey(port))
            {
                drops[port] = long.Parse(fields[^1], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return drops;
    }

    /// <summary>Caller packets the impairment dropped / delivered one packet late, since the last <see cref="Impair"/>.</summary>
    public int Dropped => Volatile.Read(ref _dropped);

    public int Swapped => Volatile.Read(ref _swapped);

    /// <summary>
    /// Impairs the caller → gateway direction like a bad network: every <paramref name="dropEvery"/>-th packet is lost,
    /// every <paramref name="swapEvery"/>-th is held back and delivered after the next one (0 turns either off).
    /// </summary>
    public void Impair(int dropEvery, int swapEvery)
    {
        Volatile.Write(ref _dropped, 0);
        Volatile.Write(ref _swapped, 0);
        Volatile.Write(ref _dropEvery, dropEvery);
        Volatile.Write(ref _swapEvery, swapEvery);
    }

    /// <summary>Back to a perfect network (the counters keep what happened).</summary>
    public void StopImpairing()
    {
        Volatile.Write(ref _dropEvery, 0);
        Volatile.Write(ref _swapEvery, 0);
    }

    public void Clear() => _packets.Clear();

    /// <summary>Where the caller's packets for this gateway port come from (null before the first).</summary>
    public IPEndPoint? CallerOf(int port) => _callers.TryGetValue(port, out var caller) ? caller : null;

    /// <summary>Ports that have seen a caller packet.</summary>
    public IEnumerable<int> ActivePorts => _callers.Keys;

    /// <summary>Sends a packet to the gateway's port as if the caller had sent it.</summary>
    public void Inject(int port, ReadOnlySpan<byte> packet) =>
        _sockets[port].SendTo(packet, SocketFlags.None, _states[_sockets[port]].Server);

    private void Run()
    {
        var buffer = new byte[2048];
        var pcm = new short[1024];
        var readable = new List<Socket>(_sockets.Count);
        while (!_stopping)
        {
            readable.Clear();
            readable.AddRange(_sockets.Values);
            try
            {
                Socket.Select(readable, null, null, 100_000);
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                return;
            }

            foreach (var socket in readable)
            {
                var state = _states[socket];
                try
                {
                    while (socket.Available > 0)
                    {
                        EndPoint any = new IPEndPoint(IPAddress.Any, 0);
                        var length = socket.ReceiveFrom(buffer, ref any);
                        Relay(socket, state, buffer.AsSpan(0, length), (IPEndPoint)any, pcm);
                    }
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                    // sipp may have gone, or the relay is stopping; keep relaying the others.
                }
            }
        }
    }

    private void Relay(Socket socket, PortState state, ReadOnlySpan<byte> data, IPEndPoint source, short[] pcm)
    {
        var port = state.Port;
        var fromServer = source.Equals(state.Server);
        Record(port, fromServer, data, pcm);
        if (fromServer)
        {
            if (_callers.TryGetValue(port, out var caller))
            {
                socket.SendTo(data, SocketFlags.None, caller);
            }

            return;
        }

        _callers[port] = source;
        state.FromCaller++;
        var dropEvery = Volatile.Read(ref _dropEvery);
        var swapEvery = Volatile.Read(ref _swapEvery);
        if (dropEvery > 0 && state.FromCaller % dropEvery == 0)
        {
            Interlocked.Increment(ref _dropped);
        }
        else if (swapEvery > 0 && state.FromCaller % swapEvery == 0 && state.HeldLength == 0)
        {
            data.CopyTo(state.Held);
            state.HeldLength = data.Length;
        }
        else
        {
            socket.SendTo(data, SocketFlags.None, state.Server);
            if (state.HeldLength > 0)
            {
                socket.SendTo(state.Held.AsSpan(0, state.HeldLength), SocketFlags.None, state.Server);
                state.HeldLength = 0;
                Interlocked.Increment(ref _swapped);
            }
        }
    }

    private void Record(int port, bool fromServer, ReadOnlySpan<byte> data, short[] pcm)
    {
        if (data.Length < 12 || data[0] >> 6 != 2)
        {
            return;
        }

        var payloadType = (byte)(data[1] & 0x7F);
        var payload = data[12..];
        var level = double.NegativeInfinity;
        if (payloadType is 0 or 8 && payload.Length <= pcm.Length)
        {
            var samples = pcm.AsSpan(0, payload.Length);
            if (payloadType == 0)
            {
                G711.MuLawDecode(payload, samples);
            }
            else
            {
                G711.ALawDecode(payload, samples);
            }

            double sum = 0;
            foreach (var s in samples)
            {
                sum += (s / 32768.0) * (s / 32768.0);
            }

            var rms = Math.Sqrt(sum / Math.Max(1, samples.Length));
            level = rms > 0 ? 20 * Math.Log10(rms) : double.NegativeInfinity;
        }

        _packets.Enqueue(new RelayedPacket(
            NowMs,
            port,
            fromServer,
            payloadType,
            (data[1] & 0x80) != 0,
            BinaryPrimitives.ReadUInt16BigEndian(data[2..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[4..]),
            BinaryPrimitives.ReadUInt32BigEndian(data[8..]),
            payload.Length,
            level));
    }

    public void Dispose()
    {
        _stopping = true;
        _thread.Join(TimeSpan.FromSeconds(5));
        foreach (var socket in _sockets.Values)
        {
            socket.Dispose();
        }
    }

    /// <summary>Per-port relay state (touched only by the relay thread).</summary>
    private sealed class PortState(int port, IPEndPoint server)
    {
        public int Port { get; } = port;

        public IPEndPoint Server { get; } = server;

        public byte[] Held { get; } = new byte[2048];

        public int HeldLength { get; set; }

        public int FromCaller { get; set; }
    }
}
