using System.Net.WebSockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// <c>/v1/voice</c> against the real gateway process and the demo pack (docs/protocol.md): a whole spoken turn, and
/// every kind of bad input answered with an error event (and a 4xxx close when the session cannot go on).
/// </summary>
[Collection(SharedGatewayCollection.Name)]
public sealed class WebSocketProtocolTests(SharedGateway gateway, ITestOutputHelper output)
{
    private static readonly TimeSpan Turn = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task The_hello_chooses_the_end_of_turn_rule_and_the_latency_event_names_the_one_used()
    {
        async Task<System.Text.Json.JsonElement> AskAsync(string extra)
        {
            await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
            await client.SendHelloAsync(16000, extra);
            await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
            using var microphone = new CancellationTokenSource();
            var speaking = Microphone.RunAsync(client, TestSpeech.Pcm16("what is my balance"), microphone.Token);
            var latency = await client.WaitForAsync("latency", Turn);
            await microphone.CancelAsync();
            await speaking;
            output.WriteLine($"hello{extra}: {latency}");
            return latency;
        }

        // One after the other: the same question, the same decoder, only the rule differs.
        var silenceOnly = await AskAsync(",\"semantic_end_of_turn\":false");
        var byDefault = await AskAsync(string.Empty);

        Assert.Equal("silence", silenceOnly.GetProperty("end_of_turn").GetString());
        Assert.True(silenceOnly.GetProperty("vad_commit_ms").GetDouble() >= 360, $"hangover {silenceOnly}");

        // The demo decoder is sure of "Your checking account …" for this question well before the 400 ms hangover.
        Assert.Equal("semantic", byDefault.GetProperty("end_of_turn").GetString());
        Assert.True(
            byDefault.GetProperty("vad_commit_ms").GetDouble() <= silenceOnly.GetProperty("vad_commit_ms").GetDouble() - 150,
            $"semantic end {byDefault.GetProperty("vad_commit_ms")} ms vs hangover {silenceOnly.GetProperty("vad_commit_ms")} ms");
    }

    [Fact]
    public async Task A_spoken_question_gets_ready_vad_transcript_reply_text_audio_latency_in_order()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(16000);
        var ready = await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        Assert.Equal(16000, ready.GetProperty("sample_rate").GetInt32());
        Assert.Equal(16000, ready.GetProperty("output_sample_rate").GetInt32());
        Assert.Equal(20, ready.GetProperty("output_frame_ms").GetInt32());

        using var microphone = new CancellationTokenSource();
        var speaking = Microphone.RunAsync(client, TestSpeech.Pcm16("what is my balance"), microphone.Token);

        // Meanwhile other clients misbehave; each is closed on its own and this session must not notice.
        var vandals = Task.WhenAll(
            MisbehaveAsync(c => c.SendBinaryAsync(new byte[640]), 4400),
            MisbehaveAsync(async c => { await c.SendHelloAsync(16000); await c.SendBinaryAsync(new byte[100_000]); }, 4413),
            MisbehaveAsync(c => c.SendHelloAsync(12345), 4415));
        var done = await client.WaitForAsync("reply_done", Turn);
        await vandals;
        var latency = await client.WaitForAsync("latency", TimeSpan.FromSeconds(10));

        // Text and reply_done come as fast as the model generates; audio is paced at real time, so its end comes later.
        await client.WaitForAsync("reply_audio_end", Turn);
        await microphone.CancelAsync();
        await speaking;
        output.WriteLine(client.Describe());

        var turn = done.GetProperty("turn").GetInt32();
        var replyText = done.GetProperty("text").GetString();
        Assert.True(TestSpeech.IsKnownReply(replyText), $"'{replyText}' is not one of the pack's replies");

        // Order on the wire: vad_start < vad_end < transcript < first text delta < reply_text_done; audio start < frames < end.
        var timeline = client.Timeline;
        int Index(string type) => timeline.ToList().FindIndex(r => r.Event is { } e && e.GetProperty("type").GetString() == type && (!e.TryGetProperty("turn", out var t) || t.GetInt32() == turn));
        Assert.True(Index("vad_start") >= 0 && Index("vad_start") < Index("vad_end"), client.Describe());
        Assert.True(Index("vad_end") < Index("transcript"), client.Describe());
        Assert.True(Index("transcript") < Index("reply_text_delta") && Index("reply_text_delta") < Index("reply_text_done"), client.Describe());
        var audioStart = Index("reply_audio_start");
        var audioEnd = Index("reply_audio_end");
        Assert.True(audioStart >= 0 && audioStart < audioEnd, client.Describe());
        var framesBefore = timeline.Take(audioStart).Count(r => r.Event is null);
        var framesBetween = timeline.Skip(audioStart).Take(audioEnd - audioStart).Count(r => r.Event is null);
        var framesAfter = timeline.Skip(audioEnd).Count(r => r.Event is null);
        Assert.Equal(0, framesBefore);
        Assert.True(framesBetween > 10, $"{framesBetween} frames between reply_audio_start and reply_audio_end");
        Assert.Equal(0, framesAfter);

        // The deltas add up to the text; the audio received is what reply_audio_end announced (16 kHz PCM16: 32 bytes/ms).
        var deltas = string.Concat(client.Events.Where(e => e.GetProperty("type").GetString() == "reply_text_delta").Select(e => e.GetProperty("text").GetString()));
        Assert.Equal(replyText, deltas);
        var audioMs = timeline[audioEnd].Event!.Value.GetProperty("audio_ms").GetInt64();
        Assert.InRange(client.AudioOf(turn).Length / 32.0, audioMs - 25, audioMs + 25);
        Assert.True(Rms(client.AudioOf(turn)) > 0.01, "the reply audio is silent");
        Assert.True(latency.GetProperty("first_audio_frame_ms").GetDouble() > 0);
        Assert.True(latency.GetProperty("total_ms").GetDouble() >= latency.GetProperty("first_audio_frame_ms").GetDouble());

        var metrics = await gateway.MetricsAsync();
        output.WriteLine(metrics);
        Assert.True(await gateway.MetricAsync("voiceagent_turns_total{transport=\"websocket\"}") >= 1);
        Assert.True(await gateway.MetricAsync("voiceagent_engine_first_packet_seconds_count{transport=\"websocket\"}") >= 1);
        Assert.Contains("# TYPE voiceagent_engine_first_packet_seconds histogram", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reply_that_announces_a_transfer_is_followed_by_a_call_action_after_its_audio()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(16000);
        await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        using var microphone = new CancellationTokenSource();
        var speaking = Microphone.RunAsync(client, TestSpeech.Pcm16("can i talk to a person please"), microphone.Token);
        var action = await client.WaitForAsync("call_action", Turn);
        await microphone.CancelAsync();
        await speaking;
        output.WriteLine(client.Describe());

        // The shared gateway runs appsettings.json's rules without a transfer target: the event names the action only.
        Assert.Equal("transfer", action.GetProperty("action").GetString());
        Assert.False(action.TryGetProperty("target", out _));
        var turn = action.GetProperty("turn").GetInt32();
        var done = client.Events.Single(e => e.GetProperty("type").GetString() == "reply_done" && e.GetProperty("turn").GetInt32() == turn);
        Assert.Equal("Sure, I am transferring you to an agent now.", done.GetProperty("text").GetString());

        // It follows the turn's last frame and its reply_audio_end, so a client acts only on a reply it has received whole.
        var timeline = client.Timeline.ToList();
        int Index(string type) => timeline.FindIndex(r => r.Event is { } e && e.GetProperty("type").GetString() == type && e.GetProperty("turn").GetInt32() == turn);
        Assert.True(Index("reply_audio_end") >= 0 && Index("reply_audio_end") < Index("call_action"), client.Describe());
        Assert.Equal(0, timeline.Skip(Index("call_action")).Count(r => r.Event is null));
        Assert.Equal(1, client.Count("call_action"));
        Assert.True(await gateway.MetricAsync("voiceagent_call_actions_total{transport=\"websocket\",action=\"transfer\"}") >= 1);
    }

    [Fact]
    public async Task Bad_messages_get_error_events_and_the_session_stays_usable()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(16000);
        await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));

        await client.SendJsonAsync("{\"type\":\"sing\"}");
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "unknown_message");
        await client.SendJsonAsync("{\"type\":\"hello\",");
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "invalid_json");
        await client.SendJsonAsync("[1,2]");
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "bad_message");
        await client.SendJsonAsync("{\"type\":\"playback\",\"turn\":\"x\"}");
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "bad_message" && e.GetProperty("message").GetString()!.Contains("playback", StringComparison.Ordinal));
        await client.SendHelloAsync(16000);
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "already_started");
        await client.SendBinaryAsync(new byte[641]); // odd length
        await client.SendBinaryAsync(new byte[16000 / 1000 * 100 * 2]); // 100 ms: longer than 80
        await client.SendBinaryAsync(new byte[16000 / 1000 * 10 * 2]); // 10 ms: shorter than 20
        await WaitUntilAsync(() => client.Events.Count(e => Code(e) == "bad_frame") == 3, TimeSpan.FromSeconds(5), client);

        // Still alive: a commit with no speech answers with the engine's own error, and the socket is open.
        await client.SendJsonAsync("{\"type\":\"commit\"}");
        await client.WaitForAsync("error", TimeSpan.FromSeconds(5), e => Code(e) == "no_speech");
        Assert.Null(client.CloseStatus);
        Assert.All(client.Events.Where(e => e.GetProperty("type").GetString() == "error"), e => Assert.False(e.GetProperty("fatal").GetBoolean()));
        output.WriteLine(client.Describe());
    }

    [Fact]
    public async Task Audio_before_hello_is_an_error_and_closes_with_4400()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendBinaryAsync(new byte[640]);
        var error = await client.WaitForAsync("error", TimeSpan.FromSeconds(5));
        Assert.Equal("not_started", Code(error));
        Assert.True(error.GetProperty("fatal").GetBoolean());
        Assert.Equal(4400, (int?)await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task An_unsupported_rate_is_an_error_and_closes_with_4415()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(11025);
        var error = await client.WaitForAsync("error", TimeSpan.FromSeconds(5));
        Assert.Equal("unsupported_sample_rate", Code(error));
        Assert.Contains("11025", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(4415, (int?)await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_an_error_and_closes_with_4413()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(16000);
        await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        await client.SendBinaryAsync(new byte[40_000]); // the shared gateway allows 16 KiB
        var error = await client.WaitForAsync("error", TimeSpan.FromSeconds(5));
        Assert.Equal("message_too_big", Code(error));
        Assert.Equal(4413, (int?)await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task A_silent_client_is_closed_after_the_idle_timeout_with_4408()
    {
        await using var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await client.SendHelloAsync(16000);
        await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        var error = await client.WaitForAsync("error", TimeSpan.FromSeconds(15));
        Assert.Equal("idle_timeout", Code(error));
        Assert.Equal(4408, (int?)await client.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public async Task Plain_http_to_the_voice_endpoint_is_told_to_upgrade_and_the_page_and_health_are_served()
    {
        var response = await gateway.Http.GetAsync(new Uri("/v1/voice", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.UpgradeRequired, response.StatusCode);
        var page = await gateway.Http.GetStringAsync(new Uri("/", UriKind.Relative));
        foreach (var id in new[] { "connect", "status", "transcript", "reply", "latency" })
        {
            Assert.Contains($"id=\"{id}\"", page, StringComparison.Ordinal);
        }

        using var health = JsonDocument.Parse(await gateway.Http.GetStringAsync(new Uri("/healthz", UriKind.Relative)));
        Assert.Equal("ok", health.RootElement.GetProperty("status").GetString());
    }

    private async Task MisbehaveAsync(Func<VoiceClient, Task> misbehave, int expectedClose)
    {
        await using var vandal = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await misbehave(vandal);
        Assert.Equal(expectedClose, (int?)await vandal.WaitForCloseAsync(TimeSpan.FromSeconds(10)));
    }

    internal static string? Code(JsonElement e) => e.TryGetProperty("code", out var code) ? code.GetString() : null;

    internal static double Rms(byte[] pcm16)
    {
        double sum = 0;
        for (var i = 0; i + 1 < pcm16.Length; i += 2)
        {
            var s = BitConverter.ToInt16(pcm16, i) / 32768.0;
            sum += s * s;
        }

        return pcm16.Length < 2 ? 0 : Math.Sqrt(sum / (pcm16.Length / 2));
    }

    internal static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout, VoiceClient client)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Condition not met within {timeout.TotalSeconds} s: {client.Describe()}");
            }

            await Task.Delay(50);
        }
    }
}

/// <summary>A live microphone: the given speech (at 2× real time, to save test time) and then silence at real time, until stopped.</summary>
internal static class Microphone
{
    public static async Task RunAsync(VoiceClient client, short[] speech, CancellationToken cancellationToken, int rate = 16000)
    {
        try
        {
            await client.StreamAsync(speech, rate, speed: 2);
            var frame = TestSpeech.Silence(20, rate);
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long sent = 0;
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                // By elapsed time: a loaded machine skips ticks, and a microphone must not fall behind real time.
                for (; sent < clock.ElapsedMilliseconds / 20; sent++)
                {
                    await client.SendPcmAsync(frame);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // stopped, or the server closed
        }
    }
}
