using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Protocol;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Hubs;

/// <summary>
/// <c>/hubs/voice</c>: the protocol of docs/protocol.md over SignalR. <see cref="Converse"/> takes the hello and a
/// client-to-server stream of PCM16 frames and returns the server-to-client stream of the same event objects the
/// WebSocket sends (reply audio as <c>audio</c> items). Commit, Cancel, ReportPlayback and Dtmf are plain invocations
/// on the same connection. Hub instances are per call, so the conversation lives in the connection's items and in
/// the background task that feeds the returned stream.
/// </summary>
public sealed class VoiceHub(
    VoiceAgentEngine engine,
    GatewayMetrics metrics,
    SessionAdmission admission,
    IOptions<GatewayOptions> options,
    CallActionPolicy callActions,
    ILogger<VoiceHub> logger) : Hub
{
    public const string Path = "/hubs/voice";
    public const string Transport = "signalr";

    private const string ConversationKey = "voice-conversation";

    /// <summary>Starts the conversation: caller frames in, events and reply audio out, until the client ends the stream.</summary>
    public ChannelReader<ServerEvent> Converse(VoiceHello hello, ChannelReader<byte[]> audio, CancellationToken cancellationToken)
    {
        if (Context.Items.ContainsKey(ConversationKey))
        {
            throw new HubException($"{ErrorCodes.AlreadyStarted}: this connection already has a conversation.");
        }

        if (!admission.TryAdmit(Transport, out var lease))
        {
            throw new HubException($"{ErrorCodes.ServerFull}: the server is at its limit of {admission.Capacity} concurrent sessions; try again later.");
        }

        var settings = options.Value;
        var conversation = new VoiceConversation(engine, metrics, settings, callActions, lease, logger);
        if (conversation.Start(hello) is { } failed)
        {
            metrics.Error(Transport, failed.Error.Code ?? "hello");
            _ = conversation.DisposeAsync().AsTask();
            throw new HubException($"{failed.Error.Code}: {failed.Error.Message}");
        }

        Context.Items[ConversationKey] = conversation;
        var output = Channel.CreateBounded<ServerEvent>(new BoundedChannelOptions(16) { SingleReader = true, SingleWriter = true });
        var connection = Context;
        _ = Task.Run(() => RunAsync(conversation, audio, output.Writer, connection, settings, cancellationToken), CancellationToken.None);
        return output.Reader;
    }

    /// <summary>Ends the caller's turn now (push-to-talk).</summary>
    public void Commit() => Apply(new ClientMessage(ClientMessageKind.Commit));

    /// <summary>Stops the current reply.</summary>
    public void Cancel() => Apply(new ClientMessage(ClientMessageKind.Cancel));

    /// <summary>Reports how much of <paramref name="turn"/>'s reply the client has played.</summary>
    public void ReportPlayback(int turn, double playedMs) => Apply(new ClientMessage(ClientMessageKind.Playback) { Turn = turn, PlayedMs = Math.Max(0, playedMs) });

    /// <summary>A keypad digit.</summary>
    public void Dtmf(string digit)
    {
        if (digit is not { Length: 1 } || !"0123456789*#ABCD".Contains(digit[0], StringComparison.Ordinal))
        {
            throw new HubException($"{ErrorCodes.BadMessage}: a digit is one of 0-9, *, #, A-D.");
        }

        Apply(new ClientMessage(ClientMessageKind.Dtmf) { Digit = digit[0] });
    }

    private void Apply(ClientMessage message)
    {
        if (Context.Items.TryGetValue(ConversationKey, out var value) && value is VoiceConversation conversation)
        {
            if (conversation.Handle(message) is { } error)
            {
                throw new HubException($"{error.Code}: {error.Message}");
            }

            return;
        }

        throw new HubException($"{ErrorCodes.NotStarted}: call Converse first.");
    }

    private static async Task RunAsync(VoiceConversation conversation, ChannelReader<byte[]> audio, ChannelWriter<ServerEvent> output,
        HubCallerContext connection, GatewayOptions settings, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var upload = Task.Run(() => UploadAsync(conversation, audio, stop.Token), CancellationToken.None);
        var watchdog = Task.Run(() => WatchdogAsync(conversation, settings, stop.Token), CancellationToken.None);
        try
        {
            while (true)
            {
                var item = await conversation.Outgoing.DequeueAsync(stop.Token).ConfigureAwait(false);
                try
                {
                    if (item.IsClose)
                    {
                        break;
                    }

                    // SignalR serializes later, on its own schedule: audio needs its own array, not the pooled one.
                    var message = item.IsAudio
                        ? new ServerEvent { Type = MessageTypes.Audio, Turn = item.Turn, Audio = item.AudioBytes.ToArray() }
                        : item.Event!;
                    await output.WriteAsync(message, stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    SendQueue.Return(item);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The client ended the stream or disconnected.
        }
        catch (ChannelClosedException)
        {
            // SignalR stopped reading the stream.
        }
        finally
        {
            output.TryComplete();
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(upload, watchdog).ConfigureAwait(false);
            connection.Items.Remove(ConversationKey);
            await conversation.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static async Task UploadAsync(VoiceConversation conversation, ChannelReader<byte[]> audio, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var frame in audio.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (conversation.PushAudio(frame) is { } error)
                {
                    conversation.Fail(error, CloseCodes.ProtocolError);
                    if (error.Fatal == true)
                    {
                        return;
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The conversation ended.
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A broken upload (e.g. an item that is not base64) ends this conversation only.
            conversation.Fail(ServerEvent.Failure(ErrorCodes.BadFrame, $"The audio stream failed: {ex.Message}", fatal: true), CloseCodes.ProtocolError);
        }
    }

    private static async Task WatchdogAsync(VoiceConversation conversation, GatewayOptions settings, CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromSeconds(settings.IdleTimeoutSeconds);
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Math.Clamp(idle.TotalMilliseconds / 4, 100, 1000)));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (conversation.IdleFor > idle)
                {
                    conversation.Fail(ServerEvent.Failure(ErrorCodes.IdleTimeout,
                        $"Nothing was received for {settings.IdleTimeoutSeconds} s; the session is closed.", fatal: true), CloseCodes.IdleTimeout);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The conversation ended.
        }
    }
}
