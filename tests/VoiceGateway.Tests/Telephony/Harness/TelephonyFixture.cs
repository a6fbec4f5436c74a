using System.Globalization;
using System.Net;

namespace VoiceAgent.Gateway.Tests.Telephony.Harness;

/// <summary>
/// One gateway process for the telephony integration tests (they run one after another in this collection, so
/// timings are not disturbed by each other): SIP on a free loopback port, RTP behind an <see cref="RtpRelay"/> on
/// 127.0.0.2, and the test audio (espeak-ng questions as 8 kHz mu-law files) generated into a scratch folder.
/// </summary>
public sealed class TelephonyFixture : IDisposable
{
    public TelephonyFixture()
    {
        Work = GatewayProcess.Scratch("telephony");
        Audio = TelephonyAudio.Generate(Work);
        Relay = RtpRelay.Create(IPAddress.Parse("127.0.0.2"), IPAddress.Loopback, count: 80);
        try
        {
            Gateway = TelephonyGateway.Start(new Dictionary<string, string>
            {
                ["Telephony__Rtp__BindAddress"] = "127.0.0.1",
                ["Telephony__Rtp__AdvertisedAddress"] = Relay.Front.ToString(),
                ["Telephony__Rtp__PortMin"] = Relay.PortMin.ToString(CultureInfo.InvariantCulture),
                ["Telephony__Rtp__PortMax"] = Relay.PortMax.ToString(CultureInfo.InvariantCulture),
                ["Gateway__MaxSessions"] = "40",
                ["CallActions__TransferTarget"] = TransferTarget,
            });
        }
        catch
        {
            Relay.Dispose();
            throw;
        }
    }

    /// <summary>Where the gateway's call actions send callers who ask for a person (the REFER's Refer-To).</summary>
    public const string TransferTarget = "sip:agents@pbx.example.test";

    public string Work { get; }

    public TelephonyAudio Audio { get; }

    public RtpRelay Relay { get; }

    public TelephonyGateway Gateway { get; }

    public void Dispose()
    {
        Gateway.Dispose();
        Relay.Dispose();
    }
}

[CollectionDefinition(Name)]
public sealed class TelephonyCollection : ICollectionFixture<TelephonyFixture>
{
    public const string Name = "Telephony gateway";
}

/// <summary>Test speech made at test time (nothing binary is committed): questions to the bank's phone agent.</summary>
public sealed class TelephonyAudio
{
    private TelephonyAudio(string directory) => Directory = directory;

    public string Directory { get; }

    /// <summary>"what is my balance" + 2 s of silence, 8 kHz mu-law, whole 20 ms packets (sipp's rtp_stream input).</summary>
    public string Question => Path.Combine(Directory, "question.ulaw");

    /// <summary>The question, 1.4 s of silence (the reply starts), the question again (barge-in), 3 s of silence.</summary>
    public string BargeIn => Path.Combine(Directory, "bargein.ulaw");

    /// <summary>"can i talk to a person please" + 2 s of silence (the demo pack answers with its transfer reply).</summary>
    public string Agent => Path.Combine(Directory, "agent.ulaw");

    /// <summary>"thank you goodbye" + 2 s of silence (the demo pack answers with its goodbye reply).</summary>
    public string Goodbye => Path.Combine(Directory, "goodbye.ulaw");

    public static TelephonyAudio Generate(string directory)
    {
        var audio = new TelephonyAudio(directory);
        if (File.Exists(audio.Question) && File.Exists(audio.BargeIn) && File.Exists(audio.Agent) && File.Exists(audio.Goodbye))
        {
            return audio;
        }

        Speak("can i talk to a person please", audio.Agent);
        Speak("thank you goodbye", audio.Goodbye);

        var speech = Path.Combine(directory, "question.espeak.wav");
        GatewayProcess.Tool("espeak-ng", "espeak-ng", "-v", "en-us", "-w", speech, "what is my balance");
        var first = Path.Combine(directory, "question.part.ulaw");
        var second = Path.Combine(directory, "question.barge.ulaw");
        GatewayProcess.Tool("sox", "sox", "-D", speech, "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", first, "pad", "0.3", "2.0");
        GatewayProcess.Tool("sox", "sox", "-D", speech, "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", second, "pad", "0.3", "1.4");
        var question = WholePackets(File.ReadAllBytes(first));
        File.WriteAllBytes(audio.Question, question);
        var bargeIn = WholePackets([.. File.ReadAllBytes(second), .. question, .. Enumerable.Repeat((byte)0xFF, 8000)]);
        File.WriteAllBytes(audio.BargeIn, bargeIn);
        return audio;
    }

    /// <summary>espeak-ng's en-us voice saying <paramref name="text"/>, 0.3 s of silence before and 2 s after, as whole mu-law packets.</summary>
    private static void Speak(string text, string output)
    {
        var wav = Path.ChangeExtension(output, ".espeak.wav");
        var raw = Path.ChangeExtension(output, ".part.ulaw");
        GatewayProcess.Tool("espeak-ng", "espeak-ng", "-v", "en-us", "-w", wav, text);
        GatewayProcess.Tool("sox", "sox", "-D", wav, "-r", "8000", "-c", "1", "-e", "mu-law", "-t", "raw", raw, "pad", "0.3", "2.0");
        File.WriteAllBytes(output, WholePackets(File.ReadAllBytes(raw)));
    }

    /// <summary>Pads with mu-law silence (0xFF) to whole 160-byte packets (sipp's rtp_stream wraps partial ones).</summary>
    private static byte[] WholePackets(byte[] data)
    {
        var padded = new byte[(data.Length + 159) / 160 * 160];
        data.CopyTo(padded, 0);
        padded.AsSpan(data.Length).Fill(0xFF);
        return padded;
    }
}
