namespace VoiceAgent.Core.Audio;

/// <summary>
/// Whisper's log-mel front end (16 kHz, n_fft 400, hop 160, periodic Hann, |STFT|², Slaney mel filters with Slaney
/// normalisation, log10(max(mel, 1e-10)), clamp to (max − 8), then (x + 4) / 4), in two modes; see
/// docs/audio-frontend.md.
/// <list type="bullet">
/// <item><see cref="Whisper"/>: exactly Whisper's <c>log_mel_spectrogram</c> on a whole utterance (reflect padding of
/// 200 samples on both sides, last STFT frame dropped, clamp against the global maximum).</item>
/// <item><see cref="Streaming"/> / <see cref="StreamingLogMel"/>: the causal variant (left reflect, zero padding at
/// the end to a whole number of frame groups, clamp against the running maximum).</item>
/// </list>
/// </summary>
public static class LogMel
{
    /// <summary>Input sample rate (Hz).</summary>
    public const int SampleRate = MelFrameAnalyzer.SampleRate;

    /// <summary>STFT size (25 ms).</summary>
    public const int FftSize = MelFrameAnalyzer.FftSize;

    /// <summary>Hop (10 ms).</summary>
    public const int HopLength = MelFrameAnalyzer.HopLength;

    /// <summary>Dynamic range kept below the maximum, in log10 units (80 dB).</summary>
    public const float DynamicRange = 8f;

    /// <summary>Frames <see cref="Whisper"/> produces: <c>(samples + padding) / 160</c>, rounded down.</summary>
    public static int GetWhisperFrameCount(int samples, int paddingSamples = 0) => (samples + paddingSamples) / HopLength;

    /// <summary>
    /// Whisper's <c>log_mel_spectrogram(audio, n_mels, padding)</c>: <paramref name="paddingSamples"/> zeros are
    /// appended, the signal is reflect-padded by 200 on both sides, frame i covers padded samples [160i, 160i + 400),
    /// <c>(len + padding) / 160</c> frames are kept, and values are clamped to (global max − 8).
    /// </summary>
    /// <returns>Row-major [melBins, frames], Whisper's layout.</returns>
    public static float[] Whisper(ReadOnlySpan<float> audio, int melBins = 80, int paddingSamples = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(paddingSamples);
        var frames = GetWhisperFrameCount(audio.Length, paddingSamples);
        var result = new float[melBins * frames];
        if (frames == 0)
        {
            return result;
        }

        var analyzer = new MelFrameAnalyzer(melBins);
        var total = audio.Length + paddingSamples;
        Span<float> frame = stackalloc float[FftSize];
        Span<float> logMel = stackalloc float[melBins];
        var max = float.NegativeInfinity;
        for (var i = 0; i < frames; i++)
        {
            var start = (i * HopLength) - (FftSize / 2);
            if (start >= 0 && start + FftSize <= audio.Length)
            {
                audio.Slice(start, FftSize).CopyTo(frame);
            }
            else
            {
                for (var j = 0; j < FftSize; j++)
                {
                    var a = Reflect(start + j, total);
                    frame[j] = a < audio.Length ? audio[a] : 0f;
                }
            }

            max = Math.Max(max, analyzer.Analyze(frame, logMel));
            for (var m = 0; m < melBins; m++)
            {
                result[(m * frames) + i] = logMel[m];
            }
        }

        var floor = max - DynamicRange;
        for (var k = 0; k < result.Length; k++)
        {
            result[k] = (Math.Max(result[k], floor) + 4f) / 4f;
        }

        return result;
    }

    /// <summary>Whole-buffer streaming mode: <see cref="StreamingLogMel.Process"/> on all of <paramref name="audio"/>, then <see cref="StreamingLogMel.Flush"/>.</summary>
    /// <returns>Row-major [frames, melBins] (one frame after another, as the streaming class emits them).</returns>
    public static float[] Streaming(ReadOnlySpan<float> audio, int melBins = 80, int groupFrames = StreamingLogMel.DefaultGroupFrames)
    {
        var mel = new StreamingLogMel(melBins, groupFrames);
        var output = new float[Math.Max(mel.GetTotalFrameCount(audio.Length), StreamingLogMel.GetMaxFrames(audio.Length)) * melBins];
        var frames = mel.Process(audio, output);
        frames += mel.Flush(output.AsSpan(frames * melBins));
        return frames * melBins == output.Length ? output : output[..(frames * melBins)];
    }

    /// <summary>numpy/torch "reflect" index (no edge repeat) into a signal of <paramref name="length"/> samples.</summary>
    internal static int Reflect(int index, int length)
    {
        if (length <= 1)
        {
            return 0;
        }

        var period = 2 * (length - 1);
        index %= period;
        if (index < 0)
        {
            index += period;
        }

        return index < length ? index : period - index;
    }
}
