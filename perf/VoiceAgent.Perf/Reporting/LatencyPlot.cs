using System.Globalization;
using System.Text;

namespace VoiceAgent.Perf.Reporting;

/// <summary>
/// A self-contained SVG chart of latency against concurrent sessions (log₂ x axis): VoiceAgent's user-felt latency
/// and engine first packet (p50 solid, p95 dashed), the cascade's user-felt p50/p95 as horizontal references, and the
/// first-packet goals. Written by hand so the bench needs no plotting library.
/// </summary>
internal static class LatencyPlot
{
    private const int Width = 760;
    private const int Height = 420;
    private const int Left = 64;
    private const int Right = 210;
    private const int Top = 36;
    private const int Bottom = 52;

    private sealed record Series(string Label, string Color, bool Dashed, IReadOnlyList<(int Sessions, double? Ms)> Points);

    public static string Render(BenchReport report)
    {
        var runs = report.Runs.OrderBy(r => r.Sessions).ToList();
        var series = new List<Series>
        {
            new("user-felt p50", "#1f77b4", false, [.. runs.Select(r => (r.Sessions, r.UserLatencyMs.P50))]),
            new("user-felt p95", "#1f77b4", true, [.. runs.Select(r => (r.Sessions, r.UserLatencyMs.P95))]),
            new("engine first packet p50", "#d62728", false, [.. runs.Select(r => (r.Sessions, r.FirstPacketMs.P50))]),
            new("engine first packet p95", "#d62728", true, [.. runs.Select(r => (r.Sessions, r.FirstPacketMs.P95))]),
        };
        var references = new List<(string Label, double Ms, string Color)>();
        if (report.Cascade is { } cascade)
        {
            if (cascade.UserLatencyMs.P50 is { } c50)
            {
                references.Add(("cascade user-felt p50", c50, "#2ca02c"));
            }

            if (cascade.UserLatencyMs.P95 is { } c95)
            {
                references.Add(("cascade user-felt p95", c95, "#98df8a"));
            }
        }

        references.Add(("goal: first packet p95 at 8 sessions", 200, "#bbbbbb"));
        references.Add(("goal: first packet p95 at 1 session", 100, "#dddddd"));

        var maxMs = series.SelectMany(s => s.Points).Select(p => p.Ms ?? 0).Concat(references.Select(r => r.Ms)).DefaultIfEmpty(100).Max();
        var yMax = NiceCeiling(maxMs * 1.1);
        var xs = runs.Select(r => Math.Log2(r.Sessions)).DefaultIfEmpty(0).ToList();
        var xMin = xs.Min();
        var xMax = Math.Max(xs.Max(), xMin + 1);
        var plotW = Width - Left - Right;
        var plotH = Height - Top - Bottom;
        double X(int sessions) => Left + ((Math.Log2(sessions) - xMin) / (xMax - xMin) * plotW);
        double Y(double ms) => Top + plotH - (ms / yMax * plotH);

        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        svg.Append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left}\" y=\"20\" font-size=\"14\" font-weight=\"bold\">VoiceAgent latency vs concurrent sessions ({Escape(report.Date)})</text>\n");

        // Grid and y labels.
        for (var i = 0; i <= 5; i++)
        {
            var ms = yMax * i / 5;
            var y = Y(ms);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotW}\" y2=\"{y:F1}\" stroke=\"#eeeeee\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left - 6}\" y=\"{y + 4:F1}\" text-anchor=\"end\">{ms:F0}</text>\n");
        }

        foreach (var r in runs)
        {
            var x = X(r.Sessions);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x:F1}\" y1=\"{Top}\" x2=\"{x:F1}\" y2=\"{Top + plotH}\" stroke=\"#f4f4f4\"/>\n");
            var mark = r.RealtimeOk ? string.Empty : " ✗";
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{x:F1}\" y=\"{Top + plotH + 18}\" text-anchor=\"middle\">{r.Sessions}{mark}</text>\n");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{Left + (plotW / 2)}\" y=\"{Height - 12}\" text-anchor=\"middle\">concurrent sessions (✗ = not real-time)</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<text x=\"16\" y=\"{Top + (plotH / 2)}\" text-anchor=\"middle\" transform=\"rotate(-90 16 {Top + (plotH / 2)})\">milliseconds</text>\n");
        svg.Append(CultureInfo.InvariantCulture, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#888888\"/>\n");

        foreach (var (label, ms, color) in references)
        {
            var y = Y(ms);
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Left}\" y1=\"{y:F1}\" x2=\"{Left + plotW}\" y2=\"{y:F1}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"2 4\"/>\n");
        }

        foreach (var s in series)
        {
            var points = s.Points.Where(p => p.Ms is not null).Select(p => $"{X(p.Sessions).ToString("F1", CultureInfo.InvariantCulture)},{Y(p.Ms!.Value).ToString("F1", CultureInfo.InvariantCulture)}").ToList();
            if (points.Count == 0)
            {
                continue;
            }

            var dash = s.Dashed ? " stroke-dasharray=\"7 4\"" : string.Empty;
            svg.Append(CultureInfo.InvariantCulture, $"<polyline points=\"{string.Join(' ', points)}\" fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash}/>\n");
            foreach (var p in points)
            {
                var xy = p.Split(',');
                svg.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{xy[0]}\" cy=\"{xy[1]}\" r=\"3\" fill=\"{s.Color}\"/>\n");
            }
        }

        // Legend.
        var ly = Top + 6;
        var lx = Left + plotW + 14;
        foreach (var s in series)
        {
            var dash = s.Dashed ? " stroke-dasharray=\"7 4\"" : string.Empty;
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{lx + 28}\" y2=\"{ly}\" stroke=\"{s.Color}\" stroke-width=\"2\"{dash}/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{lx + 34}\" y=\"{ly + 4}\">{Escape(s.Label)}</text>\n");
            ly += 20;
        }

        foreach (var (label, ms, color) in references)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{lx}\" y1=\"{ly}\" x2=\"{lx + 28}\" y2=\"{ly}\" stroke=\"{color}\" stroke-width=\"2\" stroke-dasharray=\"2 4\"/>\n");
            svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{lx + 34}\" y=\"{ly + 4}\" font-size=\"11\">{Escape(label)} ({ms:F0})</text>\n");
            ly += 20;
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static double NiceCeiling(double value)
    {
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(Math.Max(value, 1))));
        foreach (var step in new[] { 1, 2, 2.5, 5, 10 })
        {
            if (step * magnitude >= value)
            {
                return step * magnitude;
            }
        }

        return 10 * magnitude;
    }

    private static string Escape(string text) => text.Replace("&", "&amp;", StringComparison.Ordinal).Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal);
}
