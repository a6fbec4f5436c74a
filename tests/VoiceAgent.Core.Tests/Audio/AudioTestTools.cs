using System.Diagnostics;
using System.Globalization;
using VoiceAgent.Core.Audio;

namespace VoiceAgent.Core.Tests.Audio;

/// <summary>External tools (sox, espeak-ng, python3) and signal metrics for the audio tests.</summary>
internal static class AudioTestTools
{
    private static readonly Lock ToolLock = new();

    /// <summary>Runs <paramref name="tool"/>; fails with a clear message when it is not installed or exits non-zero.</summary>
    public static string Run(string tool, params string[] arguments)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException(
                $"The test needs the external tool '{tool}', which is not installed or not on PATH (run ./voiceagent setup: it installs sox, espeak-ng and python3 with numpy).", e);
        }

        using (process)
        {
            var stdoutTask = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            var stdout = stdoutTask.GetAwaiter().GetResult();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"'{tool} {string.Join(' ', arguments)}' exited with {process.ExitCode}: {stderr.Trim()}");
            }

            return stdout;
        }
    }

    /// <summary>Python 3 with NumPy (the system interpreter, where setup installs numpy).</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>A speech WAV (espeak-ng, 22050 Hz PCM16), created once per scratch folder.</summary>
    public static string Speech22k()
    {
        var path = Path.Combine(TestPaths.Scratch("audio"), "speech-22050.wav");
        lock (ToolLock)
        {
            if (!File.Exists(path))
            {
                var tmp = path + ".tmp.wav";
                Run("espeak-ng", "-s", "150", "-w", tmp,
                    "The quick brown fox jumps over the lazy dog. Please call Stella and ask her to bring these things with her from the store: six spoons of fresh snow peas.");
                File.Move(tmp, path, overwrite: true);
            }
        }

        return path;
    }

    /// <summary>The espeak-ng speech converted by sox (no dither) to <paramref name="rate"/> Hz PCM16.</summary>
    public static string Speech(int rate)
    {
        var source = Speech22k();
        if (rate == 22050)
        {
            return source;
        }

        var path = Path.Combine(TestPaths.Scratch("audio"), $"speech-{rate}.wav");
        lock (ToolLock)
        {
            if (!File.Exists(path))
            {
                var tmp = path + ".tmp.wav";
                Run("sox", "-D", source, "-b", "16", "-e", "signed-integer", tmp, "rate", "-v", Invariant(rate));
                File.Move(tmp, path, overwrite: true);
            }
        }

        return path;
    }

    /// <summary>A recorded (human) 16 kHz utterance from the pocketsphinx test data, or null when not installed.</summary>
    public static string? Recording()
    {
        const string Path1 = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav";
        return File.Exists(Path1) ? Path1 : null;
    }

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    public static string Invariant(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>10·log10(Σ ref² / Σ (ref − test)²) over <paramref name="reference"/>.</summary>
    public static double Snr(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        double signal = 0, noise = 0;
        for (var i = 0; i < reference.Length; i++)
        {
            signal += (double)reference[i] * reference[i];
            var d = (double)reference[i] - test[i];
            noise += d * d;
        }

        return 10 * Math.Log10(signal / Math.Max(noise, 1e-300));
    }

    public static AudioClip ReadWav(string path) => WavFile.Read(path);
}
