using System.Text.Json;

namespace VoiceAgent.Gateway.Protocol;

/// <summary>What a client's JSON text message asks for.</summary>
public enum ClientMessageKind
{
    Hello,
    Commit,
    Cancel,
    Playback,
    Dtmf,
}

/// <summary>One parsed client → server control message (docs/protocol.md).</summary>
public sealed record ClientMessage(ClientMessageKind Kind)
{
    public VoiceHello? Hello { get; init; }

    public int Turn { get; init; }

    public double PlayedMs { get; init; }

    public char Digit { get; init; }

    /// <summary>Parses one text message; on failure returns null and the error event to send (never throws).</summary>
    public static ClientMessage? Parse(ReadOnlySpan<byte> utf8, out ServerEvent? error)
    {
        error = null;
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = 8 });
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            error = ServerEvent.Failure(ErrorCodes.InvalidJson, $"The message is not valid JSON ({ex.Message.Split(". ")[0]}).", fatal: false);
            return null;
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("type", out var typeElement) || typeElement.ValueKind != JsonValueKind.String)
            {
                error = ServerEvent.Failure(ErrorCodes.BadMessage, "A message must be a JSON object with a string field 'type'.", fatal: false);
                return null;
            }

            var type = typeElement.GetString();
            try
            {
                switch (type)
                {
                    case MessageTypes.Hello:
                        if (!root.TryGetProperty("sample_rate", out var rate) || rate.ValueKind != JsonValueKind.Number)
                        {
                            error = ServerEvent.Failure(ErrorCodes.BadMessage, "hello needs a numeric 'sample_rate'.", fatal: false);
                            return null;
                        }

                        return new ClientMessage(ClientMessageKind.Hello) { Hello = root.Deserialize<VoiceHello>(ProtocolJson.Options) };
                    case MessageTypes.Commit:
                        return new ClientMessage(ClientMessageKind.Commit);
                    case MessageTypes.Cancel:
                        return new ClientMessage(ClientMessageKind.Cancel);
                    case MessageTypes.Playback:
                        if (!root.TryGetProperty("turn", out var turn) || !turn.TryGetInt32(out var turnId)
                            || !root.TryGetProperty("played_ms", out var played) || !played.TryGetDouble(out var playedMs) || playedMs < 0)
                        {
                            error = ServerEvent.Failure(ErrorCodes.BadMessage, "playback needs an integer 'turn' and a non-negative 'played_ms'.", fatal: false);
                            return null;
                        }

                        return new ClientMessage(ClientMessageKind.Playback) { Turn = turnId, PlayedMs = playedMs };
                    case MessageTypes.Dtmf:
                        if (!root.TryGetProperty("digit", out var digit) || digit.GetString() is not { Length: 1 } text || !"0123456789*#ABCD".Contains(text[0], StringComparison.Ordinal))
                        {
                            error = ServerEvent.Failure(ErrorCodes.BadMessage, "dtmf needs 'digit': one of 0-9, *, #, A-D.", fatal: false);
                            return null;
                        }

                        return new ClientMessage(ClientMessageKind.Dtmf) { Digit = text[0] };
                    default:
                        error = ServerEvent.Failure(ErrorCodes.UnknownMessage, $"Unknown message type '{Truncate(type)}'; expected hello, commit, cancel, playback or dtmf.", fatal: false);
                        return null;
                }
            }
            catch (Exception ex) when (ex is JsonException or InvalidOperationException or FormatException)
            {
                error = ServerEvent.Failure(ErrorCodes.BadMessage, $"'{type}' has a field of the wrong type ({ex.Message.Split(". ")[0]}).", fatal: false);
                return null;
            }
        }
    }

    // Echoing attacker-sized text back would let one message amplify itself.
    private static string Truncate(string? text) => text is null ? "" : text.Length <= 40 ? text : text[..40] + "…";
}
