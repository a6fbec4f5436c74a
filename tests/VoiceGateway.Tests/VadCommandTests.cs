using System.Text.Json;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary><c>vad --input FILE.wav</c> run as a process: one JSON array on success, one sentence on stderr otherwise.</summary>
public sealed class VadCommandTests(ITestOutputHelper output)
{
    private const string Recording = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0890.wav";

    [Fact]
    public void Real_speech_prints_one_json_array_of_segments_and_exits_0()
    {
        var result = GatewayProcess.Run("vad", "--input", SpeechWav());
        output.WriteLine(result.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        var segments = ParseSegments(result.Stdout);
        Assert.NotEmpty(segments);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(result.Stderr.Trim());
    }

    [Theory]
    [InlineData(8000)]
    [InlineData(48000)]
    public void Other_supported_rates_give_the_same_segments_within_100_ms(int rate)
    {
        var converted = Path.Combine(GatewayProcess.Scratch("vad"), $"speech-{rate}.wav");
        GatewayProcess.Tool("sox", "sox", "-D", SpeechWav(), "-b", "16", "-e", "signed-integer", converted, "rate", "-v", rate.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var reference = ParseSegments(GatewayProcess.Run("vad", "--input", SpeechWav()).Stdout);

        var result = GatewayProcess.Run("vad", "--input", converted);
        output.WriteLine(result.ToString());

        Assert.True(result.ExitCode == 0, result.ToString());
        var segments = ParseSegments(result.Stdout);
        Assert.Equal(reference.Count, segments.Count);
        Assert.InRange(segments[0].Start - reference[0].Start, -100, 100);
        Assert.InRange(segments[^1].End - reference[^1].End, -100, 100);
    }

    [Fact]
    public void Options_are_applied()
    {
        var padded = ParseSegments(GatewayProcess.Run("vad", "--input", SpeechWav(), "--speech-pad-ms", "200").Stdout);
        var bare = ParseSegments(GatewayProcess.Run("vad", "--input", SpeechWav(), "--speech-pad-ms=0", "--threshold", "0.5", "--min-silence-ms", "300", "--min-speech-ms", "250").Stdout);

        Assert.Equal(bare.Count, padded.Count);
        Assert.Equal(Math.Max(0, bare[0].Start - 200), padded[0].Start);
    }

    [Theory]
    [InlineData("missing", "does not exist")]
    [InlineData("empty", "is empty")]
    [InlineData("truncated", "truncated")]
    [InlineData("text", "not a RIFF/WAVE file")]
    [InlineData("rate-11025", "11025 Hz")]
    [InlineData("unknown-option", "unknown option '--bogus'")]
    [InlineData("no-input", "option '--input' is required")]
    [InlineData("bad-threshold", "option '--threshold' must be a number greater than 0 and less than 1")]
    [InlineData("bad-min-silence", "option '--min-silence-ms' must be an integer")]
    public void Bad_input_prints_one_line_on_stderr_nothing_on_stdout_and_exits_non_zero(string kind, string expected)
    {
        var scratch = GatewayProcess.Scratch("vad-errors");
        string[] arguments;
        switch (kind)
        {
            case "missing":
                arguments = ["--input", Path.Combine(scratch, "no-such-file.wav")];
                break;
            case "empty":
                var empty = Path.Combine(scratch, "empty.wav");
                File.WriteAllBytes(empty, []);
                arguments = ["--input", empty];
                break;
            case "truncated":
                var truncated = Path.Combine(scratch, "truncated.wav");
                File.WriteAllBytes(truncated, File.ReadAllBytes(SpeechWav())[..5000]);
                arguments = ["--input", truncated];
                break;
            case "text":
                var text = Path.Combine(scratch, "notes.wav");
                File.WriteAllText(text, "These are not the samples you are looking for.\n");
                arguments = ["--input", text];
                break;
            case "rate-11025":
                var odd = Path.Combine(scratch, "tone-11025.wav");
                GatewayProcess.Tool("sox", "sox", "-n", "-r", "11025", "-b", "16", "-e", "signed-integer", odd, "synth", "1", "sine", "440");
                arguments = ["--input", odd];
                break;
            case "unknown-option":
                arguments = ["--input", SpeechWav(), "--bogus", "1"];
                break;
            case "no-input":
                arguments = ["--threshold", "0.5"];
                break;
            case "bad-threshold":
                arguments = ["--input", SpeechWav(), "--threshold", "1.5"];
                break;
            default:
                arguments = ["--input", SpeechWav(), "--min-silence-ms", "soon"];
                break;
        }

        var result = GatewayProcess.Run(["vad", .. arguments]);
        output.WriteLine(result.ToString());

        Assert.NotEqual(0, result.ExitCode);
        Assert.Equal(string.Empty, result.Stdout);
        var line = Assert.Single(result.StderrLines);
        Assert.Contains(expected, line, StringComparison.Ordinal);
        Assert.StartsWith("voiceagent: ", line, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", result.Stderr, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
    }

    private static string SpeechWav()
    {
        Assert.True(
            File.Exists(Recording),
            $"The recording {Recording} is missing: install the Debian package pocketsphinx-testdata (./voiceagent setup does it when run as root).");
        return Recording;
    }

    private static List<(long Start, long End)> ParseSegments(string stdout)
    {
        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var json = Assert.Single(lines);
        using var document = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Array, document.RootElement.ValueKind);
        var segments = new List<(long, long)>();
        foreach (var element in document.RootElement.EnumerateArray())
        {
            Assert.Equal(["start_ms", "end_ms"], element.EnumerateObject().Select(p => p.Name));
            var start = element.GetProperty("start_ms").GetInt64();
            var end = element.GetProperty("end_ms").GetInt64();
            Assert.True(start >= 0 && start < end, $"bad segment {start}-{end}");
            Assert.True(segments.Count == 0 || segments[^1].Item2 <= start, "segments must be ordered and disjoint");
            segments.Add((start, end));
        }

        return segments;
    }
}
