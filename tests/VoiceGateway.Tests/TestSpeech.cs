using System.Collections.Concurrent;
using System.Globalization;

namespace VoiceAgent.Gateway.Tests;

/// <summary>Synthetic caller speech (espeak-ng → sox) as PCM16 samples, cached per text, voice and rate.</summary>
public static class TestSpeech
{
    /// <summary>The 13 fixed replies of the demo pack (training/corpus_text.py REPLIES): any reply must be one of them.</summary>
    public static readonly string[] Replies =
    [
        "Hello, thank you for calling Harbor Bank. How can I help you today?",
        "Our branches are open from nine to five, Monday to Friday.",
        "Your checking account balance is one thousand two hundred dollars.",
        "I have blocked your card. A new one will arrive within five days.",
        "Sure, I am transferring you to an agent now.",
        "Our main branch is at ten Market Street, next to the library.",
        "Your last payment was forty dollars at the grocery store.",
        "How much would you like to transfer, and to which account?",
        "Our personal loans start at five percent interest per year.",
        "You are welcome. Goodbye, and have a nice day.",
        "Great, that is done.",
        "Okay, I have cancelled that.",
        "Sorry, I can help with balances, cards, transfers, loans, hours and branches.",
    ];

    private static readonly ConcurrentDictionary<string, short[]> Cache = new();

    /// <summary>Speech of <paramref name="text"/> at <paramref name="rate"/> Hz with <paramref name="padMs"/> of silence either side.</summary>
    public static short[] Pcm16(string text, int rate = 16000, string voice = "en-us", int padMs = 300) =>
        Cache.GetOrAdd($"{voice}|{rate}|{padMs}|{text}", _ => Synthesize(text, rate, voice, padMs));

    /// <summary>Writes samples as a 16-bit mono WAV.</summary>
    public static void WriteWav(string path, ReadOnlySpan<short> samples, int rate)
    {
        using var stream = File.Create(path);
        using var writer = new BinaryWriter(stream);
        writer.Write("RIFF"u8);
        writer.Write(36 + samples.Length * 2);
        writer.Write("WAVEfmt "u8);
        writer.Write(16);
        writer.Write((short)1);
        writer.Write((short)1);
        writer.Write(rate);
        writer.Write(rate * 2);
        writer.Write((short)2);
        writer.Write((short)16);
        writer.Write("data"u8);
        writer.Write(samples.Length * 2);
        foreach (var s in samples)
        {
            writer.Write(s);
        }
    }

    /// <summary>Whether <paramref name="text"/> is one of the demo pack's fixed replies.</summary>
    public static bool IsKnownReply(string? text) => text is not null && Replies.Contains(text.Trim(), StringComparer.OrdinalIgnoreCase);

    private static short[] Synthesize(string text, int rate, string voice, int padMs)
    {
        var dir = GatewayProcess.Scratch("speech");
        var name = $"{(uint)StringComparer.Ordinal.GetHashCode(text + voice):x8}-{rate}-{padMs}";
        var raw = Path.Combine(dir, name + ".espeak.wav");
        var pcm = Path.Combine(dir, name + ".raw");
        var pad = (padMs / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);
        GatewayProcess.Tool("espeak-ng", "espeak-ng", "-v", voice, "-w", raw, text);
        GatewayProcess.Tool("sox", "sox", "-D", raw, "-t", "raw", "-b", "16", "-e", "signed-integer", "-c", "1", pcm,
            "rate", rate.ToString(CultureInfo.InvariantCulture), "pad", pad, pad);
        var bytes = File.ReadAllBytes(pcm);
        var samples = new short[bytes.Length / 2];
        Buffer.BlockCopy(bytes, 0, samples, 0, samples.Length * 2);
        return samples;
    }

    /// <summary>Silence of <paramref name="ms"/> milliseconds.</summary>
    public static short[] Silence(int ms, int rate = 16000) => new short[rate * ms / 1000];

    /// <summary>Concatenation.</summary>
    public static short[] Join(params short[][] parts) => parts.SelectMany(p => p).ToArray();
}
