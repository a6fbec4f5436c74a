using System.Buffers.Binary;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// A protocol client over <see cref="ClientWebSocket"/> for the tests: sends hello, JSON and PCM frames; records every
/// event (with its arrival time) and the reply audio of each turn; lets a test wait for an event.
/// </summary>
public sealed class VoiceClient : IAsyncDisposable
{
    private readonly ClientWebSocket _socket = new();
    private readonly List<Received> _received = [];
    private readonly SemaphoreSlim _changed = new(0);
    private readonly Dictionary<int, MemoryStream> _audio = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _receiver = Task.CompletedTask;
    private int _audioTurn;

    /// <summary>Called with each binary frame as it arrives (the echo tests "play" it).</summary>
    public Action<ReadOnlyMemory<byte>>? OnAudio { get; set; }

    /// <summary>Set when the server closed the connection.</summary>
    public WebSocketCloseStatus? CloseStatus { get; private set; }

    public string? CloseDescription { get; private set; }

    public ClientWebSocketOptions Options => _socket.Options;

    public static async Task<VoiceClient> ConnectAsync(Uri uri, Action<ClientWebSocketOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var client = new VoiceClient();
        configure?.Invoke(client._socket.Options);
        await client._socket.ConnectAsync(uri, cancellationToken);
        client._receiver = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        return client;
    }

    /// <summary>Every event so far (JSON objects), in arrival order.</summary>
    public IReadOnlyList<JsonElement> Events
    {
        get
        {
            lock (_received)
            {
                return _received.Where(r => r.Event is not null).Select(r => r.Event!.Value).ToArray();
            }
        }
    }

    /// <summary>Everything received (events and audio frame markers) in order, for ordering checks.</summary>
    public IReadOnlyList<Received> Timeline
    {
        get
        {
            lock (_received)
            {
                return [.. _received];
            }
        }
    }

    /// <summary>Reply audio (PCM16 LE) received for <paramref name="turn"/>.</summary>
    public byte[] AudioOf(int turn)
    {
        lock (_received)
        {
            return _audio.TryGetValue(turn, out var stream) ? stream.ToArray() : [];
        }
    }

    public Task SendJsonAsync(string json) =>
        _socket.SendAsync(Encoding.UTF8.GetBytes(json), WebSocketMessageType.Text, true, _stop.Token);

    public Task SendHelloAsync(int sampleRate = 16000, string extra = "") =>
        SendJsonAsync($"{{\"type\":\"hello\",\"sample_rate\":{sampleRate.ToString(CultureInfo.InvariantCulture)}{extra}}}");

    public Task SendBinaryAsync(ReadOnlyMemory<byte> bytes) =>
        _socket.SendAsync(bytes, WebSocketMessageType.Binary, true, _stop.Token).AsTask();

    public Task SendPcmAsync(ReadOnlySpan<short> samples)
    {
        var bytes = new byte[samples.Length * 2];
        for (var i = 0; i < samples.Length; i++)
        {
            BinaryPrimitives.WriteInt16LittleEndian(bytes.AsSpan(i * 2), samples[i]);
        }

        return SendBinaryAsync(bytes);
    }

    /// <summary>Sends <paramref name="pcm"/> as 20 ms frames, <paramref name="speed"/> times faster than real time.</summary>
    public async Task StreamAsync(short[] pcm, int sampleRate, double speed = 1)
    {
        var frame = sampleRate / 50;
        var started = System.Diagnostics.Stopwatch.StartNew();
        for (var offset = 0; offset + frame <= pcm.Length; offset += frame)
        {
            await SendPcmAsync(pcm.AsSpan(offset, frame));
            var due = TimeSpan.FromMilliseconds((offset / frame + 1) * 20 / speed);
            if (due > started.Elapsed)
            {
                await Task.Delay(due - started.Elapsed);
            }
        }
    }

    /// <summary>Waits for the first event (from the start) matching <paramref name="type"/> and <paramref name="match"/>.</summary>
    public async Task<JsonElement> WaitForAsync(string type, TimeSpan timeout, Func<JsonElement, bool>? match = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var e in Events)
            {
                if (e.GetProperty("type").GetString() == type && (match is null || match(e)))
                {
                    return e;
                }
            }

            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || CloseStatus is not null && !_changed.Wait(0))
            {
                throw new TimeoutException($"No '{type}' event within {timeout.TotalSeconds:0.#} s; got: {Describe()}");
            }

            await _changed.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    /// <summary>Waits until the server closes the connection; returns its close status.</summary>
    public async Task<WebSocketCloseStatus?> WaitForCloseAsync(TimeSpan timeout)
    {
        await _receiver.WaitAsync(timeout);
        return CloseStatus;
    }

    public string Describe() => string.Join(", ", Events.Select(e => e.GetRawText().Length > 160 ? e.GetRawText()[..160] : e.GetRawText()))
        + (CloseStatus is { } status ? $"; closed {(int)status} {CloseDescription}" : "");

    public int Count(string type) => Events.Count(e => e.GetProperty("type").GetString() == type);

    public async Task CloseAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                await _socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is WebSocketException or TimeoutException)
            {
                _socket.Abort();
            }
        }
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[1 << 16];
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer.AsMemory(count), _stop.Token);
                    count += result.Count;
                }
                while (!result.EndOfMessage);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    CloseStatus = _socket.CloseStatus;
                    CloseDescription = _socket.CloseStatusDescription;
                    if (_socket.State == WebSocketState.CloseReceived)
                    {
                        await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "ok", CancellationToken.None);
                    }

                    return;
                }

                var at = System.Diagnostics.Stopwatch.GetTimestamp();
                if (result.MessageType == WebSocketMessageType.Text)
                {
                    using var doc = JsonDocument.Parse(buffer.AsMemory(0, count));
                    var e = doc.RootElement.Clone();
                    lock (_received)
                    {
                        if (e.GetProperty("type").GetString() == "reply_audio_start")
                        {
                            _audioTurn = e.GetProperty("turn").GetInt32();
                        }

                        _received.Add(new Received(e, 0, at));
                    }
                }
                else
                {
                    var frame = buffer.AsMemory(0, count).ToArray();
                    lock (_received)
                    {
                        if (!_audio.TryGetValue(_audioTurn, out var stream))
                        {
                            _audio[_audioTurn] = stream = new MemoryStream();
                        }

                        stream.Write(frame);
                        _received.Add(new Received(null, count, at));
                    }

                    OnAudio?.Invoke(frame);
                }

                _changed.Release();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException)
        {
            CloseStatus ??= _socket.CloseStatus;
        }
        finally
        {
            _changed.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await CloseAsync();
        await _stop.CancelAsync();
        try
        {
            await _receiver.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            // the socket is torn down below
        }

        _socket.Dispose();
        _stop.Dispose();
        _changed.Dispose();
    }

    /// <summary>One thing received: an event, or a binary frame of <see cref="AudioBytes"/> bytes.</summary>
    public sealed record Received(JsonElement? Event, int AudioBytes, long Timestamp);
}
