namespace VoiceAgent.StreamingEngine.Vad;

/// <summary>What a <see cref="VadEvent"/> reports.</summary>
public enum VadEventKind
{
    /// <summary>A speech segment began (emitted once it is long enough to be kept; use it for barge-in).</summary>
    SpeechStart,

    /// <summary>The segment ended (emitted after the silence hangover; use it to commit the turn).</summary>
    SpeechEnd,
}

/// <summary>
/// A speech boundary. <see cref="Sample"/> counts samples at <see cref="SampleRate"/> (the VAD's rate) from the start
/// of the stream, with <see cref="VadOptions.SpeechPadMs"/> already applied.
/// </summary>
/// <param name="Kind">Start or end.</param>
/// <param name="Sample">The boundary, in samples at <paramref name="SampleRate"/>.</param>
/// <param name="SampleRate">The rate <paramref name="Sample"/> counts at.</param>
public readonly record struct VadEvent(VadEventKind Kind, long Sample, int SampleRate)
{
    /// <summary>The boundary in whole milliseconds (rounded to nearest).</summary>
    public long Milliseconds => SampleToMs(Sample, SampleRate);

    /// <summary>The boundary as a time span.</summary>
    public TimeSpan Time => TimeSpan.FromSeconds((double)Sample / SampleRate);

    internal static long SampleToMs(long sample, int sampleRate) => ((sample * 1000) + (sampleRate / 2)) / sampleRate;
}

/// <summary>A speech segment <c>[StartSample, EndSample)</c> at <see cref="SampleRate"/>, padding applied.</summary>
/// <param name="StartSample">First sample of the segment.</param>
/// <param name="EndSample">One past its last sample.</param>
/// <param name="SampleRate">The rate the samples count at.</param>
public readonly record struct SpeechSegment(long StartSample, long EndSample, int SampleRate)
{
    /// <summary>Start in whole milliseconds.</summary>
    public long StartMs => VadEvent.SampleToMs(StartSample, SampleRate);

    /// <summary>End in whole milliseconds.</summary>
    public long EndMs => VadEvent.SampleToMs(EndSample, SampleRate);

    /// <summary>Length in milliseconds.</summary>
    public long DurationMs => EndMs - StartMs;
}
