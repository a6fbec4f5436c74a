using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.SignalR.Client;

namespace VoiceAgent.Gateway.Tests;

/// <summary>A gateway with a bearer token, one session at most, and one extra allowed browser origin.</summary>
public sealed class SecuredGateway() : GatewayServer(new Dictionary<string, string>
{
    ["Gateway:AuthToken"] = SecurityTests.Token,
    ["Gateway:MaxSessions"] = "1",
    ["Gateway:AllowedOrigins:0"] = "http://allowed.example",
});

/// <summary>Token, Origin and the concurrent-session cap, on both the WebSocket and the hub.</summary>
public sealed class SecurityTests(SecuredGateway gateway) : IClassFixture<SecuredGateway>
{
    public const string Token = "test-token-7f3a";

    [Fact]
    public async Task Without_the_token_the_websocket_and_the_hub_are_refused_with_401()
    {
        var error = await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(gateway.VoiceUri));
        Assert.Contains("401", error.Message, StringComparison.Ordinal);
        var wrong = await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(gateway.VoiceUri, o => o.SetRequestHeader("Authorization", "Bearer nope")));
        Assert.Contains("401", wrong.Message, StringComparison.Ordinal);

        var hub = await gateway.Http.PostAsync(new Uri("/hubs/voice/negotiate?negotiateVersion=1", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Unauthorized, hub.StatusCode);
        await using var connection = SignalRWebSocketConnectionFactory.Create(new Uri($"ws://{gateway.BaseUri.Authority}/hubs/voice"));
        var hubError = await Assert.ThrowsAnyAsync<Exception>(() => connection.StartAsync());
        Assert.Contains("401", hubError.Message, StringComparison.Ordinal);
        Assert.True(await gateway.MetricAsync("voiceagent_sessions_rejected_total{transport=\"websocket\",reason=\"auth\"}") >= 2);
    }

    [Fact]
    public async Task The_token_in_the_header_or_the_query_opens_a_session()
    {
        await using (var viaHeader = await VoiceClient.ConnectAsync(gateway.VoiceUri, o => o.SetRequestHeader("Authorization", $"Bearer {Token}")))
        {
            await viaHeader.SendHelloAsync();
            await viaHeader.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        }

        await WaitForFreeSlotAsync();
        await using var viaQuery = await VoiceClient.ConnectAsync(new Uri(gateway.VoiceUri + $"?access_token={Token}"));
        await viaQuery.SendHelloAsync();
        await viaQuery.WaitForAsync("ready", TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task A_foreign_browser_origin_is_refused_with_403_while_the_own_and_allowed_origins_connect()
    {
        var uri = new Uri(gateway.VoiceUri + $"?access_token={Token}");
        var foreign = await Assert.ThrowsAsync<WebSocketException>(() => VoiceClient.ConnectAsync(uri, o => o.SetRequestHeader("Origin", "http://evil.example")));
        Assert.Contains("403", foreign.Message, StringComparison.Ordinal);

        foreach (var origin in new[] { "http://allowed.example", $"http://{gateway.BaseUri.Authority}" })
        {
            await WaitForFreeSlotAsync();
            await using var client = await VoiceClient.ConnectAsync(uri, o => o.SetRequestHeader("Origin", origin));
            await client.SendHelloAsync();
            await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        }

        Assert.True(await gateway.MetricAsync("voiceagent_sessions_rejected_total{transport=\"websocket\",reason=\"origin\"}") >= 1);
    }

    [Fact]
    public async Task Beyond_the_session_cap_a_client_gets_server_full_and_4429_on_both_transports_until_a_slot_frees()
    {
        var uri = new Uri(gateway.VoiceUri + $"?access_token={Token}");
        await WaitForFreeSlotAsync();
        await using (var first = await VoiceClient.ConnectAsync(uri))
        {
            await first.SendHelloAsync();
            await first.WaitForAsync("ready", TimeSpan.FromSeconds(10));

            await using var second = await VoiceClient.ConnectAsync(uri);
            var error = await second.WaitForAsync("error", TimeSpan.FromSeconds(10));
            Assert.Equal("server_full", WebSocketProtocolTests.Code(error));
            Assert.Contains("1 concurrent", error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.Equal(4429, (int?)await second.WaitForCloseAsync(TimeSpan.FromSeconds(10)));

            await using var hub = SignalRWebSocketConnectionFactory.Create(new Uri($"ws://{gateway.BaseUri.Authority}/hubs/voice?access_token={Token}"));
            await hub.StartAsync();
            var full = await Assert.ThrowsAsync<Microsoft.AspNetCore.SignalR.HubException>(async () =>
            {
                var events = await hub.StreamAsChannelAsync<Protocol.ServerEvent>("Converse", new Protocol.VoiceHello { SampleRate = 16000 }, System.Threading.Channels.Channel.CreateBounded<byte[]>(1).Reader);
                await foreach (var _ in events.ReadAllAsync())
                {
                }
            });
            Assert.Contains("server_full", full.Message, StringComparison.Ordinal);
        }

        await WaitForFreeSlotAsync();
        await using var third = await VoiceClient.ConnectAsync(uri);
        await third.SendHelloAsync();
        await third.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        Assert.True(await gateway.MetricAsync("voiceagent_sessions_rejected_total{transport=\"websocket\",reason=\"capacity\"}") >= 1);
    }

    /// <summary>The tests share a one-session gateway: wait until the previous test's session has been released.</summary>
    private async Task WaitForFreeSlotAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (await gateway.MetricAsync("voiceagent_sessions_active{transport=\"websocket\"}") + await gateway.MetricAsync("voiceagent_sessions_active{transport=\"signalr\"}") > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "a previous session was never released");
            await Task.Delay(100);
        }
    }
}
