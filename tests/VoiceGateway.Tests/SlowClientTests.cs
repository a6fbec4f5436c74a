using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using Xunit.Abstractions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// A client that keeps talking but never reads (a tiny receive buffer, nothing read) gets a reply it cannot take:
/// the gateway drops that client's oldest audio, counts it in /metrics, and another caller's turn at the same time
/// is untouched.
/// </summary>
[Collection(SharedGatewayCollection.Name)]
public sealed class SlowClientTests(SharedGateway gateway, ITestOutputHelper output)
{
    [Fact]
    public async Task A_client_that_stops_reading_loses_audio_counted_in_metrics_and_another_caller_is_unaffected()
    {
        var droppedBefore = await gateway.MetricAsync("voiceagent_dropped_frames_total{transport=\"websocket\"}");
        var question = TestSpeech.Pcm16("what is my balance");
        using var stuck = await RawWebSocket.ConnectAsync(gateway.BaseUri);
        // 48 kHz replies are 96 KB/s: far more than the few hundred KB the socket buffers and Kestrel's pipe can hold.
        await stuck.SendTextAsync("{\"type\":\"hello\",\"sample_rate\":16000,\"output_sample_rate\":48000}");
        using var stop = new CancellationTokenSource();
        var stuckTalking = stuck.StreamAsync(question, stop.Token);

        // Meanwhile a well-behaved caller has a whole turn.
        await Task.Delay(300);
        await using var good = await VoiceClient.ConnectAsync(gateway.VoiceUri);
        await good.SendHelloAsync(16000);
        await good.WaitForAsync("ready", TimeSpan.FromSeconds(10));
        using var microphone = new CancellationTokenSource();
        var speaking = Microphone.RunAsync(good, question, microphone.Token);
        var end = await good.WaitForAsync("reply_audio_end", TimeSpan.FromSeconds(60));
        var turn = end.GetProperty("turn").GetInt32();
        Assert.InRange(good.AudioOf(turn).Length / 32.0, end.GetProperty("audio_ms").GetInt64() - 25, end.GetProperty("audio_ms").GetInt64() + 25);

        // The stuck client's reply is produced at real time too; wait until its drops show in /metrics.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        double dropped;
        while ((dropped = await gateway.MetricAsync("voiceagent_dropped_frames_total{transport=\"websocket\"}") - droppedBefore) <= 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(250);
        }

        await microphone.CancelAsync();
        await speaking;
        await stop.CancelAsync();
        await stuckTalking;
        output.WriteLine($"frames dropped for the stuck client: {dropped}; good caller's reply {end.GetProperty("audio_ms")} ms received whole");
        Assert.True(dropped > 0, "no audio was dropped for a client that never reads");
    }

    /// <summary>A minimal WebSocket client over a raw socket with a 4 KB receive buffer that it never reads.</summary>
    private sealed class RawWebSocket : IDisposable
    {
        private readonly Socket _socket;
        private readonly NetworkStream _stream;
        private readonly SemaphoreSlim _writeLock = new(1, 1);

        private RawWebSocket(Socket socket)
        {
            _socket = socket;
            _stream = new NetworkStream(socket, ownsSocket: false);
        }

        public static async Task<RawWebSocket> ConnectAsync(Uri baseUri)
        {
            var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
            await socket.ConnectAsync(baseUri.Host, baseUri.Port);
            var client = new RawWebSocket(socket);
            var key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(16));
            var request = $"GET /v1/voice HTTP/1.1\r\nHost: {baseUri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n";
            await client._stream.WriteAsync(Encoding.ASCII.GetBytes(request));

            // Read exactly the response head (byte by byte, so no frame data is consumed) — and then never read again.
            var head = new StringBuilder();
            var one = new byte[1];
            while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
            {
                Assert.Equal(1, await client._stream.ReadAsync(one));
                head.Append((char)one[0]);
            }

            Assert.StartsWith("HTTP/1.1 101", head.ToString(), StringComparison.Ordinal);
            return client;
        }

        public Task SendTextAsync(string text) => SendFrameAsync(0x1, Encoding.UTF8.GetBytes(text));

        /// <summary>The question, then silence, as 20 ms frames at real time, until cancelled.</summary>
        public async Task StreamAsync(short[] speech, CancellationToken cancellationToken)
        {
            var silence = new short[320];
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
            try
            {
                for (var offset = 0; ; offset += 320)
                {
                    var frame = offset + 320 <= speech.Length ? speech.AsSpan(offset, 320).ToArray() : silence;
                    var bytes = new byte[640];
                    Buffer.BlockCopy(frame, 0, bytes, 0, 640);
                    await SendFrameAsync(0x2, bytes);
                    await timer.WaitForNextTickAsync(cancellationToken);
                }
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException)
            {
                // stopped, or the server gave up on us
            }
        }

        private async Task SendFrameAsync(byte opcode, byte[] payload)
        {
            // Client frames are masked (RFC 6455 §5.3).
            var header = new List<byte> { (byte)(0x80 | opcode) };
            if (payload.Length < 126)
            {
                header.Add((byte)(0x80 | payload.Length));
            }
            else
            {
                header.Add(0x80 | 126);
                header.Add((byte)(payload.Length >> 8));
                header.Add((byte)payload.Length);
            }

            var mask = RandomNumberGenerator.GetBytes(4);
            header.AddRange(mask);
            var masked = new byte[payload.Length];
            for (var i = 0; i < payload.Length; i++)
            {
                masked[i] = (byte)(payload[i] ^ mask[i % 4]);
            }

            await _writeLock.WaitAsync();
            try
            {
                await _stream.WriteAsync(header.ToArray());
                await _stream.WriteAsync(masked);
            }
            finally
            {
                _writeLock.Release();
            }
        }

        public void Dispose()
        {
            _stream.Dispose();
            _socket.Dispose();
            _writeLock.Dispose();
        }
    }
}
