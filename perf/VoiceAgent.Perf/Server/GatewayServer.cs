using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace VoiceAgent.Perf.Server;

/// <summary>
/// The gateway the bench measures, started as its own process (<c>VoiceAgent.Gateway.dll serve --port 0</c>) so its
/// CPU and memory can be read from /proc apart from the load generator's. Its console goes to a log file.
/// </summary>
internal sealed partial class GatewayServer : IAsyncDisposable
{
    private const int SigTerm = 15;

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly TaskCompletionSource<Uri> _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private GatewayServer(Process process, StreamWriter log)
    {
        _process = process;
        _log = log;
    }

    public int ProcessId => _process.Id;

    /// <summary>http://host:port the server listens on.</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>Starts the gateway and waits until it listens and answers /healthz (the engine is loaded then).</summary>
    public static async Task<GatewayServer> StartAsync(string gatewayDll, int maxSessions, string logPath, CancellationToken cancellationToken)
    {
        if (!File.Exists(gatewayDll))
        {
            throw new FileNotFoundException($"the gateway is not built ({gatewayDll}); run ./voiceagent setup.", gatewayDll);
        }

        var start = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { gatewayDll, "serve", "--port", "0" })
        {
            start.ArgumentList.Add(a);
        }

        start.Environment["Gateway__MaxSessions"] = maxSessions.ToString(CultureInfo.InvariantCulture);
        start.Environment["Logging__LogLevel__Default"] = "Warning";
        Directory.CreateDirectory(Path.GetDirectoryName(logPath)!);
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = Process.Start(start) ?? throw new InvalidOperationException("the gateway process could not be started.");
        var server = new GatewayServer(process, log);
        process.OutputDataReceived += (_, e) => server.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => server.OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(120));
            var exited = process.WaitForExitAsync(timeout.Token);
            var first = await Task.WhenAny(server._listening.Task, exited).ConfigureAwait(false);
            if (first != server._listening.Task)
            {
                cancellationToken.ThrowIfCancellationRequested();
                throw new InvalidOperationException(process.HasExited
                    ? $"the gateway exited with code {process.ExitCode} before listening; see {logPath}."
                    : $"the gateway did not start listening within 120 s; see {logPath}.");
            }

            server.BaseAddress = await server._listening.Task.ConfigureAwait(false);
            await server.WaitHealthyAsync(timeout.Token).ConfigureAwait(false);
            return server;
        }
        catch
        {
            await server.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>ws://host:port/v1/voice.</summary>
    public Uri VoiceEndpoint => new UriBuilder(BaseAddress) { Scheme = "ws", Path = "/v1/voice" }.Uri;

    /// <summary>Sum of <c>voiceagent_dropped_frames_total</c> over transports (null when /metrics is not served).</summary>
    public async Task<long?> DroppedFramesAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            var text = await http.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken).ConfigureAwait(false);
            long total = 0;
            foreach (Match m in DroppedFramesLine().Matches(text))
            {
                total += long.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
            }

            return total;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGTERM lets ASP.NET Core stop gracefully; a server that hangs is killed after 10 s.
            _ = kill(_process.Id, SigTerm);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(grace.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private async Task WaitHealthyAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(new Uri("/healthz", UriKind.Relative), cancellationToken).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not up yet.
            }

            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            if (_log.BaseStream.CanWrite)
            {
                _log.WriteLine(line);
            }
        }

        if (!_listening.Task.IsCompleted && ListeningLine().Match(line) is { Success: true } m)
        {
            _listening.TrySetResult(new Uri(m.Groups[1].Value.Replace("0.0.0.0", "127.0.0.1", StringComparison.Ordinal)));
        }
    }

    [GeneratedRegex(@"listening on (http://\S+)")]
    private static partial Regex ListeningLine();

    [GeneratedRegex(@"^voiceagent_dropped_frames_total(?:\{[^}]*\})?\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex DroppedFramesLine();

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
