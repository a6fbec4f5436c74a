using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>
/// The built gateway started as a separate process (<c>serve --port 0</c>, as ./voiceagent serve runs it) with
/// configuration overrides as environment variables (<c>Gateway__MaxSessions=…</c>); the bound address is read from
/// its "listening on" line. Shared by the tests of a class through an xunit fixture.
/// </summary>
public partial class GatewayServer : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    public GatewayServer(IReadOnlyDictionary<string, string>? settings = null)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = GatewayProcess.Root,
        };
        info.ArgumentList.Add(GatewayProcess.GatewayDll);
        info.ArgumentList.Add("serve");
        info.ArgumentList.Add("--port");
        info.ArgumentList.Add("0");
        info.Environment["Logging__LogLevel__Default"] = "Information";
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            info.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var listening = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        _process = new Process { StartInfo = info };
        _process.OutputDataReceived += (_, e) => OnLine(e.Data, listening);
        _process.ErrorDataReceived += (_, e) => OnLine(e.Data, listening);
        _process.Exited += (_, _) => listening.TrySetException(new InvalidOperationException($"The gateway exited ({_process.ExitCode}) before listening:\n{Log}"));
        _process.EnableRaisingEvents = true;
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        if (!listening.Task.Wait(TimeSpan.FromSeconds(90)))
        {
            Dispose();
            throw new TimeoutException($"The gateway did not start listening within 90 s:\n{Log}");
        }

        BaseUri = listening.Task.Result;
        Http = new HttpClient { BaseAddress = BaseUri, Timeout = TimeSpan.FromSeconds(30) };
    }

    /// <summary>http://127.0.0.1:port/</summary>
    public Uri BaseUri { get; }

    /// <summary>ws://127.0.0.1:port/v1/voice</summary>
    public Uri VoiceUri => new($"ws://{BaseUri.Authority}/v1/voice");

    public HttpClient Http { get; }

    /// <summary>Everything the gateway printed so far (for failure messages).</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    /// <summary>Current /metrics text.</summary>
    public Task<string> MetricsAsync() => Http.GetStringAsync(new Uri("/metrics", UriKind.Relative));

    /// <summary>Value of one metric sample (name plus exact label text), or 0 when absent.</summary>
    public async Task<double> MetricAsync(string nameAndLabels)
    {
        var text = await MetricsAsync();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith(nameAndLabels + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(nameAndLabels.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private void OnLine(string? line, TaskCompletionSource<Uri> listening)
    {
        if (line is null)
        {
            return;
        }

        lock (_log)
        {
            _log.AppendLine(line);
        }

        if (ListeningLine().Match(line) is { Success: true } match)
        {
            listening.TrySetResult(new Uri(match.Groups[1].Value + "/"));
        }
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }

        _process.Dispose();
        GC.SuppressFinalize(this);
    }

    [GeneratedRegex(@"voiceagent: listening on (http://[0-9.]+:[0-9]+)")]
    private static partial Regex ListeningLine();
}

/// <summary>The gateway most tests share: small limits so the limit tests run fast.</summary>
public sealed class SharedGateway() : GatewayServer(new Dictionary<string, string>
{
    ["Gateway:IdleTimeoutSeconds"] = "4",
    ["Gateway:MaxMessageBytes"] = "16384",
    ["Gateway:MaxSessions"] = "8",
    ["Gateway:AllowedOrigins:0"] = "http://allowed.example",
});

/// <summary>
/// The tests on the shared gateway play audio in real time (and run Chromium): they run on their own, after the parallel
/// collections, so they neither starve nor are starved by the telephony tests' real-time RTP on a small machine.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SharedGatewayCollection : ICollectionFixture<SharedGateway>
{
    public const string Name = "shared gateway";
}
