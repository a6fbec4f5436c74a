using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.Cli;
using VoiceAgent.Gateway.Metrics;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// Runs the SIP user agent on UDP: a receive loop copies each datagram into a pooled buffer and queues it on a
/// bounded channel (a flood drops and counts datagrams instead of growing memory); one core loop takes datagrams
/// and 20 ms timer ticks off that channel and drives <see cref="SipUserAgent"/>, which therefore never needs a lock.
/// Started with the gateway (<c>./voiceagent serve</c>); a port that cannot be bound fails start-up with one sentence.
/// </summary>
public sealed class SipService : IHostedService, ISipTransport, IAsyncDisposable
{
    private const int TickMs = 20;

    private readonly TelephonyOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ISipMediaFactory _media;
    private readonly ILogger<SipService> _logger;
    private readonly Channel<Work> _work;
    private readonly ConcurrentQueue<Action> _dispatched = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly CancellationTokenSource _stopping = new();
    private Socket? _socket;
    private SipUserAgent? _agent;
    private Task _receive = Task.CompletedTask;
    private Task _core = Task.CompletedTask;
    private Task _ticks = Task.CompletedTask;
    private int _disposed;

    public SipService(IOptions<TelephonyOptions> options, ISipMediaFactory media, SipCounters counters, GatewayMetrics metrics, ILogger<SipService> logger)
    {
        _options = options.Value;
        _metrics = metrics;
        _media = media;
        Counters = counters;
        _logger = logger;
        _work = Channel.CreateBounded<Work>(new BoundedChannelOptions(_options.Sip.QueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.DropWrite,
        });
    }

    public SipCounters Counters { get; }

    /// <summary>The bound SIP endpoint (port 0 in configuration picks a free one).</summary>
    public IPEndPoint? LocalEndPoint => _socket?.LocalEndPoint as IPEndPoint;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        var sip = _options.Sip;
        if (!sip.Enabled)
        {
            return Task.CompletedTask;
        }

        var address = IPAddress.Parse(sip.BindAddress);
        var socket = new Socket(address.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            socket.Bind(new IPEndPoint(address, sip.Port));
        }
        catch (SocketException ex)
        {
            socket.Dispose();
            var problem = $"cannot listen for SIP on udp {sip.BindAddress}:{sip.Port} ({ex.Message.TrimEnd('.')})";
            if (sip.Required)
            {
                throw new CliException($"{problem}; choose another with --sip-port.");
            }

            _logger.LogError("SIP is off: {Problem}. Pass --sip-port N (or set Telephony:Sip:Port) to take calls", problem);
            Console.Out.WriteLine($"voiceagent: sip off: {problem}");
            return Task.CompletedTask;
        }

        _socket = socket;
        var bound = (IPEndPoint)socket.LocalEndPoint!;
        var settings = new SipUserAgentSettings
        {
            AdvertisedHost = _options.SipAddress,
            MediaAddress = _options.MediaAddress,
            Port = bound.Port,
            RingMs = sip.RingMs,
            MaxMessageBytes = sip.MaxMessageBytes,
            Timers = new SipTimers { T1 = sip.T1Ms, T2 = sip.T2Ms, T4 = sip.T4Ms },
            ReportError = kind => _metrics.Error("sip", kind),
        };
        _agent = new SipUserAgent(settings, this, _media, Counters, _logger, Dispatch, () => _clock.ElapsedMilliseconds);
        _receive = Task.Run(() => ReceiveLoopAsync(socket, _stopping.Token), CancellationToken.None);
        _core = Task.Run(() => CoreLoopAsync(_stopping.Token), CancellationToken.None);
        _ticks = Task.Run(() => TickLoopAsync(_stopping.Token), CancellationToken.None);
        _logger.LogInformation("SIP user agent listening on udp {Endpoint}", bound);
        Console.Out.WriteLine($"voiceagent: sip on udp {bound}");
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_agent is null)
        {
            return;
        }

        // Hang up every call politely (BYE), on the core loop, before the loops stop.
        var hungUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Dispatch(() =>
        {
            _agent.HangupAll("the gateway is shutting down", _clock.ElapsedMilliseconds);
            hungUp.TrySetResult();
        });
        await Task.WhenAny(hungUp.Task, Task.Delay(1000, cancellationToken)).ConfigureAwait(false);
        await _stopping.CancelAsync().ConfigureAwait(false);
        _work.Writer.TryComplete();
        _socket?.Dispose();
        try
        {
            await Task.WhenAll(_receive, _core, _ticks).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Normal stop.
        }
    }

    public async ValueTask DisposeAsync()
    {
        // The container may dispose this twice (it is registered both as itself and as the hosted service).
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        _stopping.Dispose();
    }

    void ISipTransport.Send(ReadOnlySpan<byte> datagram, IPEndPoint destination)
    {
        try
        {
            _socket?.SendTo(datagram, SocketFlags.None, destination);
        }
        catch (SocketException ex)
        {
            _logger.LogDebug("SIP send to {Destination} failed: {Error}", destination, ex.SocketErrorCode);
        }
        catch (ObjectDisposedException)
        {
            // Shutting down.
        }
    }

    /// <summary>Runs <paramref name="action"/> on the core loop (never lost: the queue is separate from the datagram queue).</summary>
    private void Dispatch(Action action) => _dispatched.Enqueue(action);

    private async Task ReceiveLoopAsync(Socket socket, CancellationToken cancellationToken)
    {
        // 64 KiB holds any UDP datagram, so an oversize one is seen whole (and rejected) rather than truncated.
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(socket.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!cancellationToken.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, any, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                _logger.LogDebug("SIP receive error {Error}", ex.SocketErrorCode);
                continue;
            }

            var length = received.ReceivedBytes;
            var copy = ArrayPool<byte>.Shared.Rent(Math.Max(length, 1));
            buffer.AsSpan(0, length).CopyTo(copy);
            if (!_work.Writer.TryWrite(new Work(copy, length, (IPEndPoint)received.RemoteEndPoint)))
            {
                ArrayPool<byte>.Shared.Return(copy);
                Interlocked.Increment(ref Counters.OverloadDropsCount);
                _metrics.Error("sip", "overload");
            }
        }
    }

    private async Task TickLoopAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(TickMs));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                _work.Writer.TryWrite(default); // a tick; if the queue is full the core is busy and will tick soon anyway
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    private async Task CoreLoopAsync(CancellationToken cancellationToken)
    {
        var agent = _agent!;
        try
        {
            await foreach (var work in _work.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var now = _clock.ElapsedMilliseconds;
                try
                {
                    while (_dispatched.TryDequeue(out var action))
                    {
                        action();
                    }

                    if (work.Buffer is { } datagram)
                    {
                        agent.HandleDatagram(datagram.AsSpan(0, work.Length), work.Source!, now);
                    }
                    else
                    {
                        agent.OnTick(now);
                    }
                }
                catch (Exception ex) when (ex is not OutOfMemoryException)
                {
                    // A bug triggered by one message must not stop the user agent for every other caller.
                    Interlocked.Increment(ref Counters.DroppedCount);
                    _logger.LogError(ex, "SIP core failed on a {Kind}", work.Buffer is null ? "timer tick" : "datagram");
                }
                finally
                {
                    if (work.Buffer is { } rented)
                    {
                        ArrayPool<byte>.Shared.Return(rented);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }

        while (_dispatched.TryDequeue(out var action))
        {
            action();
        }
    }

    /// <summary>One item for the core loop: a datagram (pooled buffer) or, with no buffer, a timer tick.</summary>
    private readonly record struct Work(byte[]? Buffer, int Length, IPEndPoint? Source);
}
