using System.Globalization;
using System.Text;
using VoiceAgent.Core.Audio;
using VoiceAgent.Core.Onnx;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Gateway.Cli;

/// <summary>
/// <c>vad --input FILE.wav [--threshold T] [--negative-threshold T] [--min-speech-ms N] [--min-silence-ms N]
/// [--speech-pad-ms N]</c>: prints the speech segments of the file as one JSON array
/// <c>[{"start_ms":..,"end_ms":..}]</c> (integers) on stdout. 8 kHz files run through Silero's 8 kHz mode, 16 kHz
/// files natively, other supported rates are resampled to 16 kHz. Every failure is a <see cref="CliException"/>.
/// </summary>
internal static class VadCommand
{
    private static readonly HashSet<string> ValueOptions =
        ["--input", "--threshold", "--negative-threshold", "--min-speech-ms", "--min-silence-ms", "--speech-pad-ms"];

    public static Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var reader = new ArgReader(args, ValueOptions);
        var input = reader.Required("--input");
        var defaults = new VadOptions();
        var options = new VadOptions
        {
            Threshold = Probability(reader, "--threshold") ?? defaults.Threshold,
            NegativeThreshold = Probability(reader, "--negative-threshold"),
            MinSpeechMs = reader.Int("--min-speech-ms", defaults.MinSpeechMs, 0, 60_000),
            MinSilenceMs = reader.Int("--min-silence-ms", defaults.MinSilenceMs, 0, 60_000),
            SpeechPadMs = reader.Int("--speech-pad-ms", defaults.SpeechPadMs, 0, 10_000),
        };
        if (options.NegativeThreshold > options.Threshold)
        {
            throw new CliException(string.Create(
                CultureInfo.InvariantCulture,
                $"option '--negative-threshold' must not exceed the threshold ({options.Threshold}), got {options.NegativeThreshold}."));
        }

        AudioClip clip;
        try
        {
            clip = WavFile.Read(input);
        }
        catch (AudioFormatException e)
        {
            throw new CliException(e.Message);
        }

        cancellationToken.ThrowIfCancellationRequested();
        options.SampleRate = VoiceActivityDetector.PreferredModelRate(clip.SampleRate);
        var segments = Detect(clip, options);
        output.WriteLine(ToJson(segments));
        output.Flush();
        return Task.FromResult(0);
    }

    private static IReadOnlyList<SpeechSegment> Detect(AudioClip clip, VadOptions options)
    {
        try
        {
            OrtRuntime.Initialize();
            using var model = new SileroVadModel();
            return VoiceActivityDetector.DetectSegments(model, clip, options);
        }
        catch (FileNotFoundException e)
        {
            throw new CliException(OneSentence(e.Message), 3);
        }
        catch (Exception e) when (e is OrtException or InvalidDataException or DllNotFoundException or InvalidOperationException or EntryPointNotFoundException)
        {
            throw new CliException($"voice activity detection failed: {OneSentence(e.Message)}", 3);
        }
    }

    private static float? Probability(ArgReader reader, string name)
    {
        var text = reader.Single(name);
        if (text is null)
        {
            return null;
        }

        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !(value > 0f && value < 1f))
        {
            throw new CliException($"option '{name}' must be a number greater than 0 and less than 1, got '{text}'.");
        }

        return value;
    }

    private static string ToJson(IReadOnlyList<SpeechSegment> segments)
    {
        var json = new StringBuilder("[");
        for (var i = 0; i < segments.Count; i++)
        {
            json.Append(i == 0 ? string.Empty : ",")
                .Append(CultureInfo.InvariantCulture, $"{{\"start_ms\":{segments[i].StartMs},\"end_ms\":{segments[i].EndMs}}}");
        }

        return json.Append(']').ToString();
    }

    /// <summary>Collapses a multi-line native message into one line ending in a full stop.</summary>
    private static string OneSentence(string message)
    {
        var line = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).TrimEnd('.');
        return line + ".";
    }
}
