using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary><c>respond</c> run as a process with the committed demo pack: one JSON line per input, reply WAVs written.</summary>
public sealed class RespondCommandTests(ITestOutputHelper output)
{
    private static readonly string[] TimingFields = ["vad_commit", "encoder_tail", "first_text_token", "first_audio_token", "first_audio_frame", "total"];

    [Fact]
    public void Several_inputs_at_different_rates_give_one_json_line_each_in_input_order()
    {
        var dir = GatewayProcess.Scratch("respond");
        var q16 = Path.Combine(dir, "balance-16k.wav");
        var q8 = Path.Combine(dir, "card-8k.wav");
        var q48 = Path.Combine(dir, "hours-48k.wav");
        Speak("what is my balance", q16, 16000);
        Speak("i lost my card", q8, 8000);
        Speak("what time do you open", q48, 48000);
        var outDir = Path.Combine(dir, "replies");

        var result = GatewayProcess.Run("respond", "--input", q16, q8, q48, "--output-dir", outDir, "--json");
        output.WriteLine(result.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        string[] inputs = [q16, q8, q48];
        for (var i = 0; i < lines.Length; i++)
        {
            using var doc = JsonDocument.Parse(lines[i]);
            var line = doc.RootElement;
            Assert.Equal(inputs[i], line.GetProperty("input").GetString());
            var wav = line.GetProperty("output").GetString()!;
            Assert.True(File.Exists(wav), $"{wav} was not written");
            Assert.Equal(JsonValueKind.String, line.GetProperty("reply_text").ValueKind);
            var audioMs = line.GetProperty("audio_ms").GetDouble();
            Assert.True(audioMs > 0, $"no reply audio for {inputs[i]}");

            // The WAV holds exactly the audio the line reports (16-bit mono at 16 kHz: 32 bytes per ms + 44-byte header).
            Assert.Equal(44 + (long)Math.Round(audioMs * 32), new FileInfo(wav).Length);
            var timings = line.GetProperty("timings_ms");
            foreach (var field in TimingFields)
            {
                Assert.Equal(JsonValueKind.Number, timings.GetProperty(field).ValueKind);
            }

            Assert.True(timings.GetProperty("first_audio_frame").GetDouble() <= timings.GetProperty("total").GetDouble());
        }
    }

    [Fact]
    public void A_non_wav_input_exits_non_zero_with_one_sentence_and_writes_nothing()
    {
        var dir = GatewayProcess.Scratch("respond-bad");
        var text = Path.Combine(dir, "question.wav");
        File.WriteAllText(text, "this is not audio");
        var reply = Path.Combine(dir, "reply.wav");

        var result = GatewayProcess.Run("respond", "--input", text, "--output", reply);

        Assert.NotEqual(0, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith("voiceagent: ", line, StringComparison.Ordinal);
        Assert.Contains("question.wav", line, StringComparison.Ordinal);
        Assert.Empty(result.Stdout.Trim());
        Assert.False(File.Exists(reply));
    }

    [Fact]
    public void Output_and_output_dir_together_are_rejected()
    {
        var result = GatewayProcess.Run("respond", "--input", "a.wav", "--output", "r.wav", "--output-dir", "d");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("either '--output'", Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public void A_batch_goes_on_past_an_input_without_speech_and_exits_4_naming_it()
    {
        var dir = GatewayProcess.Scratch("respond-batch");
        var question = Path.Combine(dir, "balance.wav");
        var silent = Path.Combine(dir, "silent.wav");
        var card = Path.Combine(dir, "card.wav");
        Speak("what is my balance", question, 16000);
        Speak("i lost my card", card, 16000);
        TestSpeech.WriteWav(silent, new short[16000], 16000);

        var result = GatewayProcess.Run("respond", "--mode", "text", "--input", question, silent, card, "--output-dir", Path.Combine(dir, "replies"), "--json");
        output.WriteLine(result.ToString());

        Assert.Equal(4, result.ExitCode);
        Assert.Contains("1 of 3 inputs got no reply", Assert.Single(result.StderrLines), StringComparison.Ordinal);
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([question, silent, card], lines.Select(l => l.GetProperty("input").GetString()));
        Assert.Contains("no speech", lines[1].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.False(lines[1].TryGetProperty("reply_text", out _));
        Assert.True(TestSpeech.IsKnownReply(lines[0].GetProperty("reply_text").GetString()), lines[0].ToString());
        Assert.True(TestSpeech.IsKnownReply(lines[2].GetProperty("reply_text").GetString()), lines[2].ToString());
    }

    [Fact]
    public void Live_end_of_turn_lets_the_session_end_the_turn_before_the_file_does()
    {
        // A question followed by 2 s of silence: by default the end of the file ends the turn ('manual'); with
        // --end-of-turn live the session ends it itself at the pause, and 'silence' waits out the VAD hangover.
        var dir = GatewayProcess.Scratch("respond-live");
        var question = Path.Combine(dir, "balance.wav");
        Speak("what is my balance", question, 16000, trailingSeconds: 2);

        JsonElement Run(params string[] extra)
        {
            var result = GatewayProcess.Run(["respond", "--mode", "text", "--input", question, "--output", Path.Combine(dir, "reply.wav"), "--json", .. extra]);
            output.WriteLine(result.ToString());
            Assert.True(result.ExitCode == 0, result.ToString());
            return JsonDocument.Parse(result.Stdout).RootElement;
        }

        var file = Run();
        var live = Run("--end-of-turn", "live");
        var silence = Run("--end-of-turn", "silence");

        Assert.Equal("manual", file.GetProperty("end_of_turn").GetString());
        Assert.Equal("semantic", live.GetProperty("end_of_turn").GetString());
        Assert.Equal("silence", silence.GetProperty("end_of_turn").GetString());
        var liveWait = live.GetProperty("timings_ms").GetProperty("vad_commit").GetDouble();
        var silenceWait = silence.GetProperty("timings_ms").GetProperty("vad_commit").GetDouble();
        Assert.True(liveWait < silenceWait && silenceWait < 1000, $"live ended {liveWait} ms after the speech, silence {silenceWait} ms");
        foreach (var line in new[] { file, live, silence })
        {
            Assert.True(TestSpeech.IsKnownReply(line.GetProperty("reply_text").GetString()), line.ToString());
            Assert.False(string.IsNullOrWhiteSpace(line.GetProperty("transcript").GetString()));
        }
    }

    [Fact]
    public void A_conversation_answers_each_turn_of_one_call_in_full()
    {
        // One session, as a call: with every earlier turn in context the demo decoder cut the replies of later turns
        // short ("Your", "Sorry, I"); the pack's history (none) answers each turn as it answers a first one.
        var dir = GatewayProcess.Scratch("respond-conversation");
        string[] questions = ["what is my balance", "i lost my card", "what time do you open", "what is my balance"];
        var inputs = questions.Select((q, i) => Path.Combine(dir, $"turn{i}.wav")).ToArray();
        for (var i = 0; i < questions.Length; i++)
        {
            Speak(questions[i], inputs[i], 16000, trailingSeconds: 1);
        }

        var result = GatewayProcess.Run(["respond", "--conversation", "--end-of-turn", "live", "--input", .. inputs, "--output-dir", Path.Combine(dir, "replies"), "--json"]);
        output.WriteLine(result.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        var lines = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal([0, 1, 2, 3], lines.Select(l => l.GetProperty("turn").GetInt32()));
        foreach (var line in lines)
        {
            Assert.True(TestSpeech.IsKnownReply(line.GetProperty("reply_text").GetString()), line.ToString());
            Assert.True(line.GetProperty("audio_ms").GetDouble() > 1000, line.ToString());
        }

        // The same question gets the same answer at the start and at the end of the call.
        Assert.Equal(lines[0].GetProperty("reply_text").GetString(), lines[3].GetProperty("reply_text").GetString());
    }

    [Theory]
    [InlineData("needs '--output-dir'", "--conversation", "--input", "a.wav", "--output", "r.wav")]
    [InlineData("'--history-turns' takes a whole number", "--history-turns", "two", "--input", "a.wav", "--output", "r.wav")]
    public void Bad_conversation_options_exit_2_with_one_sentence(string expected, params string[] args)
    {
        var result = GatewayProcess.Run(["respond", .. args]);
        Assert.Equal(2, result.ExitCode);
        Assert.Contains(expected, Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }

    [Fact]
    public void The_turns_of_one_conversation_must_share_a_sample_rate()
    {
        var dir = GatewayProcess.Scratch("respond-conversation-rates");
        var a = Path.Combine(dir, "a.wav");
        var b = Path.Combine(dir, "b.wav");
        Speak("hello", a, 16000);
        Speak("goodbye", b, 8000);
        var result = GatewayProcess.Run("respond", "--conversation", "--input", a, b, "--output-dir", Path.Combine(dir, "replies"));
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("share one sample rate", Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }

    private static void Speak(string text, string path, int rate, double trailingSeconds = 0.3)
    {
        var raw = path + ".espeak.wav";
        GatewayProcess.Tool("espeak-ng", "espeak-ng", "-v", "en-us", "-w", raw, text);
        GatewayProcess.Tool("sox", "sox", "-D", raw, "-b", "16", "-e", "signed-integer", path, "rate", rate.ToString(CultureInfo.InvariantCulture), "pad", "0.3", trailingSeconds.ToString(CultureInfo.InvariantCulture));
    }
}
