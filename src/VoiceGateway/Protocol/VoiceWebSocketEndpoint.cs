using System.Buffers;
using System.Diagnostics;
using System.Net.WebSockets;
using System.Text.Json;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Protocol;

/// <summary>
/// <c>/v1/voice</c>: the WebSocket transport of docs/protocol.md. One receive loop (client JSON and PCM frames, with
/// the message-size limit), one send loop (the conversation's bounded queue, the only writer to the socket), and a
/// watchdog (idle timeout, stuck sends). Any failure ends this connection only.
/// </summary>
internal static class VoiceWebSocketEndpoint
{
    public const string Path = "/v1/voice";
    public const string Transport = "websocket";

    private static readonly TimeSpan CloseHandshakeTimeout = TimeSpan.FromSeconds(5);

    public static IEndpointConventionBuilder MapVoiceWebSocket(this IEndpointRouteBuilder endpoints)
    {
        endpoints.ServiceProvider.GetRequiredService<GatewayMetrics>().RegisterTransport(Transport);
        return endpoints.Map(Path, HandleAsync);
    }

    private static async Task HandleAsync(HttpContext context, VoiceAgentEngine engine, GatewayMetrics metrics, SessionAdmission admission,
        IOptions<GatewayOptions> gatewayOptions, CallActionPolicy callActions, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            context.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            await context.Response.WriteAsync("This endpoint speaks WebSocket only (docs/protocol.md).", context.RequestAborted).ConfigureAwait(false);
            return;
        }

        var options = gatewayOptions.Value;
        var logger = loggers.CreateLogger("VoiceAgent.Gateway.WebSocket");
        if (options.SocketSendBufferBytes > 0 && context.Features.Get<IConnectionSocketFeature>()?.Socket is { } tcp)
        {
            // Audio in the kernel's buffer can no longer be dropped or recalled: keep that backlog small and let the
            // send queue (drop-oldest, counted) hold the rest.
            tcp.SendBufferSize = options.SocketSendBufferBytes;
        }

        using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = TimeSpan.FromSeconds(15) }).ConfigureAwait(false);

        // The cap is checked after the upgrade so a browser (which cannot read an HTTP status) gets a readable reason.
        if (!admission.TryAdmit(Transport, out var lease))
        {
            logger.LogWarning("Rejected a WebSocket session: {Active} of {Capacity} sessions in use", admission.Active, admission.Capacity);
            await RejectAsync(socket, ServerEvent.Failure(ErrorCodes.ServerFull,
                $"The server is at its limit of {admission.Capacity} concurrent sessions; try again later.", fatal: true), CloseCodes.ServerFull, context.RequestAborted).ConfigureAwait(false);
            return;
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, lifetime.ApplicationStopping);
        var conversation = new VoiceConversation(engine, metrics, options, callActions, lease, logger);
        await using (conversation.ConfigureAwait(false))
        {
            var sendState = new SendState();
            var sender = Task.Run(() => SendLoopAsync(socket, conversation, sendState, stop.Token));
            var watchdog = Task.Run(() => WatchdogAsync(socket, conversation, sendState, options, stop.Token));
            using var stopping = lifetime.ApplicationStopping.Register(() => conversation.Outgoing.Close((int)WebSocketCloseStatus.EndpointUnavailable, "server stopping"));
            try
            {
                await ReceiveLoopAsync(socket, conversation, options.MaxMessageBytes, stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
            {
                // The client vanished (or the server is stopping): nothing to tell anyone.
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                logger.LogError(ex, "WebSocket session failed");
                metrics.Error(Transport, ErrorCodes.SessionFailed);
            }

            // The receive side is done: let the sender finish its close, then stop everything.
            conversation.Outgoing.Close((int)WebSocketCloseStatus.NormalClosure, "bye");
            await Task.WhenAny(sender, Task.Delay(CloseHandshakeTimeout, CancellationToken.None)).ConfigureAwait(false);
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(sender.ContinueWith(static _ => { }, TaskScheduler.Default), watchdog.ContinueWith(static _ => { }, TaskScheduler.Default)).ConfigureAwait(false);
            if (socket.State is not (WebSocketState.Closed or WebSocketState.Aborted))
            {
                socket.Abort();
            }
        }
    }

    private static async Task ReceiveLoopAsync(WebSocket socket, VoiceConversation conversation, int maxMessageBytes, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(maxMessageBytes);
        var closing = false;
        try
        {
            while (true)
            {
                var count = 0;
                ValueWebSocketReceiveResult result;
                var tooBig = false;
                do
                {
                    var space = buffer.AsMemory(count, maxMessageBytes - count);
                    if (space.IsEmpty)
                    {
                        // Over the limit: keep reading into the start of the buffer only to find the message's end.
                        tooBig = true;
                        space = buffer.AsMemory(0, maxMessageBytes);
                        count = 0;
                    }

                    result = await socket.ReceiveAsync(space, cancellationToken).ConfigureAwait(false);
                    count += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return; // the client closed (or answered our close)
                }

                if (closing)
                {
                    continue; // we have sent our close; drain until the client's close arrives
                }

                conversation.Touch();
                ServerEvent? error = null;
                var closeCode = 0;
                if (tooBig)
                {
                    error = ServerEvent.Failure(ErrorCodes.MessageTooBig, $"A message exceeded the limit of {maxMessageBytes} bytes.", fatal: true);
                    closeCode = CloseCodes.MessageTooBig;
                }
                else if (result.MessageType == WebSocketMessageType.Binary)
                {
                    error = conversation.PushAudio(buffer.AsSpan(0, count));
                    closeCode = CloseCodes.ProtocolError;
                }
                else if (ClientMessage.Parse(buffer.AsSpan(0, count), out error) is { } message)
                {
                    if (message.Kind == ClientMessageKind.Hello)
                    {
                        if (conversation.Start(message.Hello!) is { } failed)
                        {
                            (error, closeCode) = failed;
                        }
                    }
                    else
                    {
                        error = conversation.Handle(message);
                        closeCode = CloseCodes.ProtocolError;
                    }
                }

                if (error is not null)
                {
                    conversation.Fail(error, closeCode);
                    closing = error.Fatal == true;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task SendLoopAsync(WebSocket socket, VoiceConversation conversation, SendState state, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var item = await conversation.Outgoing.DequeueAsync(cancellationToken).ConfigureAwait(false);
                state.Started = Stopwatch.GetTimestamp();
                try
                {
                    if (item.IsClose)
                    {
                        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                        {
                            await socket.CloseOutputAsync((WebSocketCloseStatus)item.CloseCode, item.CloseReason, cancellationToken).ConfigureAwait(false);
                        }

                        // A client that never answers our close would keep the receive loop (and the session) alive.
                        var waited = Stopwatch.StartNew();
                        while (socket.State == WebSocketState.CloseSent && waited.Elapsed < CloseHandshakeTimeout)
                        {
                            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
                        }

                        if (socket.State == WebSocketState.CloseSent)
                        {
                            socket.Abort();
                        }

                        return;
                    }

                    if (item.IsAudio)
                    {
                        await socket.SendAsync(item.AudioBytes, WebSocketMessageType.Binary, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        var json = JsonSerializer.SerializeToUtf8Bytes(item.Event, ProtocolJson.Options);
                        await socket.SendAsync(json, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
                    }
                }
                finally
                {
                    SendQueue.Return(item);
                    state.Started = 0;
                }
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The connection is gone; the receive loop ends too.
        }
    }

    /// <summary>Closes idle sessions and aborts connections whose client stopped reading (a send stuck for the idle timeout).</summary>
    private static async Task WatchdogAsync(WebSocket socket, VoiceConversation conversation, SendState state, GatewayOptions options, CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromSeconds(options.IdleTimeoutSeconds);
        var tick = TimeSpan.FromMilliseconds(Math.Clamp(idle.TotalMilliseconds / 4, 100, 1000));
        using var timer = new PeriodicTimer(tick);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                var started = state.Started;
                if (started != 0 && Stopwatch.GetElapsedTime(started) > idle)
                {
                    socket.Abort();
                    return;
                }

                if (conversation.IdleFor > idle)
                {
                    conversation.Fail(ServerEvent.Failure(ErrorCodes.IdleTimeout,
                        $"Nothing was received for {options.IdleTimeoutSeconds} s; the session is closed.", fatal: true), CloseCodes.IdleTimeout);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The connection ended.
        }
    }

    private static async Task RejectAsync(WebSocket socket, ServerEvent error, int closeCode, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(CloseHandshakeTimeout);
            await socket.SendAsync(JsonSerializer.SerializeToUtf8Bytes(error, ProtocolJson.Options), WebSocketMessageType.Text, true, timeout.Token).ConfigureAwait(false);
            await socket.CloseAsync((WebSocketCloseStatus)closeCode, error.Code, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or IOException)
        {
            socket.Abort();
        }
    }

    /// <summary>When the send in progress started (Stopwatch ticks; 0: none in progress).</summary>
    private sealed class SendState
    {
        private long _started;

        public long Started
        {
            get => Interlocked.Read(ref _started);
            set => Interlocked.Exchange(ref _started, value);
        }
    }
}
