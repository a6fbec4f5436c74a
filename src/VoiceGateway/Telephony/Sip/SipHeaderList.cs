namespace VoiceAgent.Gateway.Telephony.Sip;

/// <summary>One header line as received or to be sent (name in canonical spelling).</summary>
public readonly record struct SipHeader(string Name, string Value);

/// <summary>
/// The headers of a message in wire order. Order matters for Via and Record-Route (RFC 3261 §7.3.1), so this is a
/// list, not a dictionary; messages carry a dozen headers, so linear lookups are cheaper than hashing.
/// </summary>
public sealed class SipHeaderList
{
    private readonly List<SipHeader> _items = new(16);

    public int Count => _items.Count;

    public IReadOnlyList<SipHeader> Items => _items;

    public void Add(string name, string value) => _items.Add(new SipHeader(name, value));

    /// <summary>Replaces every header of this name by one line (or adds it).</summary>
    public void Set(string name, string value)
    {
        RemoveAll(name);
        Add(name, value);
    }

    public void RemoveAll(string name) => _items.RemoveAll(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The first line of this header, or null.</summary>
    public string? Get(string name)
    {
        foreach (var header in _items)
        {
            if (string.Equals(header.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                return header.Value;
            }
        }

        return null;
    }

    public bool Contains(string name) => Get(name) is not null;

    /// <summary>Every line of this header, in order (list headers are not split).</summary>
    public IEnumerable<string> GetLines(string name)
    {
        foreach (var header in _items)
        {
            if (string.Equals(header.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                yield return header.Value;
            }
        }
    }

    /// <summary>Every entry of a list header (all lines, each split at top-level commas), in order.</summary>
    public List<string> GetEntries(string name)
    {
        var entries = new List<string>();
        foreach (var line in GetLines(name))
        {
            SipText.SplitList(line, entries);
        }

        return entries;
    }

    /// <summary>Copies every line of <paramref name="name"/> from <paramref name="source"/>, in order.</summary>
    public void CopyFrom(SipHeaderList source, string name)
    {
        foreach (var line in source.GetLines(name))
        {
            Add(name, line);
        }
    }
}
