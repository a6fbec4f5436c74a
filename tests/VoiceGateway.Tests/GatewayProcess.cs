using System.Diagnostics;

namespace VoiceAgent.Gateway.Tests;

/// <summary>Runs the built gateway (<c>dotnet VoiceAgent.Gateway.dll ...</c>) as a separate process, as ./voiceagent does.</summary>
internal static class GatewayProcess
{
    private static readonly Lazy<string> LazyDll = new(FindGatewayDll);

    /// <summary>The repository root (the folder holding VoiceAgent.sln above the test's output).</summary>
    public static string Root { get; } = FindRoot();

    /// <summary>
    /// The gateway's own build output (with its runtimeconfig and deps files): src/VoiceGateway/bin/&lt;configuration&gt;,
    /// the configuration taken from this test's output path; else the copy the project reference put next to the tests.
    /// </summary>
    public static string GatewayDll => LazyDll.Value;

    /// <summary>A scratch folder under the test output (git-ignored bin/).</summary>
    public static string Scratch(string name)
    {
        var dir = Path.Combine(AppContext.BaseDirectory, "scratch", name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static Result Run(params string[] arguments) => Run(new Dictionary<string, string>(), arguments);

    /// <summary>Runs the gateway with extra environment variables (configuration overrides such as <c>Gateway__Port</c>).</summary>
    public static Result Run(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        info.ArgumentList.Add(GatewayDll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {host}.");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', arguments)}' did not finish within 120 s.");
        }

        return new Result(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
    }

    /// <summary>Runs a tool (sox); fails with the Debian package to install when it is missing.</summary>
    public static void Tool(string tool, string package, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"The test needs '{tool}': install the Debian package {package} (./voiceagent setup does it when run as root).", e);
        }

        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            _ = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, $"{tool} {string.Join(' ', arguments)} failed: {stderr.GetAwaiter().GetResult()}");
        }
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "VoiceAgent.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No VoiceAgent.sln above {AppContext.BaseDirectory}; the tests must run from a checkout.");
    }

    private static string FindGatewayDll()
    {
        // .../tests/VoiceGateway.Tests/bin/<configuration>/<tfm>/
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = output.Parent?.Name ?? "Release";
        var own = Path.Combine(Root, "src", "VoiceGateway", "bin", configuration, output.Name, "VoiceAgent.Gateway.dll");
        if (File.Exists(own))
        {
            return own;
        }

        var copied = Path.Combine(AppContext.BaseDirectory, "VoiceAgent.Gateway.dll");
        Assert.True(File.Exists(copied), $"The gateway is not built: neither {own} nor {copied} exists.");
        return copied;
    }

    /// <summary>What a run printed and returned.</summary>
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public string[] StderrLines => Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

        public override string ToString() => $"exit {ExitCode}; stdout: '{Stdout.Trim()}'; stderr: '{Stderr.Trim()}'";
    }
}
