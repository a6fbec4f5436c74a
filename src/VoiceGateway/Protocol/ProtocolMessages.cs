using System.Text.Json;
using System.Text.Json.Serialization;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Gateway.Protocol;

/// <summary>Message types of the voice protocol (docs/protocol.md): the JSON <c>type</c> field.</summary>
public static class MessageTypes
{
    // client → server
    public const string Hello = "hello";
    public const string Commit = "commit";
    public const string Cancel = "cancel";
    public const string Playback = "playback";
    public const string Dtmf = "dtmf";

    // server → client
    public const string Ready = "ready";
    public const string VadStart = "vad_start";
    public const string VadEnd = "vad_end";
    public const string Transcript = "transcript";
    public const string ReplyTextDelta = "reply_text_delta";
    public const string ReplyTextDone = "reply_text_done";
    public const string ReplyAudioStart = "reply_audio_start";
    public const string ReplyAudioEnd = "reply_audio_end";
    public const string ReplyDone = "reply_done";
    public const string BargeIn = "barge_in";
    public const string CallAction = "call_action";
    public const string Latency = "latency";
    public const string Error = "error";

    /// <summary>SignalR only: one reply audio frame (the WebSocket sends these as binary messages).</summary>
    public const string Audio = "audio";
}

/// <summary>Machine-readable error codes of <c>error</c> events.</summary>
public static class ErrorCodes
{
    public const string InvalidJson = "invalid_json";
    public const string UnknownMessage = "unknown_message";
    public const string BadMessage = "bad_message";
    public const string NotStarted = "not_started";
    public const string AlreadyStarted = "already_started";
    public const string UnsupportedSampleRate = "unsupported_sample_rate";
    public const string BadFrame = "bad_frame";
    public const string MessageTooBig = "message_too_big";
    public const string IdleTimeout = "idle_timeout";
    public const string ServerFull = "server_full";
    public const string SessionFailed = "session_failed";
    public const string ClientTooSlow = "client_too_slow";
}

/// <summary>WebSocket close codes the gateway uses (4xxx: the session cannot continue; the number echoes HTTP).</summary>
public static class CloseCodes
{
    public const int ProtocolError = 4400;
    public const int IdleTimeout = 4408;
    public const int ClientTooSlow = 4409;
    public const int MessageTooBig = 4413;
    public const int UnsupportedSampleRate = 4415;
    public const int ServerFull = 4429;
    public const int SessionFailed = 4500;
}

/// <summary>
/// One server → client event. A flat record so it serializes to one small JSON object (snake_case, nulls omitted)
/// on the WebSocket and is the very same stream item on the SignalR hub.
/// </summary>
public sealed record ServerEvent
{
    public required string Type { get; init; }

    public int? Turn { get; init; }

    public string? Text { get; init; }

    public long? TimeMs { get; init; }

    public long? AudioMs { get; init; }

    public long? DeliveredMs { get; init; }

    // call_action
    public string? Action { get; init; }

    public string? Target { get; init; }

    public string? Code { get; init; }

    public string? Message { get; init; }

    public bool? Fatal { get; init; }

    // ready
    public long? SessionId { get; init; }

    public int? SampleRate { get; init; }

    public int? OutputSampleRate { get; init; }

    public int? OutputFrameMs { get; init; }

    public int? MaxMessageBytes { get; init; }

    public bool? BargeIn { get; init; }

    public bool? EchoGuard { get; init; }

    public string? Pack { get; init; }

    // latency (milliseconds; see docs/engine.md for what each measures)
    public double? VadCommitMs { get; init; }

    public string? EndOfTurn { get; init; }

    public double? EncoderTailMs { get; init; }

    public double? FirstTextTokenMs { get; init; }

    public double? FirstAudioTokenMs { get; init; }

    public double? FirstAudioFrameMs { get; init; }

    public double? TotalMs { get; init; }

    /// <summary>SignalR <c>audio</c> items only: PCM16 LE mono at the output rate.</summary>
    public byte[]? Audio { get; init; }

    public static ServerEvent Failure(string code, string message, bool fatal, int? turn = null) =>
        new() { Type = MessageTypes.Error, Code = code, Message = message, Fatal = fatal, Turn = turn };
}

/// <summary>What a client asks for in its hello (also the SignalR <c>Converse</c> argument).</summary>
public sealed record VoiceHello
{
    /// <summary>Rate of the PCM16 frames the client sends (8000, 16000, 22050, 24000, 44100 or 48000).</summary>
    public int SampleRate { get; init; }

    /// <summary>Rate of the reply frames (default: <see cref="SampleRate"/>).</summary>
    public int? OutputSampleRate { get; init; }

    /// <summary>Reply frame duration, 20–80 ms (default 20).</summary>
    public int? OutputFrameMs { get; init; }

    /// <summary>Whether caller speech interrupts a reply (default true).</summary>
    public bool? BargeIn { get; init; }

    /// <summary>Whether a short pause ends the turn when the decoder is sure of its reply (default <c>Gateway:SemanticEndOfTurn:Enabled</c>).</summary>
    public bool? SemanticEndOfTurn { get; init; }

    /// <summary>Whether the server guards barge-in against the agent's own echo (default true; a headset may turn it off).</summary>
    public bool? EchoGuard { get; init; }

    /// <summary>Checks the fields; returns the error event to send (with its close code) or null.</summary>
    public (ServerEvent Error, int CloseCode)? Validate()
    {
        if (!AudioSampleRates.IsSupported(SampleRate))
        {
            return (ServerEvent.Failure(ErrorCodes.UnsupportedSampleRate,
                $"sample_rate {SampleRate} is not supported; use 8000, 16000, 22050, 24000, 44100 or 48000.", fatal: true), CloseCodes.UnsupportedSampleRate);
        }

        if (OutputSampleRate is { } output && !AudioSampleRates.IsSupported(output))
        {
            return (ServerEvent.Failure(ErrorCodes.UnsupportedSampleRate,
                $"output_sample_rate {output} is not supported; use 8000, 16000, 22050, 24000, 44100 or 48000.", fatal: true), CloseCodes.UnsupportedSampleRate);
        }

        if (OutputFrameMs is { } frameMs && frameMs is < FrameLimits.MinMs or > FrameLimits.MaxMs)
        {
            return (ServerEvent.Failure(ErrorCodes.BadMessage,
                $"output_frame_ms must be from {FrameLimits.MinMs} to {FrameLimits.MaxMs}, got {frameMs}.", fatal: true), CloseCodes.ProtocolError);
        }

        return null;
    }
}

/// <summary>Frame duration limits of the protocol (both directions).</summary>
public static class FrameLimits
{
    public const int MinMs = 20;
    public const int MaxMs = 80;
}

/// <summary>JSON settings shared by the WebSocket and the hub, so both carry byte-identical event objects.</summary>
public static class ProtocolJson
{
    public static readonly JsonSerializerOptions Options = Configure(new JsonSerializerOptions());

    /// <summary>snake_case names, nulls omitted, no indentation.</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}
