using System.Net;
using System.Net.Sockets;

namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>
/// Hands out UDP sockets bound to even ports of the configured RTP range (RFC 3550 §11: RTP on even ports, RTCP
/// would take the odd one above). It walks the range round-robin so a port freed by an ended call is not reused at
/// once (late packets of the old call would land in the new one); a port some other process holds is skipped.
/// </summary>
public sealed class RtpPortAllocator
{
    private readonly object _gate = new();
    private readonly int _first;
    private readonly int _count;
    private int _cursor;

    public RtpPortAllocator(int minPort, int maxPort)
    {
        _first = minPort % 2 == 0 ? minPort : minPort + 1;
        _count = Math.Max(0, ((maxPort - _first) / 2) + 1);
        if (_count == 0)
        {
            throw new ArgumentException($"The RTP port range {minPort}-{maxPort} holds no even port.");
        }
    }

    /// <summary>Even ports in the range.</summary>
    public int Size => _count;

    /// <summary>Binds a socket on the next free even port, or returns null when every port is taken.</summary>
    public Socket? Bind(IPAddress address)
    {
        for (var attempt = 0; attempt < _count; attempt++)
        {
            int port;
            lock (_gate)
            {
                port = _first + (2 * _cursor);
                _cursor = (_cursor + 1) % _count;
            }

            var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
            try
            {
                socket.Bind(new IPEndPoint(address, port));
                return socket;
            }
            catch (SocketException)
            {
                socket.Dispose();
            }
        }

        return null;
    }
}
