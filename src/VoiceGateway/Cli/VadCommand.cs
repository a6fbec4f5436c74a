namespace VoiceAgent.Gateway.Cli;

/// <summary><c>vad --input FILE.wav</c>: prints the speech segments as a JSON array.</summary>
internal static class VadCommand
{
    public static Task<int> RunAsync(string[] args, TextWriter output, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, new HashSet<string> { "--input" });
        _ = options.Required("--input");
        _ = output;
        cancellationToken.ThrowIfCancellationRequested();
        throw new CliException("the vad command is not available in this build.");
    }
}
