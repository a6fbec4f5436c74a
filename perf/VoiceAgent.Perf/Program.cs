using VoiceAgent.Core;
using VoiceAgent.Perf;
using VoiceAgent.Perf.Corpus;
using VoiceAgent.StreamingEngine.Sessions;

// The bench's own executable (perf/, not the gateway): the load generator, the cascade peer and the scale study pull
// in native libraries (pocketsphinx, espeak-ng) the server must not depend on.
if (args.Length == 0)
{
    Console.Error.WriteLine(BenchCommand.Usage);
    Console.Error.WriteLine("voiceagent: no command given; try 'bench' or 'corpus'.");
    return 2;
}

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cts.Cancel();
};

try
{
    var rest = args[1..];
    switch (args[0])
    {
        case "bench":
            return await BenchCommand.RunAsync(rest, Console.Out, Console.Error, cts.Token).ConfigureAwait(false);
        case "corpus":
            {
                var a = new PerfArgs(rest, new HashSet<string>(), new HashSet<string> { "--rebuild" });
                var dir = Path.Combine(VoiceAgentPaths.Root ?? ".", "perf", "corpus");
                var vad = new VoiceSessionOptions().Vad;
                var clips = a.Flag("--rebuild") ? BenchCorpus.Build(dir, vad, Console.Error, cts.Token) : BenchCorpus.LoadOrBuild(dir, vad, Console.Error, cts.Token);
                foreach (var c in clips)
                {
                    Console.WriteLine($"{c.Id,-44} {c.Source,-9} {c.SpeechMs,6:F0} ms  {c.Text}");
                }

                return 0;
            }

        default:
            Console.Error.WriteLine($"voiceagent: unknown command '{args[0]}'; try 'bench' or 'corpus'.");
            return 2;
    }
}
catch (UsageException ex)
{
    Console.Error.WriteLine($"voiceagent: {ex.Message}");
    return 2;
}
catch (OperationCanceledException) when (cts.IsCancellationRequested)
{
    return 130;
}
catch (Exception ex) when (ex is InvalidOperationException or FileNotFoundException or DllNotFoundException or System.Net.WebSockets.WebSocketException or IOException or HttpRequestException)
{
    // One sentence, no stack trace: what failed and, where there is one, what to do.
    Console.Error.WriteLine($"voiceagent: bench failed: {ex.Message.Split('\n')[0].TrimEnd('.')}.");
    return 3;
}
