using System.Buffers;
using System.Globalization;
using System.Text;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>
/// Serializes a message: start line, headers in order, a Content-Length computed from the body (any stored one is
/// ignored, so a response can never advertise the wrong length), blank line, body.
/// </summary>
public static class SipMessageWriter
{
    public static void Write(SipMessage message, IBufferWriter<byte> output)
    {
        switch (message)
        {
            case SipRequest request:
                Append(output, request.Method);
                Append(output, " ");
                Append(output, request.RequestUri);
                Append(output, " SIP/2.0\r\n");
                break;
            case SipResponse response:
                Append(output, "SIP/2.0 ");
                Append(output, response.StatusCode.ToString(CultureInfo.InvariantCulture));
                Append(output, " ");
                Append(output, response.ReasonPhrase);
                Append(output, "\r\n");
                break;
        }

        foreach (var header in message.Headers.Items)
        {
            if (string.Equals(header.Name, SipHeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            Append(output, header.Name);
            Append(output, ": ");
            Append(output, header.Value);
            Append(output, "\r\n");
        }

        Append(output, "Content-Length: ");
        Append(output, message.Body.Length.ToString(CultureInfo.InvariantCulture));
        Append(output, "\r\n\r\n");
        output.Write(message.Body.Span);
    }

    /// <summary>The message as a new array (messages are small and sent a handful of times at most).</summary>
    public static byte[] ToBytes(SipMessage message)
    {
        var buffer = new ArrayBufferWriter<byte>(512 + message.Body.Length);
        Write(message, buffer);
        return buffer.WrittenSpan.ToArray();
    }

    private static void Append(IBufferWriter<byte> output, string text)
    {
        var span = output.GetSpan(Encoding.UTF8.GetMaxByteCount(text.Length));
        var written = Encoding.UTF8.GetBytes(text, span);
        output.Advance(written);
    }
}
