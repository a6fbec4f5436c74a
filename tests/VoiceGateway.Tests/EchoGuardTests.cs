using VoiceAgent.Gateway.Echo;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// The echo guard on its own (no engine): the agent's voice coming back attenuated and delayed is kept from the
/// engine, a second voice over it gets through once it persists, and without a reply audio passes untouched.
/// </summary>
public sealed class EchoGuardTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const int Rate = 16000;
    private const int Frame = 320;

    [Fact]
    public void Its_own_reply_fed_back_attenuated_and_delayed_is_replaced_by_silence()
    {
        var reply = TestSpeech.Pcm16("Our branches are open from nine to five, Monday to Friday.");
        var guard = new EchoGuard(new EchoGuardOptions(), Rate, Rate);
        var heard = Run(guard, reply, echoGain: 0.3f, echoDelayMs: 150, caller: null, callerAtMs: 0);

        Assert.Equal(0, guard.ConfirmedCandidates);
        Assert.NotNull(guard.DelayMs);
        Assert.InRange(guard.DelayMs!.Value, 149, 151);
        Assert.True(Rms(heard) < 1e-4, $"the engine would hear the echo at RMS {Rms(heard)}");
    }

    [Fact]
    public void A_second_voice_over_the_echo_is_confirmed_and_reaches_the_engine_with_its_onset()
    {
        var reply = TestSpeech.Pcm16("Our branches are open from nine to five, Monday to Friday.");
        var caller = TestSpeech.Pcm16("stop, wait a moment please", voice: "en-gb+m3", padMs: 0);
        var guard = new EchoGuard(new EchoGuardOptions(), Rate, Rate);
        var heard = Run(guard, reply, echoGain: 0.3f, echoDelayMs: 150, caller, callerAtMs: 1200);

        var callerStart = Rate * 1200 / 1000;
        var firstHeard = Array.FindIndex(heard, callerStart, s => Math.Abs(s) > 300);
        output.WriteLine($"echo delay estimate {guard.DelayMs} ms; caller onset at 1200 ms, first heard at {1000.0 * firstHeard / Rate:0} ms; confirmed {guard.ConfirmedCandidates}, suppressed frames {guard.SuppressedFrames}");
        Assert.True(guard.ConfirmedCandidates >= 1);
        var window = heard.AsSpan(callerStart, Math.Min(caller.Length, heard.Length - callerStart)).ToArray();
        // What the engine hears over the caller's words is the caller (echo removed), at close to full strength.
        Assert.True(Rms(window) > 0.7 * Rms(caller), $"caller RMS {Rms(caller):0.0000}, heard {Rms(window):0.0000}");
        Assert.True(Rms(heard.AsSpan(0, callerStart).ToArray()) < 1e-3, "echo before the caller spoke reached the engine");
    }

    [Fact]
    public void Without_reply_audio_the_caller_passes_untouched_and_without_delay()
    {
        var caller = TestSpeech.Pcm16("what is my balance");
        var guard = new EchoGuard(new EchoGuardOptions(), Rate, Rate);
        for (var offset = 0; offset + Frame <= caller.Length; offset += Frame)
        {
            var frame = caller.AsSpan(offset, Frame);
            Assert.True(guard.Process(frame).SequenceEqual(frame));
        }

        Assert.False(guard.IsGuarding);
    }

    /// <summary>
    /// Plays <paramref name="reply"/> as the server would send it (reference added frame by frame, 200 ms ahead) into
    /// a room that returns it with <paramref name="echoGain"/> after <paramref name="echoDelayMs"/>, plus an optional
    /// caller; returns what the guard lets the engine hear, aligned with the mic timeline.
    /// </summary>
    private static short[] Run(EchoGuard guard, short[] reply, float echoGain, int echoDelayMs, short[]? caller, int callerAtMs)
    {
        var total = reply.Length + Rate * 2;
        var delay = Rate * echoDelayMs / 1000;
        var lead = Rate / 5;
        var noise = new Random(7);
        var heard = new List<short>(total);
        var sent = 0;
        for (var offset = 0; offset + Frame <= total; offset += Frame)
        {
            // The server releases reply audio 200 ms ahead of real time.
            while (sent < reply.Length && sent < offset + lead)
            {
                var n = Math.Min(Frame, reply.Length - sent);
                guard.AddReference(reply.AsSpan(sent, n).ToArray().Select(s => s / 32768f).ToArray());
                sent += n;
            }

            var mic = new short[Frame];
            for (var i = 0; i < Frame; i++)
            {
                var t = offset + i;
                // The loudspeaker plays what was sent from the moment the first frame arrived; the echo is delayed by the path.
                var echo = t - delay >= 0 && t - delay < reply.Length ? reply[t - delay] * echoGain : 0;
                var voice = caller is not null && t >= Rate * callerAtMs / 1000 && t - Rate * callerAtMs / 1000 < caller.Length ? caller[t - Rate * callerAtMs / 1000] : 0;
                mic[i] = (short)Math.Clamp(echo + voice + (noise.NextDouble() - 0.5) * 6, short.MinValue, short.MaxValue);
            }

            heard.AddRange(guard.Process(mic).ToArray());
        }

        return [.. heard];
    }

    private static double Rms(short[] samples) =>
        samples.Length == 0 ? 0 : Math.Sqrt(samples.Average(s => (s / 32768.0) * (s / 32768.0)));
}
