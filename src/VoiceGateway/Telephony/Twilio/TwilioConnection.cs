using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using VoiceAgent.Core.Audio;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;
using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Telephony.Twilio;

/// <summary>
/// One Media Streams connection. Inbound: connected, start (opens the engine session, 8 kHz mu-law), media (base64
/// mu-law → PCM → session), dtmf (→ session DTMF events), mark (Twilio's echo: how much of the reply has played,
/// reported to the session for barge-in accounting), stop (ends the call). Outbound: reply audio as 20 ms mu-law
/// media messages paced at real time plus <see cref="TwilioOptions.SendLeadMs"/>, a mark every
/// <see cref="TwilioOptions.MarkIntervalMs"/> of reply and at each pause, and clear when the caller barges in.
/// A reply that asks to transfer or hang up (docs/telephony.md, "Call actions") ends the stream once it has played:
/// Twilio then runs the TwiML after <c>&lt;Connect&gt;</c>, and the call record's end reason says which action it was.
/// A protocol violation closes the socket with a status and a one-sentence description.
/// </summary>
public sealed class TwilioConnection : IDisposable
{
    private const int MaxMediaBytes = 8000; // one second of mu-law per message is far beyond Twilio's 20 ms chunks

    private readonly WebSocket _socket;
    private readonly TelephonyOptions _options;
    private readonly GatewayOptions _gateway;
    private readonly VoiceAgentEngine _engine;
    private readonly CallRegistry _registry;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly byte[] _mulaw = new byte[MaxMediaBytes];
    private readonly short[] _pcm = new short[MaxMediaBytes];
    private readonly long _openedAt = Stopwatch.GetTimestamp();
    private readonly ReplyActionTracker? _actions;
    private volatile string? _actionEndReason;
    private bool _authorized;
    private string _streamSid = "";
    private CallRecord? _record;
    private EngineCallBridge? _bridge;
    private int _clearPending;

    public TwilioConnection(
        WebSocket socket,
        TelephonyOptions options,
        GatewayOptions gateway,
        VoiceAgentEngine engine,
        CallRegistry registry,
        GatewayMetrics metrics,
        CallActionPolicy callActions,
        ILogger logger,
        bool authorized)
    {
        _actions = callActions.IsEnabled ? new ReplyActionTracker(callActions, options.Twilio.SendLeadMs) : null;
        _socket = socket;
        _options = options;
        _gateway = gateway;
        _engine = engine;
        _registry = registry;
        _metrics = metrics;
        _logger = logger;
        _authorized = authorized;
    }

    public async Task RunAsync(CancellationToken aborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var buffer = ArrayPool<byte>.Shared.Rent(_gateway.MaxMessageBytes);
        Task pump = Task.CompletedTask;
        Task events = Task.CompletedTask;
        var endReason = "stream closed by the client";
        try
        {
            while (true)
            {
                var (length, closed) = await ReceiveMessageAsync(buffer, stop.Token).ConfigureAwait(false);
                if (closed)
                {
                    break;
                }

                var message = TwilioMessages.Parse(buffer.AsSpan(0, length));
                if (message.Event == TwilioEvent.Stop)
                {
                    endReason = "stop";
                    await CloseAsync(WebSocketCloseStatus.NormalClosure, "stream stopped", CancellationToken.None).ConfigureAwait(false);
                    break;
                }

                if (Handle(message) && _bridge is { } bridge)
                {
                    pump = Task.Run(() => PumpAsync(bridge, stop.Token), CancellationToken.None);
                    events = bridge.RunEventsAsync(OnSessionEvent, stop.Token);
                }
            }
        }
        catch (TwilioProtocolException ex)
        {
            endReason = ex.Message;
            _metrics.Error(TwilioMediaStreamHandler.Transport, "protocol");
            _logger.LogInformation("Twilio stream {Stream}: protocol error: {Error}", _streamSid, ex.Message);
            await CloseAsync(ex.Message.StartsWith("invalid JSON", StringComparison.Ordinal) ? WebSocketCloseStatus.InvalidPayloadData : WebSocketCloseStatus.PolicyViolation, ex.Message, CancellationToken.None).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
        {
            endReason = $"nothing received for {_gateway.IdleTimeoutSeconds} s";
            await CloseAsync(WebSocketCloseStatus.PolicyViolation, endReason, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
            endReason = "connection lost";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await Task.WhenAll(pump, events).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
            {
                // Tearing down.
            }

            _bridge?.Dispose();
            if (_record is { } record)
            {
                record.End(_actionEndReason ?? endReason);
                _registry.Ended(record);
            }
        }
    }

    public void Dispose() => _sendLock.Dispose();

    /// <summary>Handles one message; returns true when it was the start that opened the session.</summary>
    private bool Handle(TwilioInbound message)
    {
        switch (message.Event)
        {
            case TwilioEvent.Start:
                Start(message);
                return true;
            case TwilioEvent.Media:
                var bridge = RequireStarted("media");
                if (message.Track is "outbound")
                {
                    return false; // our own audio echoed on a both-tracks stream: not the caller
                }

                var count = TwilioMessages.DecodePayload(message.Payload!, _mulaw);
                G711.MuLawDecode(_mulaw.AsSpan(0, count), _pcm.AsSpan(0, count));
                bridge.PushCaller(_pcm.AsSpan(0, count));
                _record!.PacketIn();
                return false;
            case TwilioEvent.Dtmf:
                var session = RequireStarted("dtmf");
                if (message.Digit is not { Length: 1 } digit || Rtp.DtmfEventDecoder.ToEventCode(digit[0]) < 0)
                {
                    throw new TwilioProtocolException($"dtmf.digit must be one of 0-9 * # A-D, got '{message.Digit}'");
                }

                session.PushDtmf(char.ToUpperInvariant(digit[0]));
                return false;
            case TwilioEvent.Mark:
                OnMarkPlayed(message.MarkName);
                return false;
            default:
                return false; // connected, and events this version does not know
        }
    }

    private void Start(TwilioInbound start)
    {
        if (_bridge is not null)
        {
            throw new TwilioProtocolException("a second start message on one stream");
        }

        if (!_authorized)
        {
            if (_gateway.AuthToken is { } expected && start.CustomParameters.TryGetValue("token", out var token)
                && TwilioMediaStreamHandler.TokenMatches(expected, token))
            {
                _authorized = true;
            }
            else
            {
                _metrics.SessionRejected(TwilioMediaStreamHandler.Transport, "auth");
                throw new TwilioProtocolException("unauthorized: pass the access token as the custom parameter 'token'");
            }
        }

        if ((start.Encoding is { } encoding && !encoding.Equals("audio/x-mulaw", StringComparison.OrdinalIgnoreCase))
            || start.SampleRate is { } rate && rate != 8000 || start.Channels is { } channels && channels != 1)
        {
            throw new TwilioProtocolException($"unsupported media format {start.Encoding}/{start.SampleRate}/{start.Channels}: Media Streams audio is audio/x-mulaw, 8000 Hz, mono");
        }

        _streamSid = start.StreamSid ?? throw new TwilioProtocolException("start.streamSid is missing");
        _record = new CallRecord(_streamSid, TwilioMediaStreamHandler.Transport, start.CallSid ?? "", "");
        _registry.Started(_record);
        _bridge = EngineCallBridge.Open(_engine, _options, _record, _registry, _metrics, TwilioMediaStreamHandler.Transport, _logger);
        _record.Codec = "PCMU";
        _record.State = "answered";
        _record.SetupMs = Stopwatch.GetElapsedTime(_openedAt).TotalMilliseconds;
        _logger.LogInformation("Twilio stream {Stream} started (call {Call})", _streamSid, start.CallSid);
    }

    private EngineCallBridge RequireStarted(string what) =>
        _bridge ?? throw new TwilioProtocolException($"{what} before start");

    private void OnSessionEvent(SessionEvent e)
    {
        _actions?.OnEvent(e);
        if (e.Kind == SessionEventKind.BargeIn)
        {
            Interlocked.Exchange(ref _clearPending, 1); // the pump sends clear before any further media
        }
    }

    /// <summary>Our marks are "r{turn}:{ms}": that much of the turn's reply has played at the caller.</summary>
    private void OnMarkPlayed(string? name)
    {
        if (_bridge is not { } bridge || name is null || !name.StartsWith('r'))
        {
            return;
        }

        var colon = name.IndexOf(':', StringComparison.Ordinal);
        if (colon > 1
            && int.TryParse(name.AsSpan(1, colon - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var turn)
            && int.TryParse(name.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            bridge.Session.ReportPlayback(turn, ms);
        }
    }

    private async Task PumpAsync(EngineCallBridge bridge, CancellationToken cancellationToken)
    {
        var frame = new float[EngineCallBridge.FrameSamples];
        var mulaw = new byte[EngineCallBridge.FrameSamples];
        var output = new ArrayBufferWriter<byte>(512);
        var clock = Stopwatch.StartNew();
        long anchor = -1;      // wall time (ms) the current run of audio started
        long sentMs = 0;       // audio sent since the anchor
        var turn = 0;
        long turnMs = 0;       // audio of the current turn sent
        long markedMs = 0;
        var unmarked = false;
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(EngineCallBridge.FrameMs));
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
            {
                if (Interlocked.Exchange(ref _clearPending, 0) == 1)
                {
                    output.ResetWrittenCount();
                    TwilioMessages.WriteClear(output, _streamSid);
                    await SendAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    anchor = -1;
                    unmarked = false;
                }

                var now = clock.ElapsedMilliseconds;
                var drained = false; // no reply audio was waiting (a tick that sends nothing because of the lead is not one)
                while (anchor < 0 || sentMs < now - anchor + _options.Twilio.SendLeadMs)
                {
                    if (!bridge.TryReadReply(frame, out var frameTurn))
                    {
                        drained = true;
                        anchor = -1; // idle: the next reply starts a new run with a fresh lead
                        if (unmarked)
                        {
                            await SendMarkAsync(output, turn, turnMs, cancellationToken).ConfigureAwait(false);
                            markedMs = turnMs;
                            unmarked = false;
                        }

                        break;
                    }

                    if (anchor < 0)
                    {
                        anchor = now;
                        sentMs = 0;
                    }

                    if (frameTurn != turn)
                    {
                        turn = frameTurn;
                        turnMs = 0;
                        markedMs = 0;
                    }

                    G711.MuLawEncode(frame, mulaw);
                    output.ResetWrittenCount();
                    TwilioMessages.WriteMedia(output, _streamSid, mulaw);
                    await SendAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
                    _record!.PacketOut();
                    sentMs += EngineCallBridge.FrameMs;
                    turnMs += EngineCallBridge.FrameMs;
                    unmarked = true;
                    if (turnMs - markedMs >= _options.Twilio.MarkIntervalMs)
                    {
                        await SendMarkAsync(output, turn, turnMs, cancellationToken).ConfigureAwait(false);
                        markedMs = turnMs;
                        unmarked = false;
                    }
                }

                if (_actions?.Poll(replyAudioSent: !drained, now, out var actionTurn) is { } action)
                {
                    await EndStreamForActionAsync(action, actionTurn, cancellationToken).ConfigureAwait(false);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The stream ended.
        }
        catch (WebSocketException)
        {
            // The peer went away; the receive loop ends the call.
        }
    }

    /// <summary>
    /// Ends the stream because the reply asked to: Twilio goes on with the TwiML after <c>&lt;Connect&gt;</c> (a
    /// <c>&lt;Dial&gt;</c> for a transfer, nothing for a hang-up), and the call record keeps the reason for the host's
    /// <c>action</c> callback to look up.
    /// </summary>
    private async Task EndStreamForActionAsync(CallAction action, int turn, CancellationToken cancellationToken)
    {
        var reason = action.EndReason(turn);
        _actionEndReason = reason;
        _metrics.CallAction(TwilioMediaStreamHandler.Transport, action.Name);
        _logger.LogInformation("Twilio stream {Stream}: {Reason}; closing the stream", _streamSid, reason);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // Close output only: the receive loop sees Twilio's answering close frame and ends the call as usual.
            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, reason.Length > 120 ? reason[..120] : reason, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    private async Task SendMarkAsync(ArrayBufferWriter<byte> output, int turn, long ms, CancellationToken cancellationToken)
    {
        output.ResetWrittenCount();
        TwilioMessages.WriteMark(output, _streamSid, $"r{turn.ToString(CultureInfo.InvariantCulture)}:{ms.ToString(CultureInfo.InvariantCulture)}");
        await SendAsync(output.WrittenMemory, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken)
    {
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _socket.SendAsync(message, WebSocketMessageType.Text, endOfMessage: true, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Reads one whole text message into <paramref name="buffer"/>; closes with 1009/1003 on oversize or binary frames.</summary>
    private async Task<(int Length, bool Closed)> ReceiveMessageAsync(byte[] buffer, CancellationToken cancellationToken)
    {
        using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        idle.CancelAfter(TimeSpan.FromSeconds(_gateway.IdleTimeoutSeconds));
        var length = 0;
        while (true)
        {
            if (length == _gateway.MaxMessageBytes)
            {
                await CloseAsync(WebSocketCloseStatus.MessageTooBig, $"messages are limited to {_gateway.MaxMessageBytes} bytes", CancellationToken.None).ConfigureAwait(false);
                return (0, true);
            }

            var result = await _socket.ReceiveAsync(buffer.AsMemory(length, _gateway.MaxMessageBytes - length), idle.Token).ConfigureAwait(false);
            if (result.MessageType == WebSocketMessageType.Close)
            {
                await CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None).ConfigureAwait(false);
                return (0, true);
            }

            if (result.MessageType == WebSocketMessageType.Binary)
            {
                await CloseAsync(WebSocketCloseStatus.InvalidMessageType, "Media Streams messages are JSON text frames", CancellationToken.None).ConfigureAwait(false);
                return (0, true);
            }

            length += result.Count;
            if (result.EndOfMessage)
            {
                return (length, false);
            }
        }
    }

    private async Task CloseAsync(WebSocketCloseStatus status, string description, CancellationToken cancellationToken)
    {
        if (_socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived))
        {
            return;
        }

        // WebSocket close reasons are limited to 123 bytes; a peer that never answers the close gets 2 s.
        var reason = description.Length > 120 ? description[..120] : description;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            await _sendLock.WaitAsync(timeout.Token).ConfigureAwait(false);
            try
            {
                await _socket.CloseAsync(status, reason, timeout.Token).ConfigureAwait(false);
            }
            finally
            {
                _sendLock.Release();
            }
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException)
        {
            // Already gone.
        }
    }
}
