using System.Net;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.Gateway.Telephony.Sip;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>
/// Gives each new SIP call its media: a slot from the gateway-wide <see cref="SessionAdmission"/> (486 Busy Here
/// when the gateway is full), an RTP socket from the port range (503 when none is free), and a
/// <see cref="CallRecord"/>. Everything here is quick and non-blocking: it runs on the SIP thread.
/// </summary>
public sealed class RtpMediaFactory : ISipMediaFactory
{
    private readonly SessionAdmission _admission;
    private readonly RtpPortAllocator _ports;
    private readonly IPAddress _bindAddress;
    private readonly RtpCallContext _context;

    public RtpMediaFactory(
        IOptions<TelephonyOptions> options,
        SessionAdmission admission,
        VoiceAgentEngine engine,
        CallRegistry registry,
        GatewayMetrics metrics,
        CallActionPolicy callActions,
        ILoggerFactory loggerFactory)
    {
        var telephony = options.Value;
        _admission = admission;
        _ports = new RtpPortAllocator(telephony.Rtp.PortMin, telephony.Rtp.PortMax);
        _bindAddress = IPAddress.Parse(telephony.RtpBindAddress);
        _context = new RtpCallContext(engine, telephony, registry, metrics, callActions, loggerFactory);
        metrics.RegisterTransport("sip");
    }

    public SipMediaReservation Reserve(SipCallInfo call)
    {
        if (!_admission.TryAdmit("sip", out var lease))
        {
            return new SipMediaReservation(null, SipStatus.BusyHere, $"all {_admission.Capacity} sessions are busy");
        }

        var socket = _ports.Bind(_bindAddress);
        if (socket is null)
        {
            lease.Dispose();
            _context.Metrics.SessionRejected("sip", "rtp_ports");
            return new SipMediaReservation(null, SipStatus.ServiceUnavailable, "no free RTP port");
        }

        var record = new CallRecord(call.CallId, "sip", call.From, call.To);
        _context.Registry.Started(record);
        return new SipMediaReservation(new RtpCallMedia(socket, call, record, lease, _context));
    }
}
