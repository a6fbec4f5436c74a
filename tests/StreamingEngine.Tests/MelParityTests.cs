using VoiceAgent.Core.Audio;

namespace VoiceAgent.StreamingEngine.Tests;

[Collection(PackCollection.Name)]
public sealed class MelParityTests(PackFixture fixture)
{
    [Theory]
    [InlineData(320)]
    [InlineData(333)]
    public void Golden_mel_cases_match_streaming_log_mel_chunked(int chunk)
    {
        var golden = fixture.Golden("mel.json");
        var bins = fixture.Pack.Manifest.Mel!.NMels!.Value;
        foreach (var c in golden.GetProperty("cases").EnumerateArray())
        {
            var pcm = GoldenTensor.F32(c.GetProperty("pcm"));
            var expected = GoldenTensor.F32(c.GetProperty("mel"));
            var shape = GoldenTensor.Shape(c.GetProperty("mel"));
            var mel = new StreamingLogMel(bins, fixture.Pack.Manifest.Mel.FrameGroup ?? 8);
            var output = new List<float>();
            var buffer = new float[StreamingLogMel.GetMaxFrames(chunk) * bins];
            for (var start = 0; start < pcm.Length; start += chunk)
            {
                var n = mel.Process(pcm.AsSpan(start, Math.Min(chunk, pcm.Length - start)), buffer);
                output.AddRange(buffer.AsSpan(0, n * bins));
            }

            var flush = new float[mel.GetFlushFrameCount() * bins];
            var m = mel.Flush(flush);
            output.AddRange(flush.AsSpan(0, m * bins));
            Assert.Equal(shape[0], output.Count / bins);
            GoldenTensor.Near(expected, output.ToArray(), fixture.Pack.MelTolerance, $"mel case {c.GetProperty("name").GetString()}");
        }
    }
}
