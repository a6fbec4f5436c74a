using System.Text.Json.Serialization;

namespace VoiceAgent.Perf.Corpus;

/// <summary>
/// One user utterance of the bench corpus: a 16 kHz mono PCM16 WAV that starts with a little silence and ends after
/// the last 10 ms frame louder than −40 dB of the loudest one. <see cref="SpeechEndSample"/> is the sample after the
/// last voiced one (the end of the last 32 ms window that an offline Silero pass scores ≥ 0.5), the point from which
/// user-felt latency is counted, for every system alike.
/// </summary>
internal sealed record BenchClip
{
    public required string Id { get; init; }

    /// <summary>File name inside the corpus folder.</summary>
    public required string File { get; init; }

    /// <summary><c>synthetic</c> (held-out TTS voice speaking a demo question) or <c>human</c> (pocketsphinx-testdata).</summary>
    public required string Source { get; init; }

    public required string Voice { get; init; }

    /// <summary>What is said, when known (synthetic clips; the human clips' transcripts are not needed).</summary>
    public string? Text { get; init; }

    /// <summary>The demo intent the question belongs to (synthetic clips).</summary>
    public string? Intent { get; init; }

    public required int SampleRate { get; init; }

    public required int Samples { get; init; }

    public required int SpeechStartSample { get; init; }

    public required int SpeechEndSample { get; init; }

    [JsonIgnore]
    public double SpeechMs => (SpeechEndSample - SpeechStartSample) * 1000.0 / SampleRate;
}

/// <summary>The corpus folder's index (<c>corpus.json</c>).</summary>
internal sealed record BenchCorpusIndex(int Version, IReadOnlyList<BenchClip> Clips);
