namespace VoiceAgent.Gateway.Cli;

/// <summary>
/// Minimal GNU-style option reader (<c>--name value</c>, <c>--name=value</c>, flags, and options that take several
/// values). It exists so every verb reports unknown or malformed options the same way, in one sentence.
/// </summary>
internal sealed class ArgReader
{
    private readonly Dictionary<string, List<string>> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public ArgReader(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string>? flagOptions = null)
    {
        string? current = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                var name = arg;
                string? inline = null;
                var eq = arg.IndexOf('=', StringComparison.Ordinal);
                if (eq > 0)
                {
                    name = arg[..eq];
                    inline = arg[(eq + 1)..];
                }

                if (flagOptions?.Contains(name) == true && inline is null)
                {
                    _flags.Add(name);
                    current = null;
                    continue;
                }

                if (!valueOptions.Contains(name))
                {
                    throw new CliException($"unknown option '{name}'.");
                }

                if (!_values.TryGetValue(name, out var list))
                {
                    _values[name] = list = [];
                }

                if (inline is not null)
                {
                    list.Add(inline);
                    current = null;
                }
                else
                {
                    current = name;
                }

                continue;
            }

            if (current is null)
            {
                throw new CliException($"unexpected argument '{arg}'.");
            }

            _values[current].Add(arg);
        }
    }

    public bool Flag(string name) => _flags.Contains(name);

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var list) ? list : [];

    public string? Single(string name)
    {
        var values = Values(name);
        return values.Count switch
        {
            0 => null,
            1 => values[0],
            _ => throw new CliException($"option '{name}' takes one value, got {values.Count}."),
        };
    }

    public string Required(string name) =>
        Single(name) ?? throw new CliException($"option '{name}' is required.");

    public int Int(string name, int fallback, int min, int max)
    {
        var text = Single(name);
        if (text is null)
        {
            return fallback;
        }

        if (!int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            || value < min || value > max)
        {
            throw new CliException($"option '{name}' must be an integer from {min} to {max}, got '{text}'.");
        }

        return value;
    }
}
