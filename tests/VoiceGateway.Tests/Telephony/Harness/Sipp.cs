using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace VoiceAgent.Gateway.Tests.Telephony.Harness;

/// <summary>One SIP message in sipp's -trace_msg log.</summary>
public sealed record SippMessage(DateTime At, bool Sent, string FirstLine, string CallId, string CSeqMethod, string Text)
{
    /// <summary>The status code of a response (0 for requests).</summary>
    public int Status => FirstLine.StartsWith("SIP/2.0 ", StringComparison.Ordinal) ? int.Parse(FirstLine.AsSpan(8, 3), CultureInfo.InvariantCulture) : 0;

    public string Method => Status == 0 ? FirstLine.Split(' ')[0] : CSeqMethod;

    /// <summary>"INVITE", "100", "180", … — how the tests write a call flow.</summary>
    public string Label => Status == 0 ? FirstLine.Split(' ')[0] : Status.ToString(CultureInfo.InvariantCulture);
}

/// <summary>What a sipp run did: exit code (0 = every call succeeded), screen output and the message trace.</summary>
public sealed record SippResult(int ExitCode, string Output, IReadOnlyList<SippMessage> Messages, string Errors)
{
    public override string ToString() => $"sipp exit {ExitCode}\n{Errors}\n{Output[Math.Max(0, Output.Length - 3000)..]}";

    /// <summary>The messages of each call (by Call-ID), in order.</summary>
    public Dictionary<string, List<SippMessage>> Calls() =>
        Messages.GroupBy(m => m.CallId).ToDictionary(g => g.Key, g => g.OrderBy(m => m.At).ToList());
}

/// <summary>
/// Runs sipp (Debian package sip-tester) with a scenario from <c>Telephony/sipp/</c>, bound to loopback on free ports,
/// with -trace_msg so the tests can check each call's message flow and timing (microsecond timestamps).
/// </summary>
public static class Sipp
{
    public static string ScenarioDirectory { get; } = Path.Combine(GatewayProcess.Root, "tests", "VoiceGateway.Tests", "Telephony", "sipp");

    public static SippResult Run(string scenario, IPEndPoint target, string workDirectory, params string[] options)
    {
        var sipPort = FreeUdpPort(1);
        var mediaPort = FreeUdpPort(4, even: true); // sipp binds the media port and the one two above it (video)
        var info = new ProcessStartInfo("sipp")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workDirectory,
        };
        string[] common =
        [
            target.ToString(), "-sf", Path.Combine(ScenarioDirectory, scenario),
            "-i", "127.0.0.1", "-p", sipPort.ToString(CultureInfo.InvariantCulture),
            "-mi", "127.0.0.1", "-mp", mediaPort.ToString(CultureInfo.InvariantCulture),
            "-nostdin", "-trace_msg", "-trace_err", "-timeout", "120s", "-timeout_error",
        ];
        // The call scenarios stream "[audio]" (rtp_stream's file,loops,payload type); the question unless a test says otherwise.
        string[] audio = options.Contains("-key") ? [] : ["-key", "audio", "question.ulaw,1,0"];
        foreach (var argument in common.Concat(audio).Concat(options))
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var old in Directory.GetFiles(workDirectory, "*.log"))
        {
            File.Delete(old);
        }

        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (Win32Exception e)
        {
            throw new InvalidOperationException("The telephony tests need 'sipp': install the Debian package sip-tester (./voiceagent setup does it when run as root).", e);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(180)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"sipp {scenario} did not finish within 180 s.");
            }

            var messages = Directory.GetFiles(workDirectory, "*_messages.log").SelectMany(f => ParseMessages(File.ReadAllText(f))).ToList();
            var errors = string.Join('\n', Directory.GetFiles(workDirectory, "*_errors.log").Select(File.ReadAllText));
            return new SippResult(process.ExitCode, stdout.GetAwaiter().GetResult() + stderr.GetAwaiter().GetResult(), messages, errors);
        }
    }

    /// <summary>Parses sipp's -trace_msg log: blocks of a dashed timestamp line, "UDP message sent/received", the message.</summary>
    internal static List<SippMessage> ParseMessages(string log)
    {
        var messages = new List<SippMessage>();
        var blocks = log.Split("----------------------------------------------- ", StringSplitOptions.RemoveEmptyEntries);
        foreach (var block in blocks)
        {
            var lines = block.Replace("\r", "", StringComparison.Ordinal).Split('\n');
            if (lines.Length < 3 || !DateTime.TryParse(lines[0].Trim(), CultureInfo.InvariantCulture, DateTimeStyles.None, out var at))
            {
                continue;
            }

            var sent = lines[1].StartsWith("UDP message sent", StringComparison.Ordinal);
            if (!sent && !lines[1].StartsWith("UDP message received", StringComparison.Ordinal))
            {
                continue;
            }

            var body = lines.Skip(2).SkipWhile(string.IsNullOrWhiteSpace).ToArray();
            if (body.Length == 0)
            {
                continue;
            }

            string Header(string name) => body.FirstOrDefault(l => l.StartsWith(name + ":", StringComparison.OrdinalIgnoreCase))?[(name.Length + 1)..].Trim() ?? "";
            var cseq = Header("CSeq").Split(' ', StringSplitOptions.RemoveEmptyEntries);
            messages.Add(new SippMessage(at, sent, body[0].Trim(), Header("Call-ID"), cseq.Length > 1 ? cseq[1] : "", string.Join('\n', body)));
        }

        return messages;
    }

    /// <summary>A UDP port (or an even one with <paramref name="span"/> − 1 free ports after it) free on loopback right now.</summary>
    private static int FreeUdpPort(int span, bool even = false)
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = 40000 + Random.Shared.Next(0, 20000);
            if (even)
            {
                port &= ~1;
            }

            var sockets = new List<Socket>();
            try
            {
                for (var i = 0; i < span; i++)
                {
                    var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    sockets.Add(socket);
                    socket.Bind(new IPEndPoint(IPAddress.Loopback, port + i));
                }

                return port;
            }
            catch (SocketException)
            {
                // Taken; try another.
            }
            finally
            {
                foreach (var socket in sockets)
                {
                    socket.Dispose();
                }
            }
        }

        throw new InvalidOperationException("No free UDP port on loopback.");
    }
}
