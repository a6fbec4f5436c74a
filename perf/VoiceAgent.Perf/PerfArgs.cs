using System.Globalization;

namespace VoiceAgent.Perf;

/// <summary>A user mistake on the command line: printed as one sentence, exit code 2.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary><c>--name value</c>, <c>--name=value</c> and flags; anything else is a one-sentence usage error.</summary>
internal sealed class PerfArgs
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _flags = new(StringComparer.Ordinal);

    public PerfArgs(IReadOnlyList<string> args, IReadOnlySet<string> valueOptions, IReadOnlySet<string> flagOptions)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var eq = arg.IndexOf('=', StringComparison.Ordinal);
            var name = eq > 0 ? arg[..eq] : arg;
            if (flagOptions.Contains(name) && eq < 0)
            {
                _flags.Add(name);
            }
            else if (valueOptions.Contains(name))
            {
                if (eq > 0)
                {
                    _values[name] = arg[(eq + 1)..];
                }
                else if (i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    _values[name] = args[++i];
                }
                else
                {
                    throw new UsageException($"option '{name}' needs a value.");
                }
            }
            else
            {
                throw new UsageException(arg.StartsWith("--", StringComparison.Ordinal) ? $"unknown option '{name}'." : $"unexpected argument '{arg}'.");
            }
        }
    }

    public bool Flag(string name) => _flags.Contains(name);

    public string? Value(string name) => _values.GetValueOrDefault(name);

    public int Int(string name, int fallback, int min, int max)
    {
        var text = Value(name);
        if (text is null)
        {
            return fallback;
        }

        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= min && v <= max
            ? v
            : throw new UsageException($"option '{name}' must be an integer from {min} to {max}, got '{text}'.");
    }

    /// <summary>A comma-separated list of integers in [min, max], e.g. <c>1,4,8,16</c>.</summary>
    public IReadOnlyList<int> IntList(string name, IReadOnlyList<int> fallback, int min, int max)
    {
        var text = Value(name);
        if (text is null)
        {
            return fallback;
        }

        var list = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!int.TryParse(part, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) || v < min || v > max)
            {
                throw new UsageException($"option '{name}' must be a comma-separated list of integers from {min} to {max}, got '{text}'.");
            }

            list.Add(v);
        }

        return list.Count > 0 ? list : throw new UsageException($"option '{name}' is empty.");
    }
}
