using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace VoiceAgent.Perf.Cascade;

/// <summary>Receives synthesized PCM16 as it is produced; return false to stop the synthesis.</summary>
internal delegate bool SynthesizedPcmSink(ReadOnlySpan<short> pcm);

/// <summary>
/// The cascade peer's reply voice: espeak-ng through its library (<c>libespeak-ng.so.1</c>) in synchronous mode, so
/// PCM arrives through a callback in small buffers while the rest of the sentence is still being synthesized (a
/// streaming TTS, not a whole-file one). espeak-ng keeps one global synthesizer per process, so calls are serialized.
/// </summary>
internal static unsafe partial class EspeakSynthesizer
{
    private const string Library = "libespeak-ng.so.1";
    private const int AudioOutputSynchronous = 2;
    private const int PositionCharacter = 1;
    private const int CharsUtf8 = 1;

    /// <summary>Length of the buffers espeak hands to the callback, in ms (small, so the first audio is early).</summary>
    private const int BufferMs = 20;

    private static readonly Lock Gate = new();
    private static int _sampleRate;
    private static SynthesizedPcmSink? _sink;

    /// <summary>Output rate of the synthesizer (22050 Hz for espeak-ng's voices); initializes it on first use.</summary>
    public static int SampleRate
    {
        get
        {
            lock (Gate)
            {
                EnsureInitialized();
                return _sampleRate;
            }
        }
    }

    /// <summary>Synthesizes <paramref name="text"/> with the given voice, handing PCM to <paramref name="sink"/> as it comes.</summary>
    public static void Speak(string text, string voice, SynthesizedPcmSink sink)
    {
        lock (Gate)
        {
            EnsureInitialized();
            if (espeak_SetVoiceByName(voice) != 0)
            {
                throw new InvalidOperationException($"espeak-ng has no voice '{voice}'.");
            }

            _sink = sink;
            try
            {
                var bytes = System.Text.Encoding.UTF8.GetBytes(text + "\0");
                fixed (byte* p = bytes)
                {
                    var status = espeak_Synth(p, (nuint)bytes.Length, 0, PositionCharacter, 0, CharsUtf8, null, null);
                    if (status != 0)
                    {
                        throw new InvalidOperationException($"espeak-ng synthesis failed with status {status}.");
                    }
                }
            }
            finally
            {
                _sink = null;
            }
        }
    }

    private static void EnsureInitialized()
    {
        if (_sampleRate > 0)
        {
            return;
        }

        var rate = espeak_Initialize(AudioOutputSynchronous, BufferMs, null, 0);
        if (rate <= 0)
        {
            throw new InvalidOperationException("espeak-ng could not be initialized; install the Debian package espeak-ng.");
        }

        espeak_SetSynthCallback(&OnSynthesized);
        _sampleRate = rate;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnSynthesized(short* wav, int samples, IntPtr events)
    {
        // wav is null once the text is done; a zero-length buffer can come between clauses.
        if (wav is null || samples <= 0 || _sink is not { } sink)
        {
            return 0;
        }

        try
        {
            return sink(new ReadOnlySpan<short>(wav, samples)) ? 0 : 1;
        }
        catch (Exception)
        {
            // An exception must not cross into native code; abort the synthesis instead.
            return 1;
        }
    }

    [LibraryImport(Library)]
    private static partial int espeak_Initialize(int output, int bufferMs, byte* path, int options);

    [LibraryImport(Library)]
    private static partial void espeak_SetSynthCallback(delegate* unmanaged[Cdecl]<short*, int, IntPtr, int> callback);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int espeak_SetVoiceByName(string name);

    [LibraryImport(Library)]
    private static partial int espeak_Synth(byte* text, nuint size, uint position, int positionType, uint endPosition, uint flags, uint* uniqueIdentifier, void* userData);
}
