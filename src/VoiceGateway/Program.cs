using VoiceAgent.Gateway.Cli;
using VoiceAgent.Gateway.Hosting;

namespace VoiceAgent.Gateway;

/// <summary>
/// The one executable: <c>serve</c> runs the ASP.NET Core gateway, the other verbs are offline tools.
/// Every failure a user can cause ends in one sentence on stderr and a non-zero exit code, never a stack trace.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0)
        {
            return CliErrors.Usage("no command given; try 'serve', 'vad' or 'help'.");
        }

        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cts.Cancel();
        };

        var rest = args.AsSpan(1).ToArray();
        try
        {
            return args[0] switch
            {
                "serve" => await GatewayHost.RunAsync(rest, cts.Token).ConfigureAwait(false),
                "vad" => await VadCommand.RunAsync(rest, Console.Out, cts.Token).ConfigureAwait(false),
                "respond" => await RespondCommand.RunAsync(rest, Console.Out, cts.Token).ConfigureAwait(false),
                "help" or "--help" or "-h" => CliErrors.PrintUsage(),
                _ => CliErrors.Usage($"unknown command '{args[0]}'."),
            };
        }
        catch (CliException ex)
        {
            return CliErrors.Fail(ex.Message, ex.ExitCode);
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            return 130;
        }
    }
}
