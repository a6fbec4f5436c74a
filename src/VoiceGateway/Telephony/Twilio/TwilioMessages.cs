using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;

namespace VoiceAgent.Gateway.Telephony.Twilio;

/// <summary>A message that breaks the Media Streams protocol; the text becomes the WebSocket close description.</summary>
public sealed class TwilioProtocolException(string message) : Exception(message);

/// <summary>The inbound events of the Media Streams protocol.</summary>
public enum TwilioEvent
{
    Connected,
    Start,
    Media,
    Dtmf,
    Mark,
    Stop,

    /// <summary>An event name this version does not know (ignored, for forward compatibility).</summary>
    Other,
}

/// <summary>
/// One inbound message (Twilio → us). Only the fields VoiceAgent uses are kept; the media payload stays base64 text
/// until the handler decodes it into its own buffer.
/// </summary>
public sealed record TwilioInbound(TwilioEvent Event)
{
    public string? StreamSid { get; init; }

    public string? CallSid { get; init; }

    public string? Track { get; init; }

    public string? Payload { get; init; }

    public string? Digit { get; init; }

    public string? MarkName { get; init; }

    public string? Encoding { get; init; }

    public int? SampleRate { get; init; }

    public int? Channels { get; init; }

    public IReadOnlyDictionary<string, string> CustomParameters { get; init; } = new Dictionary<string, string>();
}

/// <summary>Parses inbound messages and writes outbound ones (media, mark, clear) exactly as Twilio expects them.</summary>
public static class TwilioMessages
{
    /// <summary>Parses one text frame; throws <see cref="TwilioProtocolException"/> with a clear sentence on bad input.</summary>
    public static TwilioInbound Parse(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 8 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            throw new TwilioProtocolException($"invalid JSON ({ex.Message.Split('.')[0]})");
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("event", out var eventName) || eventName.ValueKind != JsonValueKind.String)
            {
                throw new TwilioProtocolException("a message must be a JSON object with an \"event\" string");
            }

            var kind = eventName.GetString() switch
            {
                "connected" => TwilioEvent.Connected,
                "start" => TwilioEvent.Start,
                "media" => TwilioEvent.Media,
                "dtmf" => TwilioEvent.Dtmf,
                "mark" => TwilioEvent.Mark,
                "stop" => TwilioEvent.Stop,
                _ => TwilioEvent.Other,
            };
            var streamSid = Text(root, "streamSid");
            switch (kind)
            {
                case TwilioEvent.Start:
                    var start = Object(root, "start");
                    var format = start.TryGetProperty("mediaFormat", out var f) && f.ValueKind == JsonValueKind.Object ? f : default;
                    var custom = new Dictionary<string, string>(StringComparer.Ordinal);
                    if (start.TryGetProperty("customParameters", out var parameters) && parameters.ValueKind == JsonValueKind.Object)
                    {
                        foreach (var p in parameters.EnumerateObject())
                        {
                            custom[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
                        }
                    }

                    return new TwilioInbound(kind)
                    {
                        StreamSid = Text(start, "streamSid") ?? streamSid,
                        CallSid = Text(start, "callSid"),
                        Encoding = format.ValueKind == JsonValueKind.Object ? Text(format, "encoding") : null,
                        SampleRate = format.ValueKind == JsonValueKind.Object ? Number(format, "sampleRate") : null,
                        Channels = format.ValueKind == JsonValueKind.Object ? Number(format, "channels") : null,
                        CustomParameters = custom,
                    };
                case TwilioEvent.Media:
                    var media = Object(root, "media");
                    return new TwilioInbound(kind)
                    {
                        StreamSid = streamSid,
                        Track = Text(media, "track"),
                        Payload = Text(media, "payload") ?? throw new TwilioProtocolException("media.payload is missing"),
                    };
                case TwilioEvent.Dtmf:
                    return new TwilioInbound(kind) { StreamSid = streamSid, Digit = Text(Object(root, "dtmf"), "digit") };
                case TwilioEvent.Mark:
                    return new TwilioInbound(kind) { StreamSid = streamSid, MarkName = Text(Object(root, "mark"), "name") };
                default:
                    return new TwilioInbound(kind) { StreamSid = streamSid };
            }
        }
    }

    /// <summary><c>{"event":"media","streamSid":…,"media":{"payload":"&lt;base64 mu-law&gt;"}}</c></summary>
    public static void WriteMedia(IBufferWriter<byte> output, string streamSid, ReadOnlySpan<byte> mulaw)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("event"u8, "media"u8);
        writer.WriteString("streamSid"u8, streamSid);
        writer.WriteStartObject("media"u8);
        writer.WriteBase64String("payload"u8, mulaw);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary><c>{"event":"mark","streamSid":…,"mark":{"name":…}}</c>: Twilio echoes it once the audio before it has played.</summary>
    public static void WriteMark(IBufferWriter<byte> output, string streamSid, string name)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("event"u8, "mark"u8);
        writer.WriteString("streamSid"u8, streamSid);
        writer.WriteStartObject("mark"u8);
        writer.WriteString("name"u8, name);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }

    /// <summary><c>{"event":"clear","streamSid":…}</c>: drop the audio Twilio has buffered (barge-in).</summary>
    public static void WriteClear(IBufferWriter<byte> output, string streamSid)
    {
        using var writer = new Utf8JsonWriter(output);
        writer.WriteStartObject();
        writer.WriteString("event"u8, "clear"u8);
        writer.WriteString("streamSid"u8, streamSid);
        writer.WriteEndObject();
    }

    /// <summary>Decodes a base64 payload into <paramref name="destination"/>; returns the byte count or throws on bad base64.</summary>
    public static int DecodePayload(string payload, Span<byte> destination)
    {
        if (!Convert.TryFromBase64String(payload, destination, out var written))
        {
            throw new TwilioProtocolException(Base64.GetMaxDecodedFromUtf8Length(payload.Length) > destination.Length
                ? $"media.payload is larger than {destination.Length} bytes"
                : "media.payload is not valid base64");
        }

        return written;
    }

    private static JsonElement Object(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Object
            ? value
            : throw new TwilioProtocolException($"\"{name}\" must be an object");

    private static string? Text(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static int? Number(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out var n) ? n : null;
}
