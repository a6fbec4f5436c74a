using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using VoiceAgent.Gateway.Protocol;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// <c>/hubs/voice</c> driven by the SignalR client library (HubConnection) against the real gateway process: the
/// same events as the WebSocket, reply audio as stream items, caller audio as a client-to-server stream.
/// </summary>
[Collection(SharedGatewayCollection.Name)]
public sealed class SignalRHubTests(SharedGateway gateway, ITestOutputHelper output)
{
    private Uri HubUri => new($"ws://{gateway.BaseUri.Authority}/hubs/voice");

    [Fact]
    public async Task Converse_streams_the_turns_events_and_reply_audio_for_a_spoken_question()
    {
        await using var call = await SpokenConversation.StartAsync(HubUri, "i lost my card");
        var received = new List<ServerEvent>();
        var audioBytes = 0;
        await foreach (var e in call.Events.ReadAllAsync(call.Timeout))
        {
            received.Add(e);
            if (e.Type == MessageTypes.Audio)
            {
                Assert.NotNull(e.Audio);
                audioBytes += e.Audio!.Length;
            }

            if (e.Type == MessageTypes.ReplyAudioEnd)
            {
                break;
            }
        }

        await call.DisposeAsync();
        output.WriteLine(string.Join("\n", received.Where(e => e.Type != MessageTypes.Audio)));

        Assert.Equal(MessageTypes.Ready, received[0].Type);
        Assert.Equal(16000, received[0].OutputSampleRate);
        var types = received.Select(e => e.Type).ToList();
        Assert.True(types.IndexOf(MessageTypes.VadStart) < types.IndexOf(MessageTypes.VadEnd));
        Assert.Contains(MessageTypes.Transcript, types);
        var done = received.Single(e => e.Type == MessageTypes.ReplyTextDone);
        Assert.True(TestSpeech.IsKnownReply(done.Text), $"'{done.Text}' is not one of the pack's replies");
        var start = types.IndexOf(MessageTypes.ReplyAudioStart);
        var end = types.IndexOf(MessageTypes.ReplyAudioEnd);
        Assert.True(start >= 0 && end > start);
        Assert.All(received.Where(e => e.Type == MessageTypes.Audio), e => Assert.True(types.IndexOf(MessageTypes.Audio) > start));
        Assert.InRange(audioBytes / 32.0, received[end].AudioMs!.Value - 25, received[end].AudioMs!.Value + 25);
        Assert.True(await gateway.MetricAsync("voiceagent_turns_total{transport=\"signalr\"}") >= 1);
    }

    [Fact]
    public async Task A_reply_announcing_a_transfer_is_followed_by_a_call_action_item_after_its_audio()
    {
        await using var call = await SpokenConversation.StartAsync(HubUri, "can i talk to a person please");
        var types = new List<string>();
        ServerEvent? action = null;
        await foreach (var e in call.Events.ReadAllAsync(call.Timeout))
        {
            types.Add(e.Type);
            if (e.Type == MessageTypes.CallAction)
            {
                action = e;
                break;
            }
        }

        await call.DisposeAsync();
        Assert.NotNull(action);
        Assert.Equal("transfer", action.Action);
        Assert.Null(action.Target); // the shared gateway has no transfer target
        Assert.True(types.LastIndexOf(MessageTypes.ReplyAudioEnd) is var end && end >= 0 && end < types.Count - 1, string.Join(' ', types));
        Assert.DoesNotContain(MessageTypes.Audio, types.Skip(end + 1));
        Assert.True(await gateway.MetricAsync("voiceagent_call_actions_total{transport=\"signalr\",action=\"transfer\"}") >= 1);
    }

    [Fact]
    public async Task A_bad_hello_ends_the_stream_with_a_hub_error_naming_the_code()
    {
        await using var connection = SignalRWebSocketConnectionFactory.Create(HubUri);
        await connection.StartAsync();
        var microphone = Channel.CreateBounded<byte[]>(1);
        var error = await Assert.ThrowsAsync<HubException>(async () =>
        {
            var events = await connection.StreamAsChannelAsync<ServerEvent>("Converse", new VoiceHello { SampleRate = 11025 }, microphone.Reader);
            await foreach (var _ in events.ReadAllAsync())
            {
            }
        });
        Assert.Contains("unsupported_sample_rate", error.Message, StringComparison.Ordinal);

        // The connection survives a refused hello: Commit without a conversation is its own clear error.
        var notStarted = await Assert.ThrowsAsync<HubException>(() => connection.InvokeAsync("Commit"));
        Assert.Contains("not_started", notStarted.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commit_and_bad_frames_are_answered_on_the_stream_and_the_conversation_goes_on()
    {
        await using var connection = SignalRWebSocketConnectionFactory.Create(HubUri);
        await connection.StartAsync();
        var microphone = Channel.CreateBounded<byte[]>(16);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var events = await connection.StreamAsChannelAsync<ServerEvent>("Converse", new VoiceHello { SampleRate = 8000 }, microphone.Reader, timeout.Token);
        Assert.Equal(MessageTypes.Ready, (await events.ReadAsync(timeout.Token)).Type);

        await microphone.Writer.WriteAsync(new byte[15], timeout.Token); // odd length
        Assert.Equal(ErrorCodes.BadFrame, (await events.ReadAsync(timeout.Token)).Code);
        await microphone.Writer.WriteAsync(new byte[320], timeout.Token); // a good 20 ms frame at 8 kHz
        await connection.InvokeAsync("Commit", timeout.Token);
        var noSpeech = await events.ReadAsync(timeout.Token);
        Assert.Equal("no_speech", noSpeech.Code);
        Assert.False(noSpeech.Fatal);
    }

    /// <summary>A Converse stream whose caller asks one question and then holds the line with silence (90 s at most).</summary>
    private sealed class SpokenConversation : IAsyncDisposable
    {
        private readonly HubConnection _connection;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(90));
        private readonly CancellationTokenSource _stopMicrophone;
        private Task _speaking = Task.CompletedTask;
        private bool _disposed;

        private SpokenConversation(HubConnection connection)
        {
            _connection = connection;
            _stopMicrophone = CancellationTokenSource.CreateLinkedTokenSource(_timeout.Token);
        }

        public ChannelReader<ServerEvent> Events { get; private set; } = null!;

        public CancellationToken Timeout => _timeout.Token;

        public static async Task<SpokenConversation> StartAsync(Uri hub, string question)
        {
            var call = new SpokenConversation(SignalRWebSocketConnectionFactory.Create(hub));
            await call._connection.StartAsync();
            var microphone = Channel.CreateBounded<byte[]>(16);
            call.Events = await call._connection.StreamAsChannelAsync<ServerEvent>("Converse", new VoiceHello { SampleRate = 16000 }, microphone.Reader, call.Timeout);
            call._speaking = SpeakAsync(microphone.Writer, TestSpeech.Pcm16(question), call._stopMicrophone.Token);
            return call;
        }

        /// <summary>Stops the microphone and closes the connection (again: nothing).</summary>
        public async ValueTask DisposeAsync()
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            await _stopMicrophone.CancelAsync();
            await _speaking;
            await _connection.DisposeAsync();
            _stopMicrophone.Dispose();
            _timeout.Dispose();
        }
    }

    private static async Task SpeakAsync(ChannelWriter<byte[]> microphone, short[] speech, CancellationToken cancellationToken)
    {
        try
        {
            // The question at 2× real time, then silence at real time (a live microphone) until stopped.
            var frame = 320;
            for (var offset = 0; offset + frame <= speech.Length; offset += frame)
            {
                await microphone.WriteAsync(ToBytes(speech.AsSpan(offset, frame)), cancellationToken);
                await Task.Delay(10, cancellationToken);
            }

            var silence = new byte[frame * 2];
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                await microphone.WriteAsync(silence, cancellationToken);
            }
        }
        catch (OperationCanceledException)
        {
            microphone.TryComplete();
        }
    }

    private static byte[] ToBytes(ReadOnlySpan<short> samples)
    {
        var bytes = new byte[samples.Length * 2];
        System.Runtime.InteropServices.MemoryMarshal.AsBytes(samples).CopyTo(bytes);
        return bytes;
    }
}
