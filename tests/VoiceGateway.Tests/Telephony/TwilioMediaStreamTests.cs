using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using VoiceAgent.Core.Audio;
using VoiceAgent.Gateway.Tests.Telephony.Harness;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests.Telephony;

/// <summary>
/// A WebSocket client speaking Twilio's side of Media Streams to <c>/v1/twilio</c>: connected, start, 20 ms mu-law
/// media, dtmf, mark echoes, stop. It checks the reply media (mu-law 8 kHz base64, 20 ms, speech energy), the marks,
/// clear on barge-in and the close.
/// </summary>
[Collection(TelephonyCollection.Name)]
public sealed class TwilioMediaStreamTests(TelephonyFixture fixture, ITestOutputHelper output)
{
    private const string StreamSid = "MZ00000000000000000000000000000001";

    [Fact]
    public async Task A_stream_gets_spoken_reply_media_marks_and_clear_on_barge_in_and_dtmf_reaches_the_session()
    {
        var endedBefore = fixture.Gateway.EndedCalls("twilio").Count;
        using var caller = await TwilioCaller.StartAsync(WebSocketUri());
        var (inbox, clock) = (caller.Inbox, caller.Clock);

        // The caller asks, then keeps the line open with silence (Twilio streams continuously) until the reply speaks.
        var question = File.ReadAllBytes(fixture.Audio.Question);
        Task Speak(ReadOnlyMemory<byte> audio) => caller.SpeakAsync(audio);

        var speakingFrom = clock.Elapsed.TotalMilliseconds;
        await Speak(question);
        var silence = Enumerable.Repeat((byte)0xFF, 160).ToArray();
        while (!inbox.Any(m => IsSpeech(m.Message)) && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Speak(silence);
        }

        var replyStarted = inbox.First(m => IsSpeech(m.Message)).AtMs;
        var lastWord = speakingFrom + ((question.Length - TrailingSilence(question)) / 8.0);
        output.WriteLine($"first spoken reply media {replyStarted - lastWord:F0} ms after the caller's last word was sent (includes the VAD's end-of-turn silence)");

        // Barge in: speak again over the reply. The agent must send clear.
        var bargeIn = clock.Elapsed.TotalMilliseconds;
        await Speak(question.AsMemory(0, Math.Min(question.Length, 8000 * 2)));
        var clearAt = await WaitForAsync(inbox, m => Event(m) == "clear", TimeSpan.FromSeconds(10));
        output.WriteLine($"clear {clearAt - bargeIn:F0} ms after the caller started speaking over the reply");

        // Echo every mark back as Twilio does once the audio before it has played, press 9, and stop.
        foreach (var (_, message) in inbox.Where(m => Event(m) == "mark").ToList())
        {
            await caller.SendAsync($$$"""{"event":"mark","sequenceNumber":"{{{caller.Sequence++}}}","streamSid":"{{{StreamSid}}}","mark":{"name":"{{{message.GetProperty("mark").GetProperty("name").GetString()}}}"}}""");
        }

        await caller.SendAsync($$$"""{"event":"dtmf","sequenceNumber":"{{{caller.Sequence++}}}","streamSid":"{{{StreamSid}}}","dtmf":{"track":"inbound_track","digit":"9"}}""");
        await Speak(silence);
        await caller.SendAsync($$$"""{"event":"stop","sequenceNumber":"{{{caller.Sequence++}}}","streamSid":"{{{StreamSid}}}","stop":{"accountSid":"AC0","callSid":"CA0"}}""");
        await caller.Receiver;
        Assert.Equal(WebSocketCloseStatus.NormalClosure, caller.Socket.CloseStatus);

        var media = inbox.Where(m => Event(m) == "media").Select(m => m.Message).ToList();
        Assert.NotEmpty(media);
        Assert.All(media, m => Assert.Equal(StreamSid, m.GetProperty("streamSid").GetString()));
        Assert.All(media, m => Assert.Equal(160, Convert.FromBase64String(m.GetProperty("media").GetProperty("payload").GetString()!).Length));
        var speechFrames = media.Count(IsSpeech);
        output.WriteLine($"{media.Count} media messages (20 ms each), {speechFrames} with speech; marks: {string.Join(' ', inbox.Where(m => Event(m) == "mark").Select(m => m.Message.GetProperty("mark").GetProperty("name").GetString()))}");
        Assert.True(speechFrames >= 10, $"only {speechFrames} reply frames carry speech");
        var marks = inbox.Where(m => Event(m) == "mark").Select(m => m.Message.GetProperty("mark").GetProperty("name").GetString()!).ToList();
        Assert.NotEmpty(marks);
        Assert.All(marks, name => Assert.Matches("^r[0-9]+:[0-9]+$", name));

        var json = fixture.Gateway.WaitFor("/v1/telephony/calls", j => j.GetProperty("recent").EnumerateArray().Count(c => c.GetProperty("transport").GetString() == "twilio") > endedBefore, TimeSpan.FromSeconds(10));
        var record = json.GetProperty("recent").EnumerateArray().Last(c => c.GetProperty("transport").GetString() == "twilio");
        output.WriteLine(record.ToString());
        Assert.Equal(StreamSid, record.GetProperty("id").GetString());
        Assert.Equal("9", record.GetProperty("dtmf").GetString());
        Assert.True(record.GetProperty("barge_ins").GetInt64() >= 1);
        Assert.Equal("stop", record.GetProperty("end_reason").GetString());
    }

    [Fact]
    public async Task A_reply_announcing_a_transfer_ends_the_stream_after_it_has_played_and_the_record_says_why()
    {
        var endedBefore = fixture.Gateway.EndedCalls("twilio").Count;
        using var caller = await TwilioCaller.StartAsync(WebSocketUri());
        var (inbox, clock) = (caller.Inbox, caller.Clock);

        // Ask for a person, then stream silence (as Twilio does) until the agent closes the stream.
        await caller.SpeakAsync(File.ReadAllBytes(fixture.Audio.Agent));
        var silence = Enumerable.Repeat((byte)0xFF, 160).ToArray();
        while (!caller.Receiver.IsCompleted && clock.Elapsed < TimeSpan.FromSeconds(40))
        {
            try
            {
                await caller.SpeakAsync(silence);
            }
            catch (Exception ex) when (ex is WebSocketException or InvalidOperationException)
            {
                break; // the agent's close came in while this chunk was on its way
            }
        }

        await caller.Receiver;
        var closedAt = clock.Elapsed.TotalMilliseconds;
        const string Reason = $"the agent asked for a transfer to {TelephonyFixture.TransferTarget} after turn 1";
        Assert.Equal(WebSocketCloseStatus.NormalClosure, caller.Socket.CloseStatus);
        Assert.Equal(Reason, caller.Socket.CloseStatusDescription);

        // The whole reply went out before the close, and the close waited for it to play (real time + the lead).
        var media = inbox.Where(m => Event(m) == "media").ToList();
        var speech = media.Where(m => IsSpeech(m.Message)).ToList();
        output.WriteLine($"{media.Count} media messages, {speech.Count} with speech; the last one {closedAt - media[^1].AtMs:F0} ms before the close");
        Assert.True(speech.Count >= 100, $"only {speech.Count} reply frames carry speech");
        Assert.True(closedAt - media[^1].AtMs >= 400, "the stream closed before the reply could have played out");

        var json = fixture.Gateway.WaitFor("/v1/telephony/calls", j => j.GetProperty("recent").EnumerateArray().Count(c => c.GetProperty("transport").GetString() == "twilio") > endedBefore, TimeSpan.FromSeconds(10));
        var record = json.GetProperty("recent").EnumerateArray().Last(c => c.GetProperty("transport").GetString() == "twilio");
        output.WriteLine(record.ToString());
        Assert.Equal(Reason, record.GetProperty("end_reason").GetString());
    }

    [Fact]
    public async Task Protocol_errors_close_the_stream_with_a_status_and_a_reason()
    {
        using var socket = new ClientWebSocket();
        await socket.ConnectAsync(WebSocketUri(), CancellationToken.None);
        await SendAsync(socket, """{"event":"media","streamSid":"MZ1","media":{"payload":"/w=="}}""");
        var buffer = new byte[1024];
        var result = await socket.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.PolicyViolation, socket.CloseStatus);
        Assert.Equal("media before start", socket.CloseStatusDescription);

        using var second = new ClientWebSocket();
        await second.ConnectAsync(WebSocketUri(), CancellationToken.None);
        await SendAsync(second, "this is not json");
        result = await second.ReceiveAsync(buffer, CancellationToken.None);
        Assert.Equal(WebSocketMessageType.Close, result.MessageType);
        Assert.Equal(WebSocketCloseStatus.InvalidPayloadData, second.CloseStatus);
        Assert.StartsWith("invalid JSON", second.CloseStatusDescription, StringComparison.Ordinal);

        using var http = new HttpClient { BaseAddress = fixture.Gateway.Http };
        var plain = await http.GetAsync(new Uri("/v1/twilio", UriKind.Relative));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, plain.StatusCode);
        Assert.Contains("WebSocket", await plain.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    private Uri WebSocketUri() => new UriBuilder(new Uri(fixture.Gateway.Http, "/v1/twilio")) { Scheme = "ws" }.Uri;

    /// <summary>Bytes of mu-law silence at the end (0xFF/0x7F are ±0; quiet codes near them count too).</summary>
    private static int TrailingSilence(byte[] mulaw)
    {
        var n = 0;
        for (var i = mulaw.Length - 1; i >= 0 && Math.Abs((int)G711.MuLawDecode(mulaw[i])) < 64; i--)
        {
            n++;
        }

        return n;
    }

    private static string? Event((double, JsonElement Message) item) => item.Message.GetProperty("event").GetString();

    private static bool IsSpeech(JsonElement message)
    {
        if (message.GetProperty("event").GetString() != "media")
        {
            return false;
        }

        var mulaw = Convert.FromBase64String(message.GetProperty("media").GetProperty("payload").GetString()!);
        var pcm = new short[mulaw.Length];
        G711.MuLawDecode(mulaw, pcm);
        var rms = Math.Sqrt(pcm.Average(s => (s / 32768.0) * (s / 32768.0)));
        return rms > 0.01; // -40 dBFS
    }

    private static async Task<double> WaitForAsync(ConcurrentQueue<(double AtMs, JsonElement Message)> inbox, Func<(double, JsonElement), bool> match, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            foreach (var item in inbox)
            {
                if (match(item))
                {
                    return item.AtMs;
                }
            }

            await Task.Delay(20);
        }

        throw new TimeoutException("The expected message did not arrive.");
    }

    private static Task SendAsync(ClientWebSocket socket, string json) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task ReceiveAllAsync(ClientWebSocket socket, ConcurrentQueue<(double, JsonElement)> inbox, Stopwatch clock, CancellationToken cancellationToken)
    {
        var buffer = new byte[65536];
        while (true)
        {
            var length = 0;
            ValueWebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken);
                length += result.Count;
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return;
            }

            using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
            inbox.Enqueue((clock.Elapsed.TotalMilliseconds, document.RootElement.Clone()));
        }
    }

    /// <summary>
    /// Twilio's side of a stream: it connects, reads everything the agent sends into <see cref="Inbox"/> (stamped on
    /// <see cref="Clock"/>) until the agent closes, sends connected + start, then 20 ms mu-law media messages at real time.
    /// </summary>
    private sealed class TwilioCaller : IDisposable
    {
        private readonly CancellationTokenSource _stop = new(TimeSpan.FromSeconds(90));
        private int _chunk;

        private TwilioCaller(ClientWebSocket socket)
        {
            Socket = socket;
            Receiver = Task.Run(() => ReceiveAllAsync(socket, Inbox, Clock, _stop.Token));
        }

        public ClientWebSocket Socket { get; }

        public ConcurrentQueue<(double AtMs, JsonElement Message)> Inbox { get; } = new();

        public Stopwatch Clock { get; } = Stopwatch.StartNew();

        /// <summary>Ends when the agent has closed the stream.</summary>
        public Task Receiver { get; }

        public int Sequence { get; set; } = 2;

        public static async Task<TwilioCaller> StartAsync(Uri endpoint)
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(endpoint, CancellationToken.None);
            var caller = new TwilioCaller(socket);
            await caller.SendAsync("""{"event":"connected","protocol":"Call","version":"1.0.0"}""");
            await caller.SendAsync($$$"""
                {"event":"start","sequenceNumber":"1","streamSid":"{{{StreamSid}}}","start":{"streamSid":"{{{StreamSid}}}","accountSid":"AC0","callSid":"CA0",
                 "tracks":["inbound"],"customParameters":{},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1} } }
                """);
            return caller;
        }

        public async Task SpeakAsync(ReadOnlyMemory<byte> audio)
        {
            for (var offset = 0; offset < audio.Length; offset += 160)
            {
                var payload = Convert.ToBase64String(audio.Span.Slice(offset, Math.Min(160, audio.Length - offset)));
                await SendAsync($$$"""{"event":"media","sequenceNumber":"{{{Sequence++}}}","streamSid":"{{{StreamSid}}}","media":{"track":"inbound","chunk":"{{{++_chunk}}}","timestamp":"{{{_chunk * 20}}}","payload":"{{{payload}}}"}}""");
                await Task.Delay(20);
            }
        }

        public Task SendAsync(string json) => TwilioMediaStreamTests.SendAsync(Socket, json);

        public void Dispose()
        {
            _stop.Dispose();
            Socket.Dispose();
        }
    }
}
