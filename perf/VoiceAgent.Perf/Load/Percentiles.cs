namespace VoiceAgent.Perf.Load;

/// <summary>Order statistics of a sample (linear interpolation between closest ranks, as NumPy's default).</summary>
internal static class Percentiles
{
    /// <summary>The <paramref name="p"/>-th percentile (0–100) of <paramref name="values"/>, or null when empty.</summary>
    public static double? Of(IReadOnlyCollection<double> values, double p)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(p, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(p, 100);
        if (values.Count == 0)
        {
            return null;
        }

        var sorted = values.ToArray();
        Array.Sort(sorted);
        var rank = p / 100.0 * (sorted.Length - 1);
        var low = (int)Math.Floor(rank);
        var high = Math.Min(low + 1, sorted.Length - 1);
        return sorted[low] + ((rank - low) * (sorted[high] - sorted[low]));
    }

    /// <summary>p50/p95/p99 plus count, mean and max, rounded to <paramref name="decimals"/> (0.1 ms by default).</summary>
    public static Distribution Summarize(IReadOnlyCollection<double> values, int decimals = 1) => values.Count == 0
        ? new Distribution(0, null, null, null, null, null)
        : new Distribution(
            values.Count,
            Round(Of(values, 50), decimals),
            Round(Of(values, 95), decimals),
            Round(Of(values, 99), decimals),
            Round(values.Average(), decimals),
            Round(values.Max(), decimals));

    private static double? Round(double? v, int decimals) => v is { } x ? Math.Round(x, decimals) : null;
}

/// <summary>A latency distribution in ms.</summary>
internal sealed record Distribution(int Count, double? P50, double? P95, double? P99, double? Mean, double? Max);
