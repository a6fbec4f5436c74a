namespace VoiceAgent.Gateway.Cli;

/// <summary>A user-facing command-line failure: the message is one sentence, printed without a stack trace.</summary>
internal sealed class CliException(string message, int exitCode = 2) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

internal static class CliErrors
{
    public const string UsageText = """
        usage: voiceagent <command> [options]
          serve [--port N] [--sip-port N]
                                  start the gateway on 127.0.0.1 (default port 8080, SIP on udp 5060)
          vad --input FILE.wav    print speech segments as JSON [{"start_ms":..,"end_ms":..}]
          respond --input Q.wav --output R.wav [--json] [--mode audio|text]
          respond --input A.wav B.wav ... --output-dir DIR [--json]
        """;

    public static int Fail(string sentence, int exitCode)
    {
        Console.Error.WriteLine($"voiceagent: {sentence}");
        return exitCode;
    }

    public static int Usage(string sentence)
    {
        Console.Error.WriteLine(UsageText);
        return Fail(sentence, 2);
    }

    public static int PrintUsage()
    {
        Console.WriteLine(UsageText);
        return 0;
    }
}
