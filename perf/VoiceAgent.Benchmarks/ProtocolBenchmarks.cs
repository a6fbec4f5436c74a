using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using VoiceAgent.Core.Audio;
using VoiceAgent.Gateway.Echo;
using VoiceAgent.Gateway.Protocol;

namespace VoiceAgent.Benchmarks;

/// <summary>
/// The WebSocket protocol's per-message work (docs/protocol.md): parsing a client control message, serializing the
/// server events a turn produces (the gateway sends them with <c>JsonSerializer.SerializeToUtf8Bytes</c> and
/// <see cref="ProtocolJson.Options"/>), and the PCM16 ⇄ float conversion of a 20 ms audio frame in each direction.
/// Audio frames dominate the message count (50 per second per direction per caller), so they must not allocate.
/// </summary>
[MemoryDiagnoser]
public class ProtocolBenchmarks
{
    private readonly byte[] _hello = Encoding.UTF8.GetBytes("""{"type":"hello","sample_rate":16000,"output_sample_rate":16000,"output_frame_ms":20,"barge_in":true}""");
    private readonly byte[] _playback = Encoding.UTF8.GetBytes("""{"type":"playback","turn":3,"played_ms":1234.5}""");
    private readonly ServerEvent _latency = new()
    {
        Type = MessageTypes.Latency,
        Turn = 3,
        VadCommitMs = 456,
        EncoderTailMs = 1.92,
        FirstTextTokenMs = 14.1,
        FirstAudioTokenMs = 21.7,
        FirstAudioFrameMs = 98.3,
        TotalMs = 1245.6,
    };

    private readonly ServerEvent _textDelta = new() { Type = MessageTypes.ReplyTextDelta, Turn = 3, Text = " balance" };
    private readonly byte[] _callerFrame = new byte[320 * 2];
    private readonly float[] _callerFloats = new float[320];
    private readonly float[] _replyFrame = new float[320];
    private readonly short[] _replyPcm = new short[320];
    private readonly short[] _echoFrame = new short[320];
    private EchoGuard? _guard;
    private int _phase;

    [GlobalSetup]
    public void Setup()
    {
        var samples = MemoryMarshal.Cast<byte, short>(_callerFrame.AsSpan());
        for (var i = 0; i < samples.Length; i++)
        {
            samples[i] = (short)(8000 * Math.Sin(i * 0.1));
            _replyFrame[i] = (float)(0.25 * Math.Sin(i * 0.07));
        }

        // The guard in its busy state: the agent speaks (a reference every frame) and the microphone hears it back.
        _guard = new EchoGuard(new EchoGuardOptions(), 16000, 16000);
        for (var i = 0; i < 100; i++)
        {
            EchoGuardFrame();
        }
    }

    [Benchmark(Description = "Parse client hello (JSON)")]
    public ClientMessage? ParseHello() => ClientMessage.Parse(_hello, out _);

    [Benchmark(Description = "Parse client playback report (JSON)")]
    public ClientMessage? ParsePlayback() => ClientMessage.Parse(_playback, out _);

    [Benchmark(Description = "Serialize latency event (JSON, UTF-8)")]
    public byte[] SerializeLatency() => JsonSerializer.SerializeToUtf8Bytes(_latency, ProtocolJson.Options);

    [Benchmark(Description = "Serialize reply_text_delta event (JSON, UTF-8)")]
    public byte[] SerializeTextDelta() => JsonSerializer.SerializeToUtf8Bytes(_textDelta, ProtocolJson.Options);

    [Benchmark(Description = "Caller frame in: 20 ms PCM16 LE bytes → float (320 samples)")]
    public float CallerFrameToFloat()
    {
        PcmConvert.ToFloat(MemoryMarshal.Cast<byte, short>(_callerFrame.AsSpan()), _callerFloats);
        return _callerFloats[17];
    }

    [Benchmark(Description = "Echo guard while the agent speaks: 20 ms reference + 20 ms caller frame")]
    public int EchoGuardFrame()
    {
        // A 200 Hz-ish voiced reference whose phase moves on, and its echo 6 dB down in the caller frame.
        for (var i = 0; i < _replyFrame.Length; i++)
        {
            var v = 0.25 * Math.Sin((_phase + i) * 0.08) * (1 + (0.5 * Math.Sin((_phase + i) * 0.002)));
            _replyFrame[i] = (float)v;
            _echoFrame[i] = (short)(v * 0.5 * 32767);
        }

        _phase += _replyFrame.Length;
        _guard!.AddReference(_replyFrame);
        return _guard.Process(_echoFrame).Length;
    }

    [Benchmark(Description = "Reply frame out: 20 ms float → PCM16 LE bytes (320 samples)")]
    public byte ReplyFrameToPcm16()
    {
        PcmConvert.ToPcm16(_replyFrame, _replyPcm);
        return MemoryMarshal.AsBytes(_replyPcm.AsSpan())[35];
    }
}
