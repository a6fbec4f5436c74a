using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Core.Tests.Vad;

/// <summary>The state machine on synthetic probabilities, checked against a port of Silero's <c>get_speech_timestamps</c>.</summary>
public sealed class VadSegmenterTests
{
    private const int W = 512;

    [Fact]
    public void Speech_starts_at_the_first_window_at_threshold_and_ends_after_the_hangover()
    {
        // 0.5 threshold, 0.35 negative, 250 ms min speech (4000 samples), 300 ms hangover (4800), no pad.
        var options = new VadOptions { SpeechPadMs = 0 };
        var probabilities = Windows((10, 0.1f), (20, 0.5f), (15, 0.1f));
        var events = Run(options, probabilities, out var emittedAt);

        Assert.Equal(
            [new VadEvent(VadEventKind.SpeechStart, 10 * W, 16000), new VadEvent(VadEventKind.SpeechEnd, 30 * W, 16000)],
            events);

        // Start: certain once the segment is longer than 4000 samples (window 17 ends at 18·512 = 9216 > 5120 + 4000).
        Assert.Equal(17, emittedAt[0]);

        // End: the first window at or after 30·512 + 4800 (= window 40 starts at 20480 ≥ 20160).
        Assert.Equal(40, emittedAt[1]);
        Assert.Equal(320, events[0].Milliseconds);
        Assert.Equal(960, events[1].Milliseconds);
    }

    [Fact]
    public void Windows_between_the_thresholds_neither_end_nor_extend_a_tentative_end()
    {
        var options = new VadOptions { SpeechPadMs = 0 };

        // Speech, one quiet window (tentative end at 30), then 0.4 (between 0.35 and 0.5) for a long time, then quiet.
        var events = Run(options, Windows((10, 0.1f), (20, 0.9f), (1, 0.1f), (20, 0.4f), (12, 0.1f)), out _);
        Assert.Equal(30 * W, events[1].Sample);

        // A window at the threshold cancels the tentative end.
        events = Run(options, Windows((10, 0.1f), (20, 0.9f), (5, 0.1f), (1, 0.5f), (20, 0.1f)), out _);
        Assert.Equal(36 * W, events[1].Sample);

        // Dips shorter than the hangover do not split the segment.
        events = Run(options, Windows((10, 0.1f), (20, 0.9f), (9, 0.1f), (20, 0.9f), (20, 0.1f)), out _);
        Assert.Equal(2, events.Count);
        Assert.Equal(59 * W, events[1].Sample);
    }

    [Fact]
    public void A_pending_end_can_be_taken_before_the_hangover_and_later_speech_starts_a_new_segment()
    {
        var segmenter = new VadSegmenter(new VadOptions { SpeechPadMs = 100 }); // pad 1600 samples
        Span<VadEvent> events = new VadEvent[VadSegmenter.MaxEventsPerCall];

        // Nothing pending before speech, nor while speech goes on.
        Assert.Equal(0, segmenter.EndPendingSegment(events));
        foreach (var p in Windows((10, 0.1f), (20, 0.9f)))
        {
            segmenter.Push(p, events);
        }

        Assert.True(segmenter.IsSpeechActive);
        Assert.Equal(-1, segmenter.PendingEndSample);
        Assert.Equal(0, segmenter.EndPendingSegment(events));

        // Three quiet windows: the pause began at window 30 and 3 windows of it have been heard, far short of the hangover.
        foreach (var p in Windows((3, 0.1f)))
        {
            Assert.Equal(0, segmenter.Push(p, events));
        }

        Assert.Equal(30 * W, segmenter.PendingEndSample);
        Assert.Equal(3 * W, segmenter.PendingSilenceSamples);

        // Taking it now ends the segment at the pause, padded only as far as has been heard.
        Assert.Equal(1, segmenter.EndPendingSegment(events));
        Assert.Equal(new VadEvent(VadEventKind.SpeechEnd, (30 * W) + 1536, 16000), events[0]);
        Assert.False(segmenter.IsSegmentOpen);
        Assert.Equal(-1, segmenter.PendingEndSample);

        // The hangover then passes without a second end, and speech after the pause is a new segment.
        var later = new List<VadEvent>();
        foreach (var p in Windows((20, 0.1f), (20, 0.9f)))
        {
            var n = segmenter.Push(p, events);
            later.AddRange(events[..n].ToArray());
        }

        Assert.Equal([VadEventKind.SpeechStart], later.Select(e => e.Kind));
        Assert.Equal((53 * W) - 1600, later[0].Sample); // padded start, after the previous (padded) end
    }

    [Fact]
    public void Segments_not_longer_than_min_speech_are_dropped_silently()
    {
        var options = new VadOptions { SpeechPadMs = 0 };

        // 7 windows = 3584 samples ≤ 4000: nothing at all. 8 windows = 4096 > 4000: a start and an end.
        Assert.Empty(Run(options, Windows((10, 0.1f), (7, 0.9f), (30, 0.1f)), out _));
        Assert.Equal(2, Run(options, Windows((10, 0.1f), (8, 0.9f), (30, 0.1f)), out _).Count);
    }

    [Fact]
    public void Padding_is_applied_and_clamped_at_zero()
    {
        var options = new VadOptions { SpeechPadMs = 100 };
        var events = Run(options, Windows((2, 0.9f), (20, 0.9f), (20, 0.1f)), out _);

        Assert.Equal(0, events[0].Sample);
        Assert.Equal((22 * W) + 1600, events[1].Sample);

        events = Run(options, Windows((10, 0.1f), (20, 0.9f), (20, 0.1f)), out _);
        Assert.Equal((10 * W) - 1600, events[0].Sample);
    }

    [Fact]
    public void Flush_closes_an_open_segment_at_the_last_sample()
    {
        var options = new VadOptions();
        var segmenter = new VadSegmenter(options);
        var events = new VadEvent[2];
        var all = new List<VadEvent>();
        foreach (var p in Windows((5, 0.1f), (20, 0.9f)))
        {
            all.AddRange(events[..segmenter.Push(p, events)]);
        }

        Assert.Single(all);
        Assert.True(segmenter.IsSpeechActive);
        var n = segmenter.Flush((25 * W) + 100, events, partialWindowProbability: 0.9f);
        Assert.Equal([new VadEvent(VadEventKind.SpeechEnd, (25 * W) + 100, 16000)], events[..n]);
        Assert.False(segmenter.IsSpeechActive);

        // A segment that is still too short at the end is dropped; one that just became long enough gets both events.
        segmenter.Reset();
        foreach (var p in Windows((5, 0.1f), (7, 0.9f)))
        {
            Assert.Equal(0, segmenter.Push(p, events));
        }

        Assert.Equal(0, segmenter.Flush((12 * W) + 10, events, 0.9f));
        segmenter.Reset();
        foreach (var p in Windows((5, 0.1f), (7, 0.9f)))
        {
            Assert.Equal(0, segmenter.Push(p, events));
        }

        Assert.Equal(2, segmenter.Flush((12 * W) + 500, events, 0.9f));
        Assert.Equal(VadEventKind.SpeechStart, events[0].Kind);
        Assert.Equal(((5 * W) - 480, (12 * W) + 500), (events[0].Sample, events[1].Sample));
        Assert.Throws<ArgumentOutOfRangeException>(() => segmenter.Flush(3, events));
    }

    [Theory]
    [InlineData(0.5f, null, 250, 300, 30, 16000)]
    [InlineData(0.5f, null, 250, 100, 30, 16000)]
    [InlineData(0.5f, null, 250, 100, 50, 16000)]
    [InlineData(0.6f, 0.2f, 100, 200, 0, 16000)]
    [InlineData(0.3f, null, 0, 0, 0, 16000)]
    [InlineData(0.5f, null, 250, 300, 100, 8000)]
    [InlineData(0.7f, 0.69f, 64, 64, 32, 8000)]
    public void Offline_results_equal_get_speech_timestamps(float threshold, float? negative, int minSpeech, int minSilence, int pad, int rate)
    {
        var options = new VadOptions
        {
            Threshold = threshold,
            NegativeThreshold = negative,
            MinSpeechMs = minSpeech,
            MinSilenceMs = minSilence,
            SpeechPadMs = pad,
            SampleRate = rate,
        };
        var window = SileroVadModel.WindowSamples(rate);
        for (var seed = 0; seed < 200; seed++)
        {
            var probabilities = RandomProbabilities(seed, 300);
            var length = ((long)probabilities.Length * window) - (seed % window);
            var expected = GetSpeechTimestamps(probabilities, window, length, options);

            var segmenter = new VadSegmenter(options);
            var events = new VadEvent[2];
            var all = new List<VadEvent>();
            var full = seed % window == 0 ? probabilities.Length : probabilities.Length - 1;
            for (var i = 0; i < full; i++)
            {
                all.AddRange(events[..segmenter.Push(probabilities[i], events)]);
            }

            var n = segmenter.Flush(length, events, full < probabilities.Length ? probabilities[^1] : null);
            all.AddRange(events[..n]);

            var actual = Pairs(all);
            Assert.True(expected.SequenceEqual(actual), $"seed {seed}: expected {string.Join(" ", expected)}, got {string.Join(" ", actual)}");
        }
    }

    [Fact]
    public void Large_pads_never_make_segments_overlap()
    {
        var options = new VadOptions { MinSilenceMs = 100, SpeechPadMs = 200, MinSpeechMs = 0 };
        for (var seed = 0; seed < 100; seed++)
        {
            var segments = Pairs(Run(options, RandomProbabilities(seed, 300), out _));
            for (var i = 0; i < segments.Count; i++)
            {
                Assert.True(segments[i].Start < segments[i].End);
                Assert.True(i == 0 || segments[i - 1].End <= segments[i].Start, $"seed {seed}: overlap at {i}");
            }
        }
    }

    [Theory]
    [InlineData(nameof(VadOptions.Threshold), "Threshold must be greater than 0 and less than 1, got 1.5.")]
    [InlineData(nameof(VadOptions.NegativeThreshold), "NegativeThreshold must be from 0 to Threshold (0.5), got 0.6.")]
    [InlineData(nameof(VadOptions.MinSpeechMs), "MinSpeechMs must be from 0 to 60000, got -1.")]
    [InlineData(nameof(VadOptions.MinSilenceMs), "MinSilenceMs must be from 0 to 60000, got -1.")]
    [InlineData(nameof(VadOptions.SpeechPadMs), "SpeechPadMs must be from 0 to 10000, got -1.")]
    [InlineData(nameof(VadOptions.SampleRate), "SampleRate must be 16000 or 8000 (the rates Silero VAD runs at), got 44100.")]
    public void Invalid_options_are_rejected_with_one_sentence_each(string property, string message)
    {
        var options = new VadOptions();
        switch (property)
        {
            case nameof(VadOptions.Threshold): options.Threshold = 1.5f; break;
            case nameof(VadOptions.NegativeThreshold): options.NegativeThreshold = 0.6f; break;
            case nameof(VadOptions.MinSpeechMs): options.MinSpeechMs = -1; break;
            case nameof(VadOptions.MinSilenceMs): options.MinSilenceMs = -1; break;
            case nameof(VadOptions.SpeechPadMs): options.SpeechPadMs = -1; break;
            default: options.SampleRate = 44100; break;
        }

        Assert.Equal([message], options.GetValidationErrors());
        var error = Assert.Throws<ArgumentException>(() => new VadSegmenter(options));
        Assert.Equal("Invalid VAD options: " + message, error.Message);
    }

    [Fact]
    public void Defaults_are_valid_and_negative_threshold_follows_silero()
    {
        var options = new VadOptions();
        Assert.Empty(options.GetValidationErrors());
        Assert.Equal((0.5f, 250, 300, 30, 16000), (options.Threshold, options.MinSpeechMs, options.MinSilenceMs, options.SpeechPadMs, options.SampleRate));
        Assert.Equal(0.35f, options.EffectiveNegativeThreshold, 5);
        Assert.Equal(0.01f, new VadOptions { Threshold = 0.1f }.EffectiveNegativeThreshold, 5);
        Assert.Equal(0.2f, new VadOptions { NegativeThreshold = 0.2f }.EffectiveNegativeThreshold);
        Assert.Contains("Threshold must", string.Join(" ", new VadOptions { Threshold = float.NaN }.GetValidationErrors()), StringComparison.Ordinal);
    }

    private static float[] Windows(params (int Count, float Probability)[] runs) =>
        [.. runs.SelectMany(r => Enumerable.Repeat(r.Probability, r.Count))];

    /// <summary>Pushes every window (then flushes at a whole number of windows); <paramref name="emittedAt"/> is the window index of each event.</summary>
    private static List<VadEvent> Run(VadOptions options, float[] probabilities, out List<int> emittedAt)
    {
        var segmenter = new VadSegmenter(options);
        var events = new VadEvent[2];
        var all = new List<VadEvent>();
        emittedAt = [];
        for (var i = 0; i < probabilities.Length; i++)
        {
            var n = segmenter.Push(probabilities[i], events);
            all.AddRange(events[..n]);
            emittedAt.AddRange(Enumerable.Repeat(i, n));
        }

        all.AddRange(events[..segmenter.Flush((long)probabilities.Length * segmenter.WindowSamples, events)]);
        return all;
    }

    private static List<(long Start, long End)> Pairs(List<VadEvent> events)
    {
        Assert.True(events.Count % 2 == 0, "events come in start/end pairs");
        var pairs = new List<(long, long)>();
        for (var i = 0; i < events.Count; i += 2)
        {
            Assert.Equal(VadEventKind.SpeechStart, events[i].Kind);
            Assert.Equal(VadEventKind.SpeechEnd, events[i + 1].Kind);
            pairs.Add((events[i].Sample, events[i + 1].Sample));
        }

        return pairs;
    }

    /// <summary>Speech-like runs: alternating stretches of high and low probabilities with noise and in-between values.</summary>
    private static float[] RandomProbabilities(int seed, int count)
    {
        var random = new Random(seed);
        var result = new float[count];
        var speaking = random.Next(2) == 0;
        for (var i = 0; i < count;)
        {
            var run = random.Next(1, 25);
            for (var k = 0; k < run && i < count; k++, i++)
            {
                var x = random.NextDouble();
                result[i] = (float)(speaking ? 0.3 + (0.7 * x) : 0.6 * x * x);
            }

            speaking = !speaking;
        }

        return result;
    }

    /// <summary>
    /// <c>get_speech_timestamps</c> of silero-vad (utils_vad.py, v5/v6) from its probabilities, max_speech_duration_s = inf,
    /// transcribed line by line (including its padding step that splits short gaps in half).
    /// </summary>
    private static List<(long Start, long End)> GetSpeechTimestamps(float[] probs, int window, long audioLength, VadOptions o)
    {
        var rate = o.SampleRate;
        var minSpeech = rate * o.MinSpeechMs / 1000.0;
        var pad = rate * o.SpeechPadMs / 1000.0;
        var minSilence = rate * o.MinSilenceMs / 1000.0;
        var threshold = o.Threshold;
        var negative = o.NegativeThreshold ?? Math.Max(threshold - 0.15f, 0.01f);
        var triggered = false;
        var speeches = new List<long[]>();
        long[]? current = null;
        long tempEnd = 0;
        for (var i = 0; i < probs.Length; i++)
        {
            var p = probs[i];
            if (p >= threshold && tempEnd != 0)
            {
                tempEnd = 0;
            }

            if (p >= threshold && !triggered)
            {
                triggered = true;
                current = [(long)window * i, 0];
                continue;
            }

            if (p < negative && triggered)
            {
                if (tempEnd == 0)
                {
                    tempEnd = (long)window * i;
                }

                if (((long)window * i) - tempEnd < minSilence)
                {
                    continue;
                }

                current![1] = tempEnd;
                if (current[1] - current[0] > minSpeech)
                {
                    speeches.Add(current);
                }

                current = null;
                tempEnd = 0;
                triggered = false;
            }
        }

        if (current is not null && audioLength - current[0] > minSpeech)
        {
            current[1] = audioLength;
            speeches.Add(current);
        }

        for (var i = 0; i < speeches.Count; i++)
        {
            var speech = speeches[i];
            if (i == 0)
            {
                speech[0] = (long)Math.Max(0, speech[0] - pad);
            }

            if (i != speeches.Count - 1)
            {
                var silence = speeches[i + 1][0] - speech[1];
                if (silence < 2 * pad)
                {
                    speech[1] += silence / 2;
                    speeches[i + 1][0] = Math.Max(0, speeches[i + 1][0] - (silence / 2));
                }
                else
                {
                    speech[1] = (long)Math.Min(audioLength, speech[1] + pad);
                    speeches[i + 1][0] = (long)Math.Max(0, speeches[i + 1][0] - pad);
                }
            }
            else
            {
                speech[1] = (long)Math.Min(audioLength, speech[1] + pad);
            }
        }

        return [.. speeches.Select(s => (s[0], s[1]))];
    }
}
