using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Threading.Channels;

namespace VoiceAgent.Perf.Load;

/// <summary>
/// A caller on the gateway's WebSocket protocol (docs/protocol.md, <c>/v1/voice</c>): a JSON <c>hello</c> with the
/// sample rate, then binary PCM16 frames up; JSON events and binary reply frames down. Every message is timestamped
/// the moment its first bytes are received, before it is parsed.
/// </summary>
internal sealed class WebSocketVoiceConnection : IVoiceConnection
{
    private const int ReceiveBufferBytes = 64 * 1024;

    private readonly ClientWebSocket _socket;
    private readonly Channel<ServerSignal> _signals = Channel.CreateUnbounded<ServerSignal>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private Task _receiver = Task.CompletedTask;
    private byte[] _sendBuffer = [];

    private WebSocketVoiceConnection(ClientWebSocket socket, int inputRate, int outputRate)
    {
        _socket = socket;
        InputSampleRate = inputRate;
        OutputSampleRate = outputRate;
    }

    public int InputSampleRate { get; }

    public int OutputSampleRate { get; private set; }

    /// <summary>The server's session id from <c>ready</c>.</summary>
    public long? SessionId { get; private set; }

    public ChannelReader<ServerSignal> Signals => _signals.Reader;

    /// <summary>Connects, says hello and waits for <c>ready</c> (throws with the server's error message when refused).</summary>
    public static async Task<WebSocketVoiceConnection> ConnectAsync(Uri endpoint, int sampleRate, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero;
        var connection = new WebSocketVoiceConnection(socket, sampleRate, sampleRate);
        try
        {
            await socket.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
            var hello = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
            {
                ["type"] = "hello",
                ["sample_rate"] = sampleRate,
                ["output_sample_rate"] = sampleRate,
                ["output_frame_ms"] = 20,
            });
            await socket.SendAsync(hello, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
            await connection.WaitForReadyAsync(cancellationToken).ConfigureAwait(false);
            connection._receiver = Task.Run(connection.ReceiveLoopAsync, CancellationToken.None);
            return connection;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends one PCM16 frame (little-endian, as the protocol says; this machine is little-endian). Sends are awaited one
    /// at a time by the caller's sender, so one reusable buffer suffices.
    /// </summary>
    public ValueTask SendAsync(ReadOnlyMemory<short> frame, CancellationToken cancellationToken)
    {
        var bytes = MemoryMarshal.AsBytes(frame.Span);
        if (_sendBuffer.Length < bytes.Length)
        {
            _sendBuffer = new byte[bytes.Length];
        }

        bytes.CopyTo(_sendBuffer);
        return _socket.SendAsync(_sendBuffer.AsMemory(0, bytes.Length), WebSocketMessageType.Binary, endOfMessage: true, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_socket.State == WebSocketState.Open)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bench done", timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            // The server may already have gone; closing is best effort.
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _receiver.ConfigureAwait(false);
        _socket.Dispose();
        _stop.Dispose();
    }

    private async Task WaitForReadyAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(10));
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
        try
        {
            while (true)
            {
                var (type, length, _) = await ReceiveMessageAsync(buffer, timeout.Token).ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    throw new InvalidOperationException($"the server closed the connection before 'ready' ({_socket.CloseStatusDescription}).");
                }

                if (type != WebSocketMessageType.Text)
                {
                    continue;
                }

                using var document = JsonDocument.Parse(buffer.AsMemory(0, length));
                var root = document.RootElement;
                var kind = root.GetProperty("type").GetString();
                if (kind == "ready")
                {
                    SessionId = root.TryGetProperty("session_id", out var id) ? id.GetInt64() : null;
                    if (root.TryGetProperty("output_sample_rate", out var rate))
                    {
                        OutputSampleRate = rate.GetInt32();
                    }

                    return;
                }

                if (kind == "error")
                {
                    throw new InvalidOperationException($"the server refused the session: {Describe(root)}");
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferBytes);
        try
        {
            while (true)
            {
                var (type, length, received) = await ReceiveMessageAsync(buffer, _stop.Token).ConfigureAwait(false);
                if (type == WebSocketMessageType.Close)
                {
                    break;
                }

                var signal = type == WebSocketMessageType.Binary
                    ? new ServerSignal(SignalKind.ReplyAudio, received) { AudioSamples = length / 2 }
                    : ParseEvent(buffer.AsSpan(0, length), received);
                if (signal is { } s)
                {
                    _signals.Writer.TryWrite(s);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            // Closed by us or dropped by the server: either way the signal stream ends.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.Closed, Stopwatch.GetTimestamp()) { Text = _socket.CloseStatusDescription });
            _signals.Writer.TryComplete();
        }
    }

    /// <summary>Receives one whole message into <paramref name="buffer"/>; the timestamp is taken when its first part arrives.</summary>
    private async Task<(WebSocketMessageType Type, int Length, long Received)> ReceiveMessageAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        var length = 0;
        long received = 0;
        while (true)
        {
            var result = await _socket.ReceiveAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
            if (received == 0)
            {
                received = Stopwatch.GetTimestamp();
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return (WebSocketMessageType.Close, 0, received);
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return (result.MessageType, length, received);
            }

            if (length == buffer.Length)
            {
                throw new WebSocketException($"a server message is larger than {buffer.Length} bytes.");
            }
        }
    }

    private static ServerSignal? ParseEvent(ReadOnlySpan<byte> json, long received)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        var e = document.RootElement;
        var turn = e.TryGetProperty("turn", out var t) && t.TryGetInt32(out var id) ? id : 0;
        return e.GetProperty("type").GetString() switch
        {
            "vad_end" => new ServerSignal(SignalKind.TurnCommitted, received) { TurnId = turn },
            "transcript" => new ServerSignal(SignalKind.Transcript, received) { TurnId = turn, Text = String(e, "text") },
            "reply_text_done" => new ServerSignal(SignalKind.ReplyText, received) { TurnId = turn, Text = String(e, "text") },
            "reply_audio_end" => new ServerSignal(SignalKind.ReplyAudioEnded, received) { TurnId = turn, AudioMs = Number(e, "audio_ms") },
            "barge_in" => new ServerSignal(SignalKind.BargeIn, received) { TurnId = turn },
            "error" => new ServerSignal(SignalKind.Error, received) { TurnId = turn, Text = Describe(e) },
            "latency" => new ServerSignal(SignalKind.Latency, received)
            {
                TurnId = turn,
                EngineFirstPacketMs = Number(e, "first_audio_frame_ms"),
                VadCommitMs = Number(e, "vad_commit_ms"),
                EndOfTurn = String(e, "end_of_turn"),
                Stages = Stages(e),
            },
            _ => null,
        };
    }

    private static Dictionary<string, double> Stages(JsonElement e)
    {
        var stages = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var p in e.EnumerateObject())
        {
            if (p.Name.EndsWith("_ms", StringComparison.Ordinal) && p.Value.ValueKind == JsonValueKind.Number)
            {
                stages[p.Name[..^3]] = p.Value.GetDouble();
            }
        }

        return stages;
    }

    private static string? String(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? Number(JsonElement e, string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : null;

    private static string Describe(JsonElement e) => $"{String(e, "code") ?? "error"}: {String(e, "message") ?? String(e, "text") ?? "no message"}";
}
