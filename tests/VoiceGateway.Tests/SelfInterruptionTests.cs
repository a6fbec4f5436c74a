using System.Buffers.Binary;
using System.Net.WebSockets;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// Echo and self-interruption with the real engine over <c>/v1/voice</c>: a simulated loudspeaker phone plays the
/// reply as it arrives (80 ms jitter buffer, real time) and its microphone picks the reply up again, attenuated and
/// delayed. With the echo guard the agent does not interrupt itself; without it, it does (the control that shows the
/// echo is loud enough to matter); and a real second voice still barges in.
/// </summary>
[Collection(SharedGatewayCollection.Name)]
public sealed class SelfInterruptionTests(SharedGateway gateway, ITestOutputHelper output)
{
    private const float EchoGain = 0.35f;
    private const int EchoDelayMs = 120;

    [Fact]
    public async Task Its_own_reply_echoed_back_during_playback_does_not_interrupt_it()
    {
        await using var phone = await Phone.ConnectAsync(gateway, echoGuard: true);
        await phone.AskAsync(TestSpeech.Pcm16("what time do you open"));
        var end = await phone.Client.WaitForAsync("reply_audio_end", TimeSpan.FromSeconds(60));
        await phone.PlayOutAsync(); // let the whole reply (and its echo) play out
        output.WriteLine($"{phone.Client.Describe()}\nplayed {phone.PlayedMs} ms, echo peak {phone.EchoPeak:0.000}");

        Assert.Equal(0, phone.Client.Count("barge_in"));
        Assert.DoesNotContain(phone.Client.Events, e => e.GetProperty("type").GetString() == "vad_start" && e.GetProperty("turn").GetInt32() > 1);
        Assert.True(phone.PlayedMs >= end.GetProperty("audio_ms").GetInt64() - 100, "the reply did not play to its end");
        Assert.True(phone.EchoPeak > 0.02, "the echo was too quiet to test anything");
    }

    [Fact]
    public async Task Without_the_echo_guard_the_same_echo_makes_the_agent_interrupt_itself()
    {
        await using var phone = await Phone.ConnectAsync(gateway, echoGuard: false);
        await phone.AskAsync(TestSpeech.Pcm16("what time do you open"));
        var bargeIn = await phone.Client.WaitForAsync("barge_in", TimeSpan.FromSeconds(60));
        output.WriteLine(phone.Client.Describe());
        Assert.True(bargeIn.GetProperty("delivered_ms").GetInt64() >= 0);
    }

    [Fact]
    public async Task A_second_voice_over_the_echo_still_barges_in_and_playback_stops()
    {
        await using var phone = await Phone.ConnectAsync(gateway, echoGuard: true);
        await phone.AskAsync(TestSpeech.Pcm16("what time do you open"));
        await phone.Client.WaitForAsync("reply_audio_start", TimeSpan.FromSeconds(60));
        await Task.Delay(900);
        phone.Say(TestSpeech.Pcm16("no stop, wait a moment please", voice: "en-gb+m3", padMs: 0));
        var bargeIn = await phone.Client.WaitForAsync("barge_in", TimeSpan.FromSeconds(15));
        var playedAtBargeIn = phone.PlayedMs;
        await Task.Delay(600);
        output.WriteLine($"{phone.Client.Describe()}\nplayed {phone.PlayedMs} ms");

        // The phone reports playback (every 200 ms), so "delivered" is at most what it had played — never the audio sent
        // ahead of it, which it had not heard — and only what was heard stays in the conversation.
        var delivered = bargeIn.GetProperty("delivered_ms").GetInt64();
        Assert.InRange(delivered, 500, 6000);
        Assert.True(delivered <= playedAtBargeIn + 20, $"delivered {delivered} ms but the phone had played only {playedAtBargeIn} ms");
        Assert.True(phone.PlayedMs - playedAtBargeIn <= 40, $"{phone.PlayedMs - playedAtBargeIn} ms played after the barge-in"); // at most the tick in progress
        // Nothing of the interrupted reply follows the barge_in message on the wire.
        var timeline = phone.Client.Timeline.ToList();
        var bargeInAt = timeline.FindIndex(r => r.Event is { } e && e.GetProperty("type").GetString() == "barge_in");
        var framesAfter = timeline.Skip(bargeInAt + 1).TakeWhile(r => r.Event is not { } e || e.GetProperty("type").GetString() != "reply_audio_start").Count(r => r.Event is null);
        Assert.Equal(0, framesAfter);
    }

    /// <summary>A loudspeaker phone: plays reply frames at real time after an 80 ms buffer; its mic hears the room.</summary>
    private sealed class Phone : IAsyncDisposable
    {
        private const int Rate = 16000;
        private const int Frame = 320;
        private readonly Queue<short> _playout = new();
        private readonly List<short> _speaker = [];   // what the loudspeaker played, one sample per mic sample
        private readonly Queue<short> _question = new();
        private readonly Queue<short> _voice = new();
        private readonly CancellationTokenSource _stop = new();
        private Task _loop = Task.CompletedTask;
        private bool _buffering = true;
        private long _played;
        private long _playedInTurn;
        private int _turn;
        private float _echoPeak;

        private Phone(VoiceClient client) => Client = client;

        public VoiceClient Client { get; }

        public long PlayedMs
        {
            get
            {
                lock (_playout)
                {
                    return _played * 1000 / Rate;
                }
            }
        }

        public float EchoPeak
        {
            get
            {
                lock (_playout)
                {
                    return _echoPeak;
                }
            }
        }

        public static async Task<Phone> ConnectAsync(GatewayServer gateway, bool echoGuard)
        {
            var client = await VoiceClient.ConnectAsync(gateway.VoiceUri);
            var phone = new Phone(client);
            client.OnAudio = phone.OnFrame;
            await client.SendHelloAsync(Rate, echoGuard ? "" : ",\"echo_guard\":false");
            await client.WaitForAsync("ready", TimeSpan.FromSeconds(10));
            phone._loop = Task.Run(phone.RunAsync);
            return phone;
        }

        public Task AskAsync(short[] question)
        {
            lock (_playout)
            {
                foreach (var s in question)
                {
                    _question.Enqueue(s);
                }
            }

            return Task.CompletedTask;
        }

        public void Say(short[] speech)
        {
            lock (_playout)
            {
                foreach (var s in speech)
                {
                    _voice.Enqueue(s);
                }
            }
        }

        /// <summary>Waits until the phone has nothing left to play, plus the echo path and the VAD's hangover.</summary>
        public async Task PlayOutAsync()
        {
            while (true)
            {
                lock (_playout)
                {
                    if (_playout.Count == 0)
                    {
                        break;
                    }
                }

                await Task.Delay(50);
            }

            await Task.Delay(1500);
        }

        private void OnFrame(ReadOnlyMemory<byte> frame)
        {
            lock (_playout)
            {
                for (var i = 0; i + 1 < frame.Length; i += 2)
                {
                    _playout.Enqueue(BinaryPrimitives.ReadInt16LittleEndian(frame.Span[i..]));
                }

                // A barge-in is handled by the events check in the loop; a new reply starts buffering again.
            }
        }

        private async Task RunAsync()
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            var delay = Rate * EchoDelayMs / 1000;
            var bargeIns = 0;
            // Clocked by elapsed time, not by ticks: a loaded machine skips timer ticks, and a phone that then played
            // slower than real time would pile up reply audio the server thinks was heard long ago.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            long framesDone = 0;
            try
            {
                while (await timer.WaitForNextTickAsync(_stop.Token))
                {
                    for (; framesDone < clock.ElapsedMilliseconds / 20; framesDone++)
                    {
                        await RunFrameAsync();
                    }
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // hung up
            }

            async Task RunFrameAsync()
            {
                var mic = new short[Frame];
                string? report = null;
                lock (_playout)
                {
                    // Like the web client, report what has really been played of the current reply.
                    var started = Client.Events.LastOrDefault(e => e.GetProperty("type").GetString() == "reply_audio_start");
                    var turn = started.ValueKind == System.Text.Json.JsonValueKind.Object ? started.GetProperty("turn").GetInt32() : 0;
                    if (turn != _turn)
                    {
                        _turn = turn;
                        _playedInTurn = 0;
                    }

                    if (_turn > 0 && framesDone % 10 == 0)
                    {
                        report = $"{{\"type\":\"playback\",\"turn\":{_turn},\"played_ms\":{_playedInTurn * 1000 / Rate}}}";
                    }

                    if (Client.Count("barge_in") > bargeIns)
                    {
                        bargeIns = Client.Count("barge_in");
                        _playout.Clear(); // stop playback at once, as the browser does
                        _buffering = true;
                    }

                    if (_buffering && _playout.Count >= Rate * 80 / 1000)
                    {
                        _buffering = false;
                    }

                    for (var i = 0; i < Frame; i++)
                    {
                        short played = 0;
                        if (!_buffering && _playout.TryDequeue(out var s))
                        {
                            played = s;
                            _played++;
                            _playedInTurn++;
                        }

                        _speaker.Add(played);
                        var t = _speaker.Count - 1;
                        var echo = t >= delay ? _speaker[t - delay] * EchoGain : 0;
                        _echoPeak = Math.Max(_echoPeak, Math.Abs(echo) / 32768f);
                        var own = _question.TryDequeue(out var q) ? q : (short)0;
                        var other = _voice.TryDequeue(out var v) ? v : (short)0;
                        mic[i] = (short)Math.Clamp(echo + own + other, short.MinValue, short.MaxValue);
                    }

                    if (_playout.Count == 0 && !_buffering)
                    {
                        _buffering = true;
                    }
                }

                await Client.SendPcmAsync(mic);
                if (report is not null)
                {
                    await Client.SendJsonAsync(report);
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _loop;
            await Client.DisposeAsync();
            _stop.Dispose();
        }
    }
}
