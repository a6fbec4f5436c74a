using System.Runtime.InteropServices;

namespace VoiceAgent.Perf.Cascade;

/// <summary>
/// Streaming speech recognition with Debian's pocketsphinx 5-prealpha library (<c>libpocketsphinx.so.3</c>), the
/// cascade peer's ASR. Audio is decoded while it arrives (<see cref="Process"/> per 20 ms frame), so at the end of a
/// turn only the final search remains, as in a streaming cascade. One instance per caller; not thread-safe.
/// </summary>
internal sealed partial class PocketSphinxRecognizer : IDisposable
{
    private const string PocketSphinx = "libpocketsphinx.so.3";
    private const string SphinxBase = "libsphinxbase.so.3";

    /// <summary>The US English acoustic model, dictionary and generic language model of Debian's pocketsphinx-en-us.</summary>
    public const string DefaultModelDirectory = "/usr/share/pocketsphinx/model/en-us";

    private readonly DecoderHandle _decoder;
    private bool _inUtterance;

    public PocketSphinxRecognizer(string modelDirectory = DefaultModelDirectory)
    {
        var hmm = Path.Combine(modelDirectory, "en-us");
        var lm = Path.Combine(modelDirectory, "en-us.lm.bin");
        var dict = Path.Combine(modelDirectory, "cmudict-en-us.dict");
        foreach (var path in new[] { hmm, lm, dict })
        {
            if (!Path.Exists(path))
            {
                throw new FileNotFoundException($"pocketsphinx model file {path} is missing; install the Debian package pocketsphinx-en-us.", path);
            }
        }

        // argv[0] is skipped by sphinxbase like a program name; the rest are name/value pairs.
        string[] args = ["cascade", "-hmm", hmm, "-lm", lm, "-dict", dict, "-logfn", "/dev/null"];
        var config = ParseArguments(args);
        if (config == IntPtr.Zero)
        {
            throw new InvalidOperationException("pocketsphinx rejected its configuration.");
        }

        try
        {
            var decoder = ps_init(config);
            if (decoder == IntPtr.Zero)
            {
                throw new InvalidOperationException($"pocketsphinx could not load the model in {modelDirectory}.");
            }

            _decoder = new DecoderHandle(decoder);
        }
        finally
        {
            // The decoder keeps its own reference to the configuration.
            _ = cmd_ln_free_r(config);
        }
    }

    /// <summary>Sample rate the acoustic model expects.</summary>
    public static int SampleRate => 16000;

    /// <summary>Starts a new utterance (ends one still open without reading its result).</summary>
    public void StartUtterance()
    {
        if (_inUtterance)
        {
            _ = ps_end_utt(_decoder);
        }

        Check(ps_start_utt(_decoder), "ps_start_utt");
        _inUtterance = true;
    }

    /// <summary>Feeds 16 kHz PCM16 of the open utterance; the search advances on every call.</summary>
    public unsafe void Process(ReadOnlySpan<short> pcm)
    {
        if (!_inUtterance || pcm.IsEmpty)
        {
            return;
        }

        fixed (short* data = pcm)
        {
            Check(ps_process_raw(_decoder, data, (nuint)pcm.Length, 0, 0), "ps_process_raw");
        }
    }

    /// <summary>Ends the utterance and returns the best hypothesis (empty when nothing was recognised).</summary>
    public string EndUtterance()
    {
        if (!_inUtterance)
        {
            return string.Empty;
        }

        _inUtterance = false;
        Check(ps_end_utt(_decoder), "ps_end_utt");
        var hyp = ps_get_hyp(_decoder, out _);
        return hyp == IntPtr.Zero ? string.Empty : Marshal.PtrToStringUTF8(hyp) ?? string.Empty;
    }

    public void Dispose() => _decoder.Dispose();

    private static IntPtr ParseArguments(string[] args)
    {
        var pointers = new IntPtr[args.Length];
        try
        {
            for (var i = 0; i < args.Length; i++)
            {
                pointers[i] = Marshal.StringToCoTaskMemUTF8(args[i]);
            }

            return cmd_ln_parse_r(IntPtr.Zero, ps_args(), args.Length, pointers, 1);
        }
        finally
        {
            foreach (var p in pointers)
            {
                Marshal.FreeCoTaskMem(p);
            }
        }
    }

    private static void Check(int status, string function)
    {
        if (status < 0)
        {
            throw new InvalidOperationException($"pocketsphinx {function} failed with status {status}.");
        }
    }

    [LibraryImport(PocketSphinx)]
    private static partial IntPtr ps_args();

    [LibraryImport(PocketSphinx)]
    private static partial IntPtr ps_init(IntPtr config);

    [LibraryImport(PocketSphinx)]
    private static partial int ps_free(IntPtr decoder);

    [LibraryImport(PocketSphinx)]
    private static partial int ps_start_utt(DecoderHandle decoder);

    [LibraryImport(PocketSphinx)]
    private static unsafe partial int ps_process_raw(DecoderHandle decoder, short* data, nuint samples, int noSearch, int fullUtterance);

    [LibraryImport(PocketSphinx)]
    private static partial int ps_end_utt(DecoderHandle decoder);

    [LibraryImport(PocketSphinx)]
    private static partial IntPtr ps_get_hyp(DecoderHandle decoder, out int bestScore);

    [LibraryImport(SphinxBase)]
    private static partial IntPtr cmd_ln_parse_r(IntPtr existing, IntPtr definitions, int argc, [In] IntPtr[] argv, int strict);

    [LibraryImport(SphinxBase)]
    private static partial int cmd_ln_free_r(IntPtr config);

    /// <summary>Owns a <c>ps_decoder_t</c>; released once, by Dispose or the finalizer.</summary>
    private sealed class DecoderHandle : SafeHandle
    {
        public DecoderHandle(IntPtr decoder)
            : base(IntPtr.Zero, ownsHandle: true) => SetHandle(decoder);

        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle() => ps_free(handle) >= 0;
    }
}
