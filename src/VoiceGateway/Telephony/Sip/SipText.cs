using System.Globalization;

namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>Small lexical helpers shared by the header parsers (RFC 3261 §25 token, quoted-string, list rules).</summary>
internal static class SipText
{
    /// <summary>token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~").</summary>
    public static bool IsToken(ReadOnlySpan<char> text)
    {
        if (text.IsEmpty)
        {
            return false;
        }

        foreach (var c in text)
        {
            if (!IsTokenChar(c))
            {
                return false;
            }
        }

        return true;
    }

    public static bool IsTokenChar(char c) =>
        c is (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9')
            or '-' or '.' or '!' or '%' or '*' or '_' or '+' or '`' or '\'' or '~';

    /// <summary>Splits a list header value at commas that are outside quotes and angle brackets.</summary>
    public static void SplitList(string value, List<string> into)
    {
        var start = 0;
        var quoted = false;
        var angle = 0;
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (quoted)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == '<')
            {
                angle++;
            }
            else if (c == '>' && angle > 0)
            {
                angle--;
            }
            else if (c == ',' && angle == 0)
            {
                AddTrimmed(value, start, i, into);
                start = i + 1;
            }
        }

        AddTrimmed(value, start, value.Length, into);
    }

    private static void AddTrimmed(string value, int start, int end, List<string> into)
    {
        var part = value.AsSpan(start, end - start).Trim();
        if (!part.IsEmpty)
        {
            into.Add(part.ToString());
        }
    }

    /// <summary>
    /// Parses ";name=value;flag" parameters. Returns false on an empty or non-token name. Values may be quoted; the
    /// quotes are kept off the stored value.
    /// </summary>
    public static bool TryParseParameters(ReadOnlySpan<char> text, Dictionary<string, string?> into)
    {
        while (!text.IsEmpty)
        {
            text = text.TrimStart();
            if (text.IsEmpty)
            {
                return true;
            }

            if (text[0] != ';')
            {
                return false;
            }

            text = text[1..];
            var end = IndexOfUnquoted(text, ';');
            var part = (end < 0 ? text : text[..end]).Trim();
            text = end < 0 ? [] : text[end..];
            var eq = part.IndexOf('=');
            var name = (eq < 0 ? part : part[..eq]).Trim();
            if (!IsToken(name))
            {
                return false;
            }

            string? value = null;
            if (eq >= 0)
            {
                var raw = part[(eq + 1)..].Trim();
                if (raw.Length >= 2 && raw[0] == '"' && raw[^1] == '"')
                {
                    raw = raw[1..^1];
                }

                value = raw.ToString();
            }

            into[name.ToString()] = value;
        }

        return true;
    }

    /// <summary>The index of <paramref name="target"/> outside double quotes, or -1.</summary>
    public static int IndexOfUnquoted(ReadOnlySpan<char> text, char target)
    {
        var quoted = false;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '\\')
                {
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
            }
            else if (c == '"')
            {
                quoted = true;
            }
            else if (c == target)
            {
                return i;
            }
        }

        return -1;
    }

    public static bool TryParseUInt(ReadOnlySpan<char> text, out long value) =>
        long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}
