using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace VoiceAgent.Gateway.Tests.Telephony.Harness;

/// <summary>
/// The built gateway running as a separate process (<c>serve --port 0 --sip-port 0</c>, as ./voiceagent runs it),
/// with telephony settings passed as environment variables. It reads the printed addresses, serves the
/// <c>/v1/telephony/*</c> status for assertions and is killed on dispose.
/// </summary>
public sealed partial class TelephonyGateway : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(30) };

    private TelephonyGateway(Process process, IPEndPoint? sip, Uri http)
    {
        _process = process;
        SipOrNull = sip;
        Http = http;
        _http.BaseAddress = http;
    }

    public IPEndPoint Sip => SipOrNull ?? throw new InvalidOperationException("This gateway runs without SIP.");

    /// <summary>The SIP endpoint, or null when the gateway started without SIP.</summary>
    public IPEndPoint? SipOrNull { get; }

    public Uri Http { get; }

    /// <summary>Everything the gateway printed so far (for failure messages).</summary>
    public string Output => string.Join('\n', _output.TakeLast(200));

    /// <summary>
    /// Starts <c>serve --port 0</c> plus <paramref name="arguments"/> (default <c>--sip-port 0</c>) with
    /// <paramref name="settings"/> as environment variables; with <paramref name="expectSip"/> false it is ready once
    /// HTTP listens (for a gateway whose SIP port is taken).
    /// </summary>
    public static TelephonyGateway Start(IReadOnlyDictionary<string, string> settings, string[]? arguments = null, bool expectSip = true)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = GatewayProcess.Root,
        };
        foreach (var argument in new[] { GatewayProcess.GatewayDll, "serve", "--port", "0" }.Concat(arguments ?? ["--sip-port", "0"]))
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in settings)
        {
            info.Environment[key] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the gateway.");
        var output = new ConcurrentQueue<string>();
        IPEndPoint? sip = null;
        Uri? http = null;
        var ready = new ManualResetEventSlim();
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            output.Enqueue(line);
            if (SipLine().Match(line) is { Success: true } s)
            {
                sip = IPEndPoint.Parse(s.Groups[1].Value);
            }
            else if (HttpLine().Match(line) is { Success: true } h)
            {
                http = new Uri(h.Groups[1].Value);
            }

            if ((sip is not null || !expectSip) && http is not null)
            {
                ready.Set();
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        // The engine loads before the listeners start; on a loaded 2-core machine that can take a while.
        var deadline = Stopwatch.StartNew();
        while (!ready.Wait(200))
        {
            if (process.HasExited || deadline.Elapsed > TimeSpan.FromSeconds(180))
            {
                var text = string.Join('\n', output);
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                }

                process.Dispose();
                throw new InvalidOperationException($"The gateway did not start: {text}");
            }
        }

        var gateway = new TelephonyGateway(process, sip, http!);
        foreach (var line in output)
        {
            gateway._output.Enqueue(line);
        }

        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                gateway._output.Enqueue(line);
            }
        };
        return gateway;
    }

    public JsonElement Get(string path)
    {
        var text = _http.GetStringAsync(path).GetAwaiter().GetResult();
        using var document = JsonDocument.Parse(text);
        return document.RootElement.Clone();
    }

    /// <summary>The recent (ended) calls of one transport ("sip", "twilio"), oldest first.</summary>
    public List<JsonElement> EndedCalls(string transport) =>
        [.. Get("/v1/telephony/calls").GetProperty("recent").EnumerateArray().Where(c => c.GetProperty("transport").GetString() == transport)];

    /// <summary>Waits until <paramref name="condition"/> holds for the status JSON (calls end asynchronously after BYE).</summary>
    public JsonElement WaitFor(string path, Func<JsonElement, bool> condition, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var json = Get(path);
            if (condition(json) || watch.Elapsed > timeout)
            {
                return json;
            }

            Thread.Sleep(100);
        }
    }

    public long Counter(string name) => Get("/v1/telephony/stats").GetProperty(name).GetInt64();

    /// <summary>Waits until more than <paramref name="endedBefore"/> SIP calls have ended; returns the newest one.</summary>
    public JsonElement WaitForEndedSipCall(int endedBefore)
    {
        var json = WaitFor("/v1/telephony/calls", j => Count(j) > endedBefore, TimeSpan.FromSeconds(15));
        Xunit.Assert.True(Count(json) > endedBefore, $"the call did not end in /v1/telephony/calls: {json}\n{Output}");
        return json.GetProperty("recent").EnumerateArray().Last(c => c.GetProperty("transport").GetString() == "sip");

        static int Count(JsonElement j) => j.GetProperty("recent").EnumerateArray().Count(c => c.GetProperty("transport").GetString() == "sip");
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }

        _process.Dispose();
        _http.Dispose();
    }

    internal static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^voiceagent: sip on udp (\S+)$")]
    private static partial Regex SipLine();

    [GeneratedRegex(@"^voiceagent: listening on (http://\S+)")]
    private static partial Regex HttpLine();
}
