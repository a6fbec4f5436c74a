using System.Globalization;
using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.Vad;
using Xunit.Abstractions;

namespace VoiceAgent.Core.Tests.Vad;

/// <summary>
/// The detector on real human recordings (Debian pocketsphinx-testdata) placed between digital silence and noise:
/// the first detected start and the last detected end must be within 100 ms of the speech boundaries derived
/// independently from the clean clip's short-time energy (see <see cref="VadTestSupport.EnergyTruth"/>), with no
/// padding (<see cref="VadOptions.SpeechPadMs"/> = 0) so the detected edges are compared as they are.
/// <para>
/// A few clips are known to miss 100 ms for reasons in the model, not in this code; <see cref="Exceptions"/> lists
/// them with the reason and a bound that still catches regressions. Every clip is measured and printed
/// (<c>BOUNDARY</c> lines; docs/vad.md has the table).
/// </para>
/// </summary>
public sealed class VadBoundaryTests(ITestOutputHelper output)
{
    private const int ToleranceMs = 100;

    /// <summary>(path, clip) → the allowed start and end errors in ms where the 100 ms rule cannot hold, and why.</summary>
    private static readonly Dictionary<(string Path, string Clip), (int Start, int End, string Why)> Exceptions = new()
    {
        [("16 kHz", "cards/002.wav")] = (200, ToleranceMs, "Silero scores the onset of \"four\" (a low-frequency burst and the /f/, 130-280 ms) below 0.05; measured +154 ms"),
        [("16 kHz", "cards/004.wav")] = (200, ToleranceMs, "Silero scores the unvoiced /f/ of \"five\" (220-340 ms) below 0.05; measured +128 ms"),
        [("16 kHz", "librivox/sense_and_sensibility_01_austen_64kb-0890.wav")] = (ToleranceMs, 300, "a breath 180 ms after the last word scores 0.52, which by Silero's rule cancels the tentative end; measured +248 ms"),
        [("8 kHz", "cards/002.wav")] = (200, 250, "as at 16 kHz for the onset; the 8 kHz model also holds on 180 ms after the last word; measured +154/+184 ms"),
        [("8 kHz", "cards/003.wav")] = (250, ToleranceMs, "the /s/ of \"son\" lies above 4 kHz, so it is gone at 8 kHz; measured +184 ms"),
        [("8 kHz", "cards/004.wav")] = (200, ToleranceMs, "as at 16 kHz: the /f/ of \"five\"; measured +128 ms"),
        [("8 kHz", "librivox/sense_and_sensibility_01_austen_64kb-0930.wav")] = (300, 350, "the 8 kHz model fires on the cut-off tail of the previous sentence at the clip's start and on the clip's trailing room noise; measured -252/+282 ms"),
    };

    [Theory]
    [MemberData(nameof(VadTestSupport.Clips), MemberType = typeof(VadTestSupport))]
    public void Boundaries_at_16kHz_are_within_100_ms_of_the_energy_truth(string name)
    {
        var clip = VadTestSupport.ReadClip(name);
        var (signal, offset) = VadTestSupport.Compose(clip.Samples, 16000, seed: name.Length);

        var segments = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, 16000, VadTestSupport.Unpadded());

        AssertBoundaries(name, "16 kHz", clip, offset, segments);
    }

    [Theory]
    [MemberData(nameof(VadTestSupport.Clips), MemberType = typeof(VadTestSupport))]
    public void Boundaries_at_8kHz_are_within_100_ms_of_the_energy_truth(string name)
    {
        // The clip is downsampled with the Core resampler; the 8 kHz signal runs through Silero's native 8 kHz mode.
        var clip = VadTestSupport.ReadClip(name);
        var narrow = Resampler.Resample(clip.Samples, 16000, 8000);
        var (signal, offset) = VadTestSupport.Compose(narrow, 8000, seed: name.Length);
        var options = VadTestSupport.Unpadded(VoiceActivityDetector.PreferredModelRate(8000));

        var segments = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, 8000, options);

        Assert.All(segments, s => Assert.Equal(8000, s.SampleRate));
        AssertBoundaries(name, "8 kHz", clip, offset, segments);
    }

    [Fact]
    public void At_8kHz_the_native_mode_is_more_accurate_than_upsampling_to_16kHz()
    {
        // The design choice in docs/vad.md: how many of the 20 boundaries are within 100 ms, and how many ends come early
        // (an early end commits a turn while the caller is still talking), with the model at 8 kHz and at 16 kHz.
        var within = new Dictionary<int, int> { [8000] = 0, [16000] = 0 };
        var earlyEnds = new Dictionary<int, int> { [8000] = 0, [16000] = 0 };
        foreach (var name in VadTestSupport.ClipNames)
        {
            var clip = VadTestSupport.ReadClip(name);
            var (truthStart, truthEnd) = VadTestSupport.EnergyTruth(clip.Samples, 16000);
            var (signal, offset) = VadTestSupport.Compose(Resampler.Resample(clip.Samples, 16000, 8000), 8000, seed: name.Length);
            foreach (var rate in new[] { 8000, 16000 })
            {
                var segments = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, 8000, VadTestSupport.Unpadded(rate));
                var startError = (segments[0].StartSample / (double)rate) - offset - truthStart;
                var endError = (segments[^1].EndSample / (double)rate) - offset - truthEnd;
                within[rate] += (Math.Abs(Math.Round(startError * 1000)) <= 100 ? 1 : 0) + (Math.Abs(Math.Round(endError * 1000)) <= 100 ? 1 : 0);
                earlyEnds[rate] += endError < -0.05 ? 1 : 0;
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"8 kHz input, model at {rate} Hz, {name}: start {startError * 1000:+0;-0} ms, end {endError * 1000:+0;-0} ms"));
            }
        }

        output.WriteLine($"boundaries within 100 ms: native {within[8000]}/20, upsampled {within[16000]}/20; ends more than 50 ms early: native {earlyEnds[8000]}, upsampled {earlyEnds[16000]}");
        Assert.True(within[8000] > within[16000], $"native {within[8000]}, upsampled {within[16000]}");
        Assert.True(earlyEnds[8000] < earlyEnds[16000], $"early ends: native {earlyEnds[8000]}, upsampled {earlyEnds[16000]}");
    }

    [Theory]
    [InlineData("librivox/sense_and_sensibility_01_austen_64kb-0880.wav", 48000)]
    [InlineData("cards/005.wav", 44100)]
    [InlineData("cards/003.wav", 24000)]
    public void Boundaries_of_other_rates_resampled_to_16kHz_are_within_100_ms(string name, int rate)
    {
        var clip = VadTestSupport.ReadClip(name);
        var wide = Resampler.Resample(clip.Samples, 16000, rate);
        var (signal, offset) = VadTestSupport.Compose(wide, rate, seed: 7);
        using var detector = new VoiceActivityDetector(VadTestSupport.Model, VadTestSupport.Unpadded(), rate);
        Assert.True(detector.Resamples);

        var segments = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, rate, VadTestSupport.Unpadded());

        AssertBoundaries(name, $"{rate} Hz", clip, offset, segments);
    }

    [Theory]
    [InlineData("cards/002.wav", 16000, 16000)]
    [InlineData("librivox/sense_and_sensibility_01_austen_64kb-0920.wav", 16000, 16000)]
    [InlineData("librivox/sense_and_sensibility_01_austen_64kb-0890.wav", 8000, 8000)]
    [InlineData("cards/005.wav", 8000, 16000)]
    [InlineData("cards/004.wav", 48000, 16000)]
    public void Random_chunks_give_the_same_events_as_the_whole_signal(string name, int inputRate, int modelRate)
    {
        var clip = VadTestSupport.ReadClip(name);
        var audio = inputRate == 16000 ? clip.Samples : Resampler.Resample(clip.Samples, 16000, inputRate);
        var (single, _) = VadTestSupport.Compose(audio, inputRate, seed: 3);

        // Two utterances with a pause, so there is more than one segment and a start clamped by padding.
        var signal = single.Concat(single).ToArray();
        var options = new VadOptions { SampleRate = modelRate, SpeechPadMs = 60 };
        var whole = Events(options, inputRate, [signal.AsMemory()]);
        var chunked = Events(options, inputRate, VadTestSupport.RandomChunks(signal, seed: 11));
        var tiny = Events(options, inputRate, VadTestSupport.RandomChunks(signal, seed: 12, maxChunk: 37));

        output.WriteLine(string.Join(", ", whole.Select(e => $"{e.Kind} {e.Milliseconds} ms")));
        Assert.True(whole.Count >= 4, $"expected at least two segments, got events {string.Join(", ", whole)}");
        Assert.Equal(whole, chunked);
        Assert.Equal(whole, tiny);
    }

    [Theory]
    [InlineData("cards/003.wav")]
    [InlineData("librivox/sense_and_sensibility_01_austen_64kb-0930.wav")]
    public void Online_events_arrive_as_soon_as_they_are_certain(string name)
    {
        // Start: within MinSpeechMs (+ one window) of the detected onset, so barge-in is not delayed by the whole
        // utterance. End: within MinSilenceMs (+ two windows) of the detected end, i.e. the hangover, and before the file ends.
        var clip = VadTestSupport.ReadClip(name);
        var (signal, _) = VadTestSupport.Compose(clip.Samples, 16000);
        var options = VadTestSupport.Unpadded();
        using var detector = new VoiceActivityDetector(VadTestSupport.Model, options, 16000);
        var fed = 0L;
        var log = new List<(VadEvent Event, long HeardAt)>();
        detector.SpeechStarted += (_, e) => log.Add((e, fed));
        detector.SpeechEnded += (_, e) => log.Add((e, fed));
        foreach (var chunk in VadTestSupport.RandomChunks(signal, seed: 5, maxChunk: 320))
        {
            fed += chunk.Length;
            detector.Process(chunk.Span);
            Assert.Equal(log.Count % 2 == 1, detector.IsSpeechActive);
        }

        var beforeFlush = log.Count;
        detector.Flush();

        Assert.True(beforeFlush >= 2 && beforeFlush == log.Count, $"all events should come before the flush; got {beforeFlush} of {log.Count}");
        for (var i = 0; i < log.Count; i += 2)
        {
            var (start, startHeard) = log[i];
            var (end, endHeard) = log[i + 1];
            Assert.Equal(VadEventKind.SpeechStart, start.Kind);
            Assert.Equal(VadEventKind.SpeechEnd, end.Kind);
            Assert.InRange(startHeard - start.Sample, 0, (options.MinSpeechMs * 16) + (2 * 512) + 320);
            Assert.InRange(endHeard - end.Sample, options.MinSilenceMs * 16, (options.MinSilenceMs * 16) + (2 * 512) + 320);
        }
    }

    [Fact]
    public void Padding_widens_real_segments_by_the_pad_on_both_sides()
    {
        var clip = VadTestSupport.ReadClip("cards/001.wav");
        var (signal, _) = VadTestSupport.Compose(clip.Samples, 16000);
        var bare = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, 16000, VadTestSupport.Unpadded());
        var padded = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, 16000, new VadOptions { SpeechPadMs = 100 });
        Assert.Equal(bare.Count, padded.Count);
        for (var i = 0; i < bare.Count; i++)
        {
            Assert.Equal(bare[i].StartSample - 1600, padded[i].StartSample);
            Assert.Equal(Math.Min(bare[i].EndSample + 1600, signal.Length), padded[i].EndSample);
        }
    }

    [Theory]
    [InlineData("silence", 0.0)]
    [InlineData("white", 0.001)]
    [InlineData("white", 0.003)]
    [InlineData("white", 0.01)]
    [InlineData("white", 0.03)]
    [InlineData("pink", 0.001)]
    [InlineData("pink", 0.003)]
    [InlineData("pink", 0.01)]
    [InlineData("pink", 0.03)]
    public void Noise_or_silence_alone_gives_no_segment(string kind, double rms)
    {
        foreach (var rate in new[] { 16000, 8000 })
        {
            var samples = 6 * rate;
            var signal = kind switch
            {
                "silence" => new float[samples],
                "white" => VadTestSupport.WhiteNoise(samples, rms, seed: 21),
                _ => VadTestSupport.PinkNoise(samples, rms, seed: 22),
            };

            using var stream = VadTestSupport.Model.CreateStream(rate);
            var probabilities = new float[stream.GetMaxWindowCount(signal.Length)];
            stream.Process(signal, probabilities);
            var segments = VoiceActivityDetector.DetectSegments(VadTestSupport.Model, signal, rate, new VadOptions { SampleRate = rate });

            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{kind} RMS {rms} ({20 * Math.Log10(rms + 1e-12):F0} dBFS) at {rate} Hz: max probability {probabilities.Max():F3}, {segments.Count} segments"));
            Assert.Empty(segments);
        }
    }

    private static List<VadEvent> Events(VadOptions options, int inputRate, IEnumerable<ReadOnlyMemory<float>> chunks)
    {
        using var detector = new VoiceActivityDetector(VadTestSupport.Model, options, inputRate);
        var events = new List<VadEvent>();
        detector.SpeechStarted += (_, e) => events.Add(e);
        detector.SpeechEnded += (_, e) => events.Add(e);
        foreach (var chunk in chunks)
        {
            detector.Process(chunk.Span);
        }

        detector.Flush();
        return events;
    }

    private void AssertBoundaries(string name, string path, AudioClip clip, double offset, IReadOnlyList<SpeechSegment> segments)
    {
        var (truthStart, truthEnd) = VadTestSupport.EnergyTruth(clip.Samples, clip.SampleRate);
        Assert.NotEmpty(segments);
        var start = (double)segments[0].StartSample / segments[0].SampleRate;
        var end = (double)segments[^1].EndSample / segments[^1].SampleRate;
        var startError = start - (offset + truthStart);
        var endError = end - (offset + truthEnd);
        output.WriteLine(string.Create(
            CultureInfo.InvariantCulture,
            $"BOUNDARY {path} {name}: truth {truthStart * 1000:F0}-{truthEnd * 1000:F0} ms in clip; detected {(start - offset) * 1000:F0}-{(end - offset) * 1000:F0} ms ({segments.Count} segments); start error {startError * 1000:+0;-0} ms, end error {endError * 1000:+0;-0} ms"));
        var (startTolerance, endTolerance, why) = Exceptions.TryGetValue((path, name), out var exception)
            ? exception
            : (ToleranceMs, ToleranceMs, string.Empty);
        if (why.Length > 0)
        {
            output.WriteLine($"known exception: {why}");
        }

        Assert.True(Math.Abs(Math.Round(startError * 1000)) <= startTolerance, $"{name} ({path}): start error {startError * 1000:F0} ms, allowed {startTolerance} ms");
        Assert.True(Math.Abs(Math.Round(endError * 1000)) <= endTolerance, $"{name} ({path}): end error {endError * 1000:F0} ms, allowed {endTolerance} ms");
    }
}
