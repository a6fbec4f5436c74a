using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace VoiceAgent.Perf.Load;

/// <summary>
/// Samples another process's CPU time and resident memory from <c>/proc/&lt;pid&gt;/stat</c> and
/// <c>/proc/&lt;pid&gt;/status</c> on a fixed period (Linux only). CPU is reported in percent of one core, so a busy
/// 2-core machine reads up to 200 %.
/// </summary>
internal sealed partial class ProcessSampler : IAsyncDisposable
{
    private const int ClockTicksName = 2; // _SC_CLK_TCK

    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly long _startTicks;
    private readonly long _startCpu;
    private long _lastCpu;
    private long _lastTicks;
    private double _peakRssMb;
    private double _sumRssMb;
    private int _rssSamples;
    private bool _disposed;

    private static readonly double ClockTicksPerSecond = sysconf(ClockTicksName) is > 0 and var t ? t : 100;

    public ProcessSampler(int pid, TimeSpan period)
    {
        _pid = pid;
        _startTicks = _lastTicks = Stopwatch.GetTimestamp();
        _startCpu = _lastCpu = ReadCpuTicks(pid) ?? 0;
        SampleRss();
        _loop = LoopAsync(period, _stop.Token);
    }

    /// <summary>Average CPU of the process since the sampler started, in percent of one core.</summary>
    public double CpuPercent
    {
        get
        {
            var seconds = Stopwatch.GetElapsedTime(_startTicks, Volatile.Read(ref _lastTicks)).TotalSeconds;
            return seconds <= 0 ? 0 : (Volatile.Read(ref _lastCpu) - _startCpu) / ClockTicksPerSecond / seconds * 100;
        }
    }

    /// <summary>Largest resident set seen (MB).</summary>
    public double PeakRssMb => _peakRssMb;

    /// <summary>Average resident set over the samples (MB).</summary>
    public double MeanRssMb => _rssSamples == 0 ? 0 : _sumRssMb / _rssSamples;

    /// <summary>CPU seconds the process has used in total (user + system), or null once it is gone.</summary>
    public static double? CpuSeconds(int pid) => ReadCpuTicks(pid) is { } t ? t / ClockTicksPerSecond : null;

    /// <summary>Stops sampling after one last sample (idempotent: the figures stay readable).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        Sample();
        _stop.Dispose();
    }

    private async Task LoopAsync(TimeSpan period, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(period);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            Sample();
        }
    }

    private void Sample()
    {
        if (ReadCpuTicks(_pid) is { } cpu)
        {
            Volatile.Write(ref _lastCpu, cpu);
            Volatile.Write(ref _lastTicks, Stopwatch.GetTimestamp());
        }

        SampleRss();
    }

    private void SampleRss()
    {
        if (ReadRssKb(_pid) is { } kb)
        {
            var mb = kb / 1024.0;
            _peakRssMb = Math.Max(_peakRssMb, mb);
            _sumRssMb += mb;
            _rssSamples++;
        }
    }

    /// <summary>utime + stime (fields 14 and 15 of /proc/pid/stat, counted after the parenthesised command name).</summary>
    private static long? ReadCpuTicks(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return null;
        }

        var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is field 3 (state), so utime (14) is fields[11] and stime (15) fields[12].
        return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
    }

    private static long? ReadRssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
            // The process is gone.
        }

        return null;
    }

    [LibraryImport("libc")]
    private static partial long sysconf(int name);
}
