using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Playwright;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// The web client in real headless Chromium (the Debian package, driven by Playwright) against the gateway process.
/// Chromium's fake microphone plays a WAV (question, silences, maybe an interruption); the page's own state
/// (window.voiceAgent, written by app.js and the playback worklet) says what it received and what it played.
/// Screenshots are kept under artifacts/browser/ (git-ignored).
/// </summary>
[Collection(SharedGatewayCollection.Name)]
public sealed class BrowserTests(SharedGateway gateway, ITestOutputHelper output)
{
    private static readonly string ArtifactDirectory = Path.Combine(GatewayProcess.Root, "artifacts", "browser");

    [Fact]
    public async Task Clicking_connect_shows_the_transcript_and_reply_and_plays_the_reply_audio()
    {
        var clock = Stopwatch.StartNew();
        var wav = MicrophoneWav("question", TestSpeech.Join(TestSpeech.Silence(1000), TestSpeech.Pcm16("what is my balance"), TestSpeech.Silence(9000)));
        await using var browser = await Browser.LaunchAsync(wav);
        var page = browser.Page;
        await page.GotoAsync(gateway.BaseUri.ToString());
        await page.ClickAsync("#connect");

        await page.WaitForFunctionAsync("() => window.voiceAgent.stats.replies.length > 0", null, new() { Timeout = 60_000 });
        var reply = (await page.TextContentAsync("#reply"))?.Trim();
        Assert.True(TestSpeech.IsKnownReply(reply), $"#reply shows '{reply}', not one of the pack's replies; transcript '{await page.TextContentAsync("#transcript")}', stats {await Stats(page)}");

        var audioMs = await WaitUntilTheReplyIsPlayedOut(page);
        await page.WaitForFunctionAsync("() => document.getElementById('latency').textContent.includes('turn 1')", null, new() { Timeout = 10_000 });
        var stats = await Stats(page);
        Directory.CreateDirectory(ArtifactDirectory);
        var screenshot = Path.Combine(ArtifactDirectory, "reply.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        output.WriteLine($"reply '{reply}', transcript '{await page.TextContentAsync("#transcript")}'\nlatency: {await page.TextContentAsync("#latency")}\nstats: {stats}\nreply audio {audioMs} ms; test took {clock.Elapsed.TotalSeconds:0.0} s; screenshot {screenshot}");

        Assert.False(string.IsNullOrWhiteSpace(await page.TextContentAsync("#transcript")));
        Assert.InRange(stats.GetProperty("playedMs").GetInt64(), audioMs - 100, audioMs + 100);
        Assert.True(stats.GetProperty("playedPeak").GetDouble() > 0.02, "the worklet played silence");
        Assert.True(stats.GetProperty("heardPeak").GetDouble() > 0.005, "nothing reached the end of the playback route");
        Assert.Contains(stats.GetProperty("route").GetString(), new[] { "webrtc-loopback", "web-audio" });
        Assert.Empty(stats.GetProperty("errors").EnumerateArray());
        Assert.True(new FileInfo(screenshot).Length > 1000);
    }

    [Fact]
    public async Task Speech_captured_while_the_call_is_still_connecting_is_sent_once_the_server_is_ready()
    {
        // The caller speaks at once (300 ms after the microphone opens) while the server's 'ready' is held back 1.5 s
        // on its way to the page: the question is over before the page may send audio, so only the client's
        // pre-connect buffer can bring it to the server.
        var wav = MicrophoneWav("preconnect", TestSpeech.Join(TestSpeech.Pcm16("what is my balance"), TestSpeech.Silence(9000)));
        await using var browser = await Browser.LaunchAsync(wav);
        var page = browser.Page;
        await page.RouteWebSocketAsync(new Regex("/v1/voice"), route =>
        {
            var server = route.ConnectToServer();
            var gate = new object();
            var forward = Task.CompletedTask;
            server.OnMessage(frame =>
            {
                lock (gate)
                {
                    // Keep the server's order: every message waits for the one before it (the ready for its delay).
                    forward = forward.ContinueWith(async _ =>
                    {
                        if (frame.Text is { } text)
                        {
                            if (text.Contains("\"ready\"", StringComparison.Ordinal))
                            {
                                await Task.Delay(1500);
                            }

                            route.Send(text);
                        }
                        else
                        {
                            route.Send(frame.Binary!);
                        }
                    }, TaskScheduler.Default).Unwrap();
                }
            });
        });
        await page.GotoAsync(gateway.BaseUri.ToString());
        await page.ClickAsync("#connect");

        await page.WaitForFunctionAsync("() => window.voiceAgent.stats.replies.length > 0", null, new() { Timeout = 60_000 });
        var stats = await Stats(page);
        var transcript = await page.TextContentAsync("#transcript");
        output.WriteLine($"transcript '{transcript}', reply '{await page.TextContentAsync("#reply")}'\nstats: {stats}");

        Assert.True(stats.GetProperty("preconnectMs").GetInt64() >= 1500, $"only {stats.GetProperty("preconnectMs")} ms were captured before the server was ready");
        Assert.Equal(0, stats.GetProperty("preconnectDroppedMs").GetInt64());
        Assert.Contains("balance", transcript, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(stats.GetProperty("errors").EnumerateArray());
    }

    [Fact]
    public async Task A_main_thread_stall_during_the_reply_delays_playback_but_loses_none_of_it()
    {
        // A busy page (or a loaded machine) stops the main thread that hands reply frames to the playback worklet,
        // while the worklet's audio thread keeps playing: it runs dry, then receives the stalled frames in one burst,
        // far above the server's 200 ms lead. The caller must still hear every word, just a little later.
        var wav = MicrophoneWav("stall", TestSpeech.Join(TestSpeech.Silence(1000), TestSpeech.Pcm16("what is my balance"), TestSpeech.Silence(9000)));
        await using var browser = await Browser.LaunchAsync(wav);
        var page = browser.Page;
        await page.GotoAsync(gateway.BaseUri.ToString());
        await page.ClickAsync("#connect");

        await page.WaitForFunctionAsync("() => window.voiceAgent.stats.playedMs > 300", null, new() { Timeout = 60_000, PollingInterval = 20 });
        await page.EvaluateAsync("() => { const until = performance.now() + 800; while (performance.now() < until) { } }");
        var audioMs = await WaitUntilTheReplyIsPlayedOut(page);
        await Task.Delay(150); // the worklet's last stats message
        var stats = await Stats(page);
        output.WriteLine($"reply audio {audioMs} ms; stats after an 800 ms main-thread stall: {stats}");

        Assert.True(stats.GetProperty("underruns").GetInt32() >= 1, "the stall did not starve the worklet, so this run tested nothing");
        Assert.Equal(0, stats.GetProperty("droppedMs").GetInt64());
        Assert.InRange(stats.GetProperty("playedMs").GetInt64(), audioMs - 100, audioMs + 100);
    }

    [Fact]
    public async Task Speaking_over_the_reply_barges_in_and_playback_stops_at_once()
    {
        var clock = Stopwatch.StartNew();
        var wav = MicrophoneWav("barge-in", TestSpeech.Join(
            TestSpeech.Silence(1000),
            TestSpeech.Pcm16("what is my balance"),
            TestSpeech.Silence(1800),
            // No comma: espeak pauses there, and "no stop" alone is a whole answer, so the semantic end of turn would
            // (rightly) end that turn at the pause and start a new reply inside the 700 ms this test watches for silence.
            TestSpeech.Pcm16("no stop wait a moment please", voice: "en-gb+m3", padMs: 0),
            TestSpeech.Silence(6000)));
        await using var browser = await Browser.LaunchAsync(wav);
        var page = browser.Page;
        await page.GotoAsync(gateway.BaseUri.ToString());
        await page.ClickAsync("#connect");

        await page.WaitForFunctionAsync("() => window.voiceAgent.stats.bargeIns.length > 0", null, new() { Timeout = 60_000 });
        await Task.Delay(100); // one stats message from the worklet after the stop
        var atStop = await Stats(page);
        await Task.Delay(700);
        var later = await Stats(page);
        Directory.CreateDirectory(ArtifactDirectory);
        await page.ScreenshotAsync(new() { Path = Path.Combine(ArtifactDirectory, "barge-in.png"), FullPage = true });
        var bargeIn = later.GetProperty("bargeIns")[0];
        output.WriteLine($"barge-in {bargeIn}\nat stop: {atStop}\nlater: {later}\ntest took {clock.Elapsed.TotalSeconds:0.0} s");

        Assert.True(later.GetProperty("stoppedAt").ValueKind == JsonValueKind.Number, "the worklet never reported the stop");
        Assert.False(later.GetProperty("playing").GetBoolean());
        Assert.True(bargeIn.GetProperty("deliveredMs").GetInt64() > 0, "the barge-in came before any reply audio");
        // Nothing more was played after the stop (the worklet posts stats every 8 quanta; allow one more quantum).
        Assert.InRange(later.GetProperty("playedSamples").GetInt64() - atStop.GetProperty("playedSamples").GetInt64(), 0, 128);
        var turn = bargeIn.GetProperty("turn").GetInt32();
        Assert.False(await page.EvaluateAsync<bool>($"() => window.voiceAgent.events.some(e => e.type === 'reply_audio_end' && e.turn === {turn})"),
            "the interrupted reply still announced its end");
    }

    /// <summary>
    /// Waits until the first reply is played to the end (the server's reply_audio_end has come and the worklet has
    /// drained its buffer) and returns that reply's audio length in ms, as the server announced it.
    /// </summary>
    private static async Task<long> WaitUntilTheReplyIsPlayedOut(IPage page)
    {
        await page.WaitForFunctionAsync(
            "() => window.voiceAgent.events.some(e => e.type === 'reply_audio_end') && !window.voiceAgent.stats.playing && window.voiceAgent.stats.playedMs > 0",
            null, new() { Timeout = 30_000 });
        var end = await page.EvaluateAsync<JsonElement>("() => window.voiceAgent.events.find(e => e.type === 'reply_audio_end')");
        return end.GetProperty("audio_ms").GetInt64();
    }

    private static Task<JsonElement> Stats(IPage page) => page.EvaluateAsync<JsonElement>("() => JSON.parse(JSON.stringify(window.voiceAgent.stats))");

    private static string MicrophoneWav(string name, short[] samples)
    {
        var path = Path.Combine(GatewayProcess.Scratch("browser"), name + ".wav");
        TestSpeech.WriteWav(path, samples, 16000);
        return path;
    }

    /// <summary>Headless Debian chromium with the fake microphone playing <c>wav</c> once.</summary>
    private sealed class Browser : IAsyncDisposable
    {
        private IPlaywright? _playwright;
        private IBrowser? _browser;

        public IPage Page { get; private set; } = null!;

        public static async Task<Browser> LaunchAsync(string wav)
        {
            var executable = Environment.GetEnvironmentVariable("VOICEAGENT_CHROMIUM") ?? "/usr/bin/chromium";
            Assert.True(File.Exists(executable), $"The browser tests need Chromium at {executable}: install the Debian package chromium (./voiceagent setup does it when run as root) or set VOICEAGENT_CHROMIUM.");
            var browser = new Browser { _playwright = await Playwright.CreateAsync() };
            browser._browser = await browser._playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = executable,
                Headless = true,
                Args =
                [
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    $"--use-file-for-fake-audio-capture={wav}%noloop",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            });
            browser.Page = await browser._browser.NewPageAsync(new() { ViewportSize = new() { Width = 900, Height = 700 } });
            return browser;
        }

        public async ValueTask DisposeAsync()
        {
            if (_browser is not null)
            {
                await _browser.DisposeAsync();
            }

            _playwright?.Dispose();
        }
    }
}
