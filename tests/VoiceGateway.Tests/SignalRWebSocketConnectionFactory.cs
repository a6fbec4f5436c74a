using System.IO.Pipelines;
using System.Net;
using System.Net.WebSockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using VoiceAgent.Gateway.Protocol;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// A WebSocket transport for <see cref="HubConnection"/> (SignalR.Client.Core). The usual transport package
/// (Http.Connections.Client) is not on the package feed, so this one connects straight to the hub's WebSocket
/// (as the official client does with SkipNegotiation) and moves bytes between the socket and the connection's pipes;
/// everything above it — handshake, invocations, both stream directions — is the real client library.
/// </summary>
internal sealed class SignalRWebSocketConnectionFactory(Action<ClientWebSocketOptions>? configure = null) : IConnectionFactory
{
    /// <summary>A hub connection to <paramref name="hubUri"/> (ws://…/hubs/voice) using the protocol's snake_case JSON.</summary>
    public static HubConnection Create(Uri hubUri, Action<ClientWebSocketOptions>? configure = null)
    {
        var builder = new HubConnectionBuilder();
        builder.Services.AddSingleton<IConnectionFactory>(new SignalRWebSocketConnectionFactory(configure));
        builder.Services.AddSingleton<EndPoint>(new UriEndPoint(hubUri));
        builder.AddJsonProtocol(json => ProtocolJson.Configure(json.PayloadSerializerOptions));
        return builder.Build();
    }

    public async ValueTask<ConnectionContext> ConnectAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var socket = new ClientWebSocket();
        configure?.Invoke(socket.Options);
        await socket.ConnectAsync(((UriEndPoint)endpoint).Uri, cancellationToken);
        return new WebSocketConnection(socket);
    }

    private sealed class WebSocketConnection : ConnectionContext
    {
        private readonly ClientWebSocket _socket;
        private readonly CancellationTokenSource _closed = new();
        private readonly Task _receiving;
        private readonly Task _sending;

        public WebSocketConnection(ClientWebSocket socket)
        {
            _socket = socket;
            var fromServer = new Pipe();
            var toServer = new Pipe();
            Transport = new DuplexPipe(fromServer.Reader, toServer.Writer);
            _receiving = Task.Run(() => ReceiveAsync(fromServer.Writer));
            _sending = Task.Run(() => SendAsync(toServer.Reader));
        }

        public override IDuplexPipe Transport { get; set; }

        public override string ConnectionId { get; set; } = Guid.NewGuid().ToString("N");

        public override IFeatureCollection Features { get; } = new FeatureCollection();

        public override IDictionary<object, object?> Items { get; set; } = new Dictionary<object, object?>();

        public override CancellationToken ConnectionClosed
        {
            get => _closed.Token;
            set => throw new NotSupportedException();
        }

        public override void Abort(ConnectionAbortedException abortReason)
        {
            _socket.Abort();
            _closed.Cancel();
        }

        private async Task ReceiveAsync(PipeWriter writer)
        {
            Exception? error = null;
            try
            {
                while (true)
                {
                    var result = await _socket.ReceiveAsync(writer.GetMemory(4096), CancellationToken.None);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }

                    writer.Advance(result.Count);
                    if (result.EndOfMessage && (await writer.FlushAsync()).IsCompleted)
                    {
                        break;
                    }
                }
            }
            catch (WebSocketException ex)
            {
                error = ex;
            }
            finally
            {
                await writer.CompleteAsync(error);
                _closed.Cancel();
            }
        }

        private async Task SendAsync(PipeReader reader)
        {
            try
            {
                while (true)
                {
                    var result = await reader.ReadAsync();
                    foreach (var segment in result.Buffer)
                    {
                        await _socket.SendAsync(segment, WebSocketMessageType.Binary, endOfMessage: true, CancellationToken.None);
                    }

                    reader.AdvanceTo(result.Buffer.End);
                    if (result.IsCompleted)
                    {
                        break;
                    }
                }

                if (_socket.State == WebSocketState.Open)
                {
                    await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                }
            }
            catch (WebSocketException)
            {
                // the server went away
            }
            finally
            {
                await reader.CompleteAsync();
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await Transport.Output.CompleteAsync();
            await Task.WhenAny(Task.WhenAll(_receiving, _sending), Task.Delay(TimeSpan.FromSeconds(5)));
            _socket.Abort();
            _socket.Dispose();
            _closed.Dispose();
            await base.DisposeAsync();
        }
    }

    private sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
}
