namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>How a stage keeps a cache that grows by a few positions per call (encoder caches, decoder KV caches).</summary>
public enum KvCacheStrategy
{
    /// <summary>
    /// Two managed buffers per cache, grown in capacity blocks: step n reads its past from one buffer and ORT writes the
    /// present into the other (pre-allocated output), so no native allocation happens per step and truncation is an
    /// in-place compaction. float32 caches only; other dtypes fall back to <see cref="OrtAllocated"/>.
    /// </summary>
    PingPong,

    /// <summary>
    /// ORT allocates each present (an unbound output slot); it becomes the next past and the previous past is
    /// released. Works for every dtype; costs one native allocation per cache per step.
    /// </summary>
    OrtAllocated,
}
