using System.Buffers;
using System.Text;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Protocol;

namespace VoiceAgent.Gateway.Tests;

/// <summary>The pieces of the transports that need no server: message parsing, the send queue, the metrics text.</summary>
public sealed class ProtocolUnitTests
{
    [Theory]
    [InlineData("{\"type\":\"hello\",\"sample_rate\":8000,\"output_sample_rate\":24000,\"barge_in\":false}", ClientMessageKind.Hello)]
    [InlineData("{\"type\":\"commit\"}", ClientMessageKind.Commit)]
    [InlineData("{\"type\":\"cancel\"}", ClientMessageKind.Cancel)]
    [InlineData("{\"type\":\"playback\",\"turn\":3,\"played_ms\":1520.5}", ClientMessageKind.Playback)]
    [InlineData("{\"type\":\"dtmf\",\"digit\":\"#\"}", ClientMessageKind.Dtmf)]
    public void Valid_client_messages_parse(string json, ClientMessageKind kind)
    {
        var message = ClientMessage.Parse(Encoding.UTF8.GetBytes(json), out var error);
        Assert.Null(error);
        Assert.Equal(kind, message!.Kind);
        if (kind == ClientMessageKind.Hello)
        {
            Assert.Equal(8000, message.Hello!.SampleRate);
            Assert.Equal(24000, message.Hello.OutputSampleRate);
            Assert.False(message.Hello.BargeIn);
            Assert.Null(message.Hello.Validate());
        }
    }

    [Theory]
    [InlineData("not json", "invalid_json")]
    [InlineData("{\"type\":", "invalid_json")]
    [InlineData("42", "bad_message")]
    [InlineData("{\"kind\":\"hello\"}", "bad_message")]
    [InlineData("{\"type\":\"hello\"}", "bad_message")]
    [InlineData("{\"type\":\"hello\",\"sample_rate\":\"16000\"}", "bad_message")]
    [InlineData("{\"type\":\"hello\",\"sample_rate\":16000,\"barge_in\":\"yes\"}", "bad_message")]
    [InlineData("{\"type\":\"playback\",\"turn\":1,\"played_ms\":-5}", "bad_message")]
    [InlineData("{\"type\":\"dtmf\",\"digit\":\"x\"}", "bad_message")]
    [InlineData("{\"type\":\"rewind\"}", "unknown_message")]
    public void Bad_client_messages_give_an_error_event_not_an_exception(string json, string code)
    {
        var message = ClientMessage.Parse(Encoding.UTF8.GetBytes(json), out var error);
        Assert.Null(message);
        Assert.Equal(code, error!.Code);
        Assert.False(error.Fatal);
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void An_unknown_type_is_not_echoed_back_at_length()
    {
        var json = "{\"type\":\"" + new string('x', 5000) + "\"}";
        ClientMessage.Parse(Encoding.UTF8.GetBytes(json), out var error);
        Assert.True(error!.Message!.Length < 200);
    }

    [Theory]
    [InlineData(11025, null, null, "unsupported_sample_rate")]
    [InlineData(16000, 12000, null, "unsupported_sample_rate")]
    [InlineData(16000, null, 10, "bad_message")]
    [InlineData(16000, null, 100, "bad_message")]
    public void Bad_hellos_are_fatal_with_a_code(int rate, int? outputRate, int? frameMs, string code)
    {
        var invalid = new VoiceHello { SampleRate = rate, OutputSampleRate = outputRate, OutputFrameMs = frameMs }.Validate();
        Assert.NotNull(invalid);
        Assert.Equal(code, invalid.Value.Error.Code);
        Assert.True(invalid.Value.Error.Fatal);
        Assert.InRange(invalid.Value.CloseCode, 4000, 4999);
    }

    [Fact]
    public async Task The_send_queue_keeps_order_and_drops_only_the_oldest_audio_when_full()
    {
        using var queue = new SendQueue(audioCapacity: 3);
        var dropped = 0;
        queue.FramesDropped = n => dropped += n;
        queue.TryEnqueueEvent(new ServerEvent { Type = "reply_audio_start", Turn = 1 });
        for (var i = 0; i < 5; i++)
        {
            var buffer = ArrayPool<byte>.Shared.Rent(4);
            buffer[0] = (byte)i;
            queue.EnqueueAudio(buffer, 4, turn: 1);
        }

        queue.TryEnqueueEvent(new ServerEvent { Type = "reply_audio_end", Turn = 1 });
        Assert.Equal(2, dropped);
        Assert.Equal(2, queue.DroppedFrames);
        Assert.Equal(3, queue.AudioCount);

        var items = new List<OutgoingItem>();
        for (var i = 0; i < 5; i++)
        {
            items.Add(await queue.DequeueAsync(CancellationToken.None));
        }

        Assert.Equal("reply_audio_start", items[0].Event!.Type);
        Assert.Equal([2, 3, 4], items.Skip(1).Take(3).Select(item => (int)item.Audio![0]));
        Assert.Equal("reply_audio_end", items[4].Event!.Type);
        foreach (var item in items)
        {
            SendQueue.Return(item);
        }
    }

    [Fact]
    public async Task Purging_a_turn_removes_its_frames_and_close_is_the_last_item()
    {
        using var queue = new SendQueue(audioCapacity: 10);
        queue.EnqueueAudio(ArrayPool<byte>.Shared.Rent(4), 4, turn: 1);
        queue.EnqueueAudio(ArrayPool<byte>.Shared.Rent(4), 4, turn: 2);
        Assert.Equal(1, queue.PurgeAudioThrough(1));
        queue.TryEnqueueEvent(new ServerEvent { Type = "barge_in", Turn = 1 });
        queue.Close(4408, "idle_timeout");
        Assert.False(queue.TryEnqueueEvent(new ServerEvent { Type = "late" }));

        var first = await queue.DequeueAsync(CancellationToken.None);
        Assert.Equal(2, first.Turn);
        SendQueue.Return(first);
        Assert.Equal("barge_in", (await queue.DequeueAsync(CancellationToken.None)).Event!.Type);
        var close = await queue.DequeueAsync(CancellationToken.None);
        Assert.True(close.IsClose);
        Assert.Equal(4408, close.CloseCode);
    }

    [Fact]
    public void Metrics_render_prometheus_text_with_a_cumulative_first_packet_histogram()
    {
        var metrics = new GatewayMetrics();
        metrics.RegisterTransport("sip");
        Parallel.For(0, 1000, i =>
        {
            metrics.SessionOpened("websocket");
            metrics.TurnCompleted("websocket");
            metrics.ObserveFirstPacket("websocket", i % 2 == 0 ? 120 : 450);
            metrics.DroppedFrames("websocket", 2);
            metrics.Error("websocket", "bad_frame");
            metrics.SessionClosed("websocket");
        });
        metrics.SessionRejected("websocket", "capacity");

        var text = metrics.RenderPrometheus();
        Assert.Contains("voiceagent_sessions_active{transport=\"websocket\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_sessions_active{transport=\"sip\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_sessions_opened_total{transport=\"websocket\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_turns_total{transport=\"websocket\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_dropped_frames_total{transport=\"websocket\"} 2000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_errors_total{transport=\"websocket\",kind=\"bad_frame\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_sessions_rejected_total{transport=\"websocket\",reason=\"capacity\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_bucket{transport=\"websocket\",le=\"0.1\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_bucket{transport=\"websocket\",le=\"0.15\"} 500\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_bucket{transport=\"websocket\",le=\"0.5\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_bucket{transport=\"websocket\",le=\"+Inf\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_count{transport=\"websocket\"} 1000\n", text, StringComparison.Ordinal);
        Assert.Contains("voiceagent_engine_first_packet_seconds_sum{transport=\"websocket\"} 285\n", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE voiceagent_engine_first_packet_seconds histogram\n", text, StringComparison.Ordinal);

        // Every sample line is "name{labels} number".
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith('#')))
        {
            Assert.Matches(@"^[a-z_]+\{[^}]*\} [0-9.e+-]+$", line);
        }
    }
}
