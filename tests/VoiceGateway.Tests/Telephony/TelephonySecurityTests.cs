using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using VoiceAgent.Gateway.Tests.Telephony.Harness;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// With <c>Gateway:AuthToken</c> set: the call status (callers' numbers) needs the token, and a Twilio stream (which
/// cannot send headers) must carry it as the custom parameter "token" of its start message.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class TelephonySecurityTests
{
    private const string Token = "s3cret-token";

    [Fact]
    public async Task The_status_and_the_twilio_stream_need_the_token()
    {
        using var gateway = TelephonyGateway.Start(new Dictionary<string, string> { ["Gateway__AuthToken"] = Token });
        using var http = new HttpClient { BaseAddress = gateway.Http };

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(new Uri("/v1/telephony/calls", UriKind.Relative))).StatusCode);
        using var authorized = new HttpRequestMessage(HttpMethod.Get, new Uri("/v1/telephony/stats", UriKind.Relative));
        authorized.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(authorized)).StatusCode);

        var uri = new UriBuilder(new Uri(gateway.Http, "/v1/twilio")) { Scheme = "ws" }.Uri;
        using (var wrong = new ClientWebSocket())
        {
            await wrong.ConnectAsync(uri, CancellationToken.None);
            await SendAsync(wrong, Start("nope"));
            Assert.Equal(WebSocketMessageType.Close, (await wrong.ReceiveAsync(new byte[256], CancellationToken.None)).MessageType);
            Assert.Equal(WebSocketCloseStatus.PolicyViolation, wrong.CloseStatus);
            Assert.StartsWith("unauthorized", wrong.CloseStatusDescription, StringComparison.Ordinal);
        }

        using var right = new ClientWebSocket();
        await right.ConnectAsync(uri, CancellationToken.None);
        await SendAsync(right, Start(Token));
        await SendAsync(right, """{"event":"stop","streamSid":"MZsec","stop":{}}""");
        var buffer = new byte[65536];
        ValueWebSocketReceiveResult result;
        do
        {
            result = await right.ReceiveAsync(buffer.AsMemory(), CancellationToken.None); // media or marks may come first
        }
        while (result.MessageType != WebSocketMessageType.Close);

        Assert.Equal(WebSocketCloseStatus.NormalClosure, right.CloseStatus);
    }

    private static string Start(string token) =>
        "{\"event\":\"start\",\"streamSid\":\"MZsec\",\"start\":{\"streamSid\":\"MZsec\",\"callSid\":\"CAsec\",\"customParameters\":{\"token\":\"" + token +
        "\"},\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}}}";

    private static Task SendAsync(ClientWebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);
}
