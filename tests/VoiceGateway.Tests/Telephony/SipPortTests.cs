using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using VoiceAgent.Gateway.Tests.Telephony.Harness;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// A SIP port someone else holds: <c>--sip-port N</c> asked for it, so start-up fails with one sentence; the default
/// (often a PBX's 5060 on the same machine) only switches SIP off and the other transports still serve.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class SipPortTests
{
    [Fact]
    public void A_busy_port_given_with_sip_port_fails_start_up_with_one_sentence()
    {
        using var holder = Hold(out var port);

        var result = GatewayProcess.Run("serve", "--port", "0", "--sip-port", port.ToString(CultureInfo.InvariantCulture));

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.Equal($"voiceagent: cannot listen for SIP on udp 127.0.0.1:{port} (Address already in use); choose another with --sip-port.", line);
    }

    [Theory]
    [InlineData("Gateway__SemanticEndOfTurn__MinConfidence", "1.5", "voiceagent: Gateway:SemanticEndOfTurn is invalid")]
    [InlineData("Gateway__GenerationLeadMs", "100", "voiceagent: Gateway:GenerationLeadMs must be from 200 to 10000")]
    [InlineData("Telephony__SemanticEndOfTurn__Words", "0", "voiceagent: Telephony:SemanticEndOfTurn.Words must be from 1 to 8, got 0.")]
    [InlineData("Telephony__SemanticEndOfTurn__ResumeWithinMs", "5000", "voiceagent: Telephony:SemanticEndOfTurn.ResumeWithinMs must be from 0 to 3000, got 5000.")]
    [InlineData("CallActions__Rules__0__Action", "park", "voiceagent: CallActions:Rules:0:Action must be transfer or hangup, got 'park'.")]
    [InlineData("CallActions__TransferTarget", "agents at the pbx", "voiceagent: CallActions:TransferTarget must be a sip:, sips: or tel: URI")]
    public void A_bad_setting_ends_start_up_with_one_sentence_naming_it(string key, string value, string sentence)
    {
        var result = GatewayProcess.Run(new Dictionary<string, string> { [key] = value }, "serve", "--port", "0", "--sip-port", "0");

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith(sentence, line, StringComparison.Ordinal);
    }

    [Fact]
    public void A_busy_configured_port_switches_sip_off_and_the_gateway_still_serves()
    {
        using var holder = Hold(out var port);

        using var gateway = TelephonyGateway.Start(
            new Dictionary<string, string> { ["Telephony__Sip__Port"] = port.ToString(CultureInfo.InvariantCulture) },
            arguments: [],
            expectSip: false);

        Assert.Null(gateway.SipOrNull);
        Assert.Contains($"voiceagent: sip off: cannot listen for SIP on udp 127.0.0.1:{port}", gateway.Output, StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, gateway.Get("/v1/telephony/stats").GetProperty("sip_endpoint").ValueKind);
        Assert.Equal("ok", gateway.Get("/healthz").GetProperty("status").GetString());
    }

    private static Socket Hold(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
