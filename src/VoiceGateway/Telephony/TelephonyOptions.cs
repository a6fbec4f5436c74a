using System.Net;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony;

/// <summary>
/// Telephony settings, bound from the "Telephony" section of appsettings.json (environment variables such as
/// <c>Telephony__Sip__Port=5080</c> and <c>serve --sip-port N</c> override them). Every field has a working default:
/// SIP on 127.0.0.1:5060, RTP on even ports 20000–20998, the Twilio stream at <c>/v1/twilio</c>.
/// </summary>
public sealed class TelephonyOptions
{
    public const string SectionName = "Telephony";

    public SipOptions Sip { get; set; } = new();

    public RtpOptions Rtp { get; set; } = new();

    public TwilioOptions Twilio { get; set; } = new();

    /// <summary>Caller speech during a reply interrupts it (on calls as on every other transport).</summary>
    public bool BargeInEnabled { get; set; } = true;

    /// <summary>Ending a turn at a short pause when the decoder is sure of its reply (docs/engine.md, "End of turn").</summary>
    public SemanticEndOfTurnOptions SemanticEndOfTurn { get; set; } = new();

    /// <summary>Ended calls kept for <c>/v1/telephony/calls</c>.</summary>
    public int RecentCalls { get; set; } = 100;

    /// <summary>Address written into Via and Contact. A blank setting counts as unset (JSON null binds as an empty string).</summary>
    public string SipAddress => Set(Sip.AdvertisedAddress) ?? Sip.BindAddress;

    /// <summary>Address the RTP sockets bind.</summary>
    public string RtpBindAddress => Set(Rtp.BindAddress) ?? Sip.BindAddress;

    /// <summary>Address written into SDP c= lines: where callers send RTP.</summary>
    public string MediaAddress => Set(Rtp.AdvertisedAddress) ?? Set(Sip.AdvertisedAddress) ?? RtpBindAddress;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting (start-up fails with that sentence).</summary>
    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message);
            }
        }

        Check(Sip.Port is >= 0 and <= 65535, $"Telephony:Sip:Port must be from 0 to 65535, got {Sip.Port}.");
        Check(IPAddress.TryParse(Sip.BindAddress, out _), $"Telephony:Sip:BindAddress '{Sip.BindAddress}' is not an IP address.");
        Check(IPAddress.TryParse(RtpBindAddress, out _), $"Telephony:Rtp:BindAddress '{Rtp.BindAddress}' is not an IP address.");
        // 0.0.0.0 in Contact or SDP would tell the caller "nowhere" (in SDP it even means hold).
        Check(!IsAny(SipAddress), "Telephony:Sip:AdvertisedAddress must be set when SIP binds to all interfaces (it goes into Via and Contact).");
        Check(!IsAny(MediaAddress), "Telephony:Rtp:AdvertisedAddress must be set when RTP binds to all interfaces (it goes into the SDP c= line).");
        Check(Sip.RingMs is >= 0 and <= 60000, $"Telephony:Sip:RingMs must be from 0 to 60000, got {Sip.RingMs}.");
        Check(Sip.MaxMessageBytes is >= 1500 and <= 65535, $"Telephony:Sip:MaxMessageBytes must be from 1500 to 65535, got {Sip.MaxMessageBytes}.");
        Check(Sip.T1Ms is >= 10 and <= 5000 && Sip.T2Ms >= Sip.T1Ms && Sip.T4Ms >= Sip.T1Ms, "Telephony:Sip timers need 10 <= T1Ms <= 5000, T2Ms >= T1Ms and T4Ms >= T1Ms.");
        Check(Sip.QueueCapacity >= 16, $"Telephony:Sip:QueueCapacity must be at least 16, got {Sip.QueueCapacity}.");
        Check(Rtp.PortMin is >= 1024 and <= 65534 && Rtp.PortMax >= Rtp.PortMin + 1 && Rtp.PortMax <= 65535,
            $"Telephony:Rtp port range {Rtp.PortMin}-{Rtp.PortMax} must lie within 1024-65535 and hold an even port.");
        Check(Rtp.JitterBufferMs is >= 20 and <= 500, $"Telephony:Rtp:JitterBufferMs must be from 20 to 500, got {Rtp.JitterBufferMs}.");
        Check(Rtp.TimeoutSeconds >= 5, $"Telephony:Rtp:TimeoutSeconds must be at least 5, got {Rtp.TimeoutSeconds}.");
        Check(Rtp.MaxCallSeconds >= 10, $"Telephony:Rtp:MaxCallSeconds must be at least 10, got {Rtp.MaxCallSeconds}.");
        Check(Twilio.Path.StartsWith('/'), $"Telephony:Twilio:Path must start with '/', got '{Twilio.Path}'.");
        Check(Twilio.SendLeadMs is >= 0 and <= 2000, $"Telephony:Twilio:SendLeadMs must be from 0 to 2000, got {Twilio.SendLeadMs}.");
        Check(Twilio.MarkIntervalMs is >= 100 and <= 10000, $"Telephony:Twilio:MarkIntervalMs must be from 100 to 10000, got {Twilio.MarkIntervalMs}.");
        Check(RecentCalls is >= 0 and <= 10000, $"Telephony:RecentCalls must be from 0 to 10000, got {RecentCalls}.");
        try
        {
            SemanticEndOfTurn.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"Telephony:{ex.Message}", ex);
        }
    }

    private static string? Set(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();

    private static bool IsAny(string address) =>
        IPAddress.TryParse(address, out var ip) && (ip.Equals(IPAddress.Any) || ip.Equals(IPAddress.IPv6Any));
}

/// <summary>The SIP user agent (UDP).</summary>
public sealed class SipOptions
{
    public bool Enabled { get; set; } = true;

    /// <summary>Address the SIP socket binds (loopback unless a deployment opens it up).</summary>
    public string BindAddress { get; set; } = "127.0.0.1";

    public int Port { get; set; } = 5060;

    /// <summary>
    /// Whether start-up fails when the SIP port cannot be bound (<c>--sip-port N</c> sets it). When false, the gateway
    /// logs the error and serves its other transports without SIP: the default 5060 is often held by a PBX on the
    /// same machine.
    /// </summary>
    public bool Required { get; set; }

    /// <summary>Address written into Via/Contact/SDP when peers reach us through another one (NAT); default: the bind address.</summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Ring this long (180 Ringing) before answering; 0 answers at once.</summary>
    public int RingMs { get; set; }

    /// <summary>Largest SIP datagram accepted; bigger ones are answered 513 (or dropped when unrecognisable).</summary>
    public int MaxMessageBytes { get; set; } = 8192;

    public int T1Ms { get; set; } = 500;

    public int T2Ms { get; set; } = 4000;

    public int T4Ms { get; set; } = 5000;

    /// <summary>Datagrams waiting for the SIP thread; beyond it they are dropped and counted (a flood cannot grow memory).</summary>
    public int QueueCapacity { get; set; } = 1024;
}

/// <summary>RTP media for SIP calls.</summary>
public sealed class RtpOptions
{
    /// <summary>Address RTP sockets bind (default: the SIP bind address).</summary>
    public string? BindAddress { get; set; }

    /// <summary>Address announced in SDP c= lines (default: the SIP advertised address).</summary>
    public string? AdvertisedAddress { get; set; }

    public int PortMin { get; set; } = 20000;

    public int PortMax { get; set; } = 20999;

    /// <summary>Jitter buffer delay: packets are held this long before playout, absorbing jitter and reordering.</summary>
    public int JitterBufferMs { get; set; } = 60;

    /// <summary>A call that receives no RTP for this long (and is not on hold) is hung up.</summary>
    public int TimeoutSeconds { get; set; } = 60;

    /// <summary>Calls are hung up after this long.</summary>
    public int MaxCallSeconds { get; set; } = 3600;
}

/// <summary>The Twilio Media Streams compatible WebSocket.</summary>
public sealed class TwilioOptions
{
    public bool Enabled { get; set; } = true;

    public string Path { get; set; } = "/v1/twilio";

    /// <summary>Reply audio is paced at real time, at most this far ahead (Twilio buffers; less ahead = less to clear).</summary>
    public int SendLeadMs { get; set; } = 100;

    /// <summary>A mark is sent after this much reply audio (and at its end); echoed marks report what the caller heard.</summary>
    public int MarkIntervalMs { get; set; } = 1000;
}
