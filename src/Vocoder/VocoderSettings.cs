namespace VoiceAgent.Vocoder;

/// <summary>
/// What the vocoder stage needs from a model pack (docs/model-pack-part2.md §1, §4; the manifest's <c>vocoder</c>
/// section). The defaults are the contract's demo values.
/// </summary>
public sealed record VocoderSettings
{
    /// <summary>Output sample rate in Hz (<c>vocoder.sample_rate</c>).</summary>
    public int SampleRate { get; init; } = 16000;

    /// <summary>Samples per mel frame (<c>vocoder.hop_length</c>).</summary>
    public int HopLength { get; init; } = 320;

    /// <summary>Mel bins per frame (<c>vocoder.mel.n_mels</c>).</summary>
    public int MelBins { get; init; } = 80;

    /// <summary>Frames re-vocoded and cross-faded at every join (<c>vocoder.stitching.overlap_frames</c>, O).</summary>
    public int OverlapFrames { get; init; } = 4;

    /// <summary>
    /// Frames vocoded at the end of each call but discarded, because they lack right context
    /// (<c>vocoder.stitching.lookahead_frames</c>, R; 0 when the manifest has none).
    /// </summary>
    public int LookaheadFrames { get; init; } = 4;

    /// <summary>Extra frames of left context per call (<c>vocoder.stitching.left_context_frames</c>, L).</summary>
    public int LeftContextFrames { get; init; } = 8;

    /// <summary>Cross-fade length in samples: <c>O × hop</c>.</summary>
    public int CrossFadeSamples => OverlapFrames * HopLength;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first property out of range.</summary>
    public void Validate()
    {
        if (SampleRate < 1)
        {
            throw new ArgumentException($"{nameof(SampleRate)} is {SampleRate} but must be >= 1.", nameof(SampleRate));
        }

        if (HopLength < 1)
        {
            throw new ArgumentException($"{nameof(HopLength)} is {HopLength} but must be >= 1.", nameof(HopLength));
        }

        if (MelBins < 1)
        {
            throw new ArgumentException($"{nameof(MelBins)} is {MelBins} but must be >= 1.", nameof(MelBins));
        }

        if (OverlapFrames < 0)
        {
            throw new ArgumentException($"{nameof(OverlapFrames)} is {OverlapFrames} but must be >= 0.", nameof(OverlapFrames));
        }

        if (LookaheadFrames < 0)
        {
            throw new ArgumentException($"{nameof(LookaheadFrames)} is {LookaheadFrames} but must be >= 0.", nameof(LookaheadFrames));
        }

        if (LeftContextFrames < 0)
        {
            throw new ArgumentException($"{nameof(LeftContextFrames)} is {LeftContextFrames} but must be >= 0.", nameof(LeftContextFrames));
        }
    }
}
