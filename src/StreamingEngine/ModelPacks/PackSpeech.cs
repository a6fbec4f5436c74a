using VoiceAgent.Vocoder;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>Builds the Vocoder stage settings from a manifest that <see cref="ManifestValidator"/> accepted.</summary>
internal static class PackSpeech
{
    public static DetokenizerSettings? Detokenizer(ModelPackManifest m)
    {
        if (m.Detokenizer is not { } d)
        {
            return null;
        }

        return new DetokenizerSettings
        {
            CodebookSize = d.CodebookSize!.Value,
            Upsample = d.Upsample!.Value,
            MelBins = d.NMels!.Value,
            NumLayers = d.NumLayers!.Value,
            NumHeads = d.NumHeads!.Value,
            HeadDim = d.HeadDim!.Value,
            EulerSteps = d.Flow!.Steps!.Value,
            TClean = d.Flow.TClean!.Value,
            FirstChunkTokens = d.Chunking!.FirstChunkTokens!.Value,
            ChunkTokens = d.Chunking.ChunkTokens!.Value,
            LookaheadTokens = d.Chunking.LookaheadTokens!.Value,
            MaxCacheFrames = d.Cache!.MaxFrames!.Value,
            DefaultSeed = (uint)(d.Noise!.DefaultSeed ?? 0),
        };
    }

    public static VocoderSettings? Vocoder(ModelPackManifest m)
    {
        if (m.Vocoder is not { } v)
        {
            return null;
        }

        return new VocoderSettings
        {
            SampleRate = v.SampleRate!.Value,
            HopLength = v.HopLength!.Value,
            MelBins = m.Detokenizer!.NMels!.Value,
            OverlapFrames = v.Stitching!.OverlapFrames!.Value,
            LookaheadFrames = v.Stitching.LookaheadFrames ?? 0,
            LeftContextFrames = v.Stitching.LeftContextFrames!.Value,
        };
    }
}
