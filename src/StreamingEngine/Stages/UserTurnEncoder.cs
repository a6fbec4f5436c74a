using VoiceAgent.Core.Audio;
using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// The per-caller front half of a user turn: 16 kHz PCM → <see cref="StreamingLogMel"/> (the pack's streaming mel,
/// docs/model-pack.md §1) → <see cref="SemanticTokenizerStream"/>. The tokenizer runs while the user speaks (one step
/// per 80 ms of audio); <see cref="Complete"/> flushes the mel stream at the end of the turn and returns the
/// <see cref="EncodedTurn"/>. Not thread-safe; <see cref="Reset"/> (or <see cref="Complete"/>) starts the next turn.
/// </summary>
public sealed class UserTurnEncoder : IDisposable
{
    private readonly StreamingLogMel _mel;
    private readonly SemanticTokenizerStream _stream;
    private float[] _frames;

    public UserTurnEncoder(SemanticTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        RequireStreamingMel(tokenizer.Pack);
        _mel = new StreamingLogMel(tokenizer.MelBins, tokenizer.Pack.Manifest.Mel!.FrameGroup ?? tokenizer.FramesPerStep);
        _stream = tokenizer.CreateStream();
        _frames = new float[StreamingLogMel.GetMaxFrames(640) * tokenizer.MelBins];
    }

    /// <summary>The tokenizer stream (tokens, features so far).</summary>
    public SemanticTokenizerStream Stream => _stream;

    /// <summary>The mel front end.</summary>
    public StreamingLogMel Mel => _mel;

    /// <summary>Consumes 16 kHz mono samples; returns the tokenizer steps run.</summary>
    public int PushAudio(ReadOnlySpan<float> samples, CancellationToken cancellationToken = default)
    {
        EnsureFrames(StreamingLogMel.GetMaxFrames(samples.Length));
        var frames = _mel.Process(samples, _frames);
        return _stream.PushFrames(_frames.AsSpan(0, frames * _mel.MelBins), cancellationToken);
    }

    /// <summary>Ends the turn: flushes the mel (padding to whole chunks), runs the last steps, returns the turn and resets for the next one.</summary>
    public EncodedTurn Complete(CancellationToken cancellationToken = default)
    {
        EnsureFrames(_mel.GetFlushFrameCount());
        var frames = _mel.Flush(_frames);
        _stream.PushFrames(_frames.AsSpan(0, frames * _mel.MelBins), cancellationToken);
        var turn = _stream.ToTurn();
        Reset();
        return turn;
    }

    /// <summary>Abandons the turn (mel running max and tokenizer caches restart).</summary>
    public void Reset()
    {
        _mel.Reset();
        _stream.Reset();
    }

    public void Dispose() => _stream.Dispose();

    /// <summary>Checks that the pack's mel section is the front end <see cref="StreamingLogMel"/> implements.</summary>
    internal static void RequireStreamingMel(ModelPack pack)
    {
        var m = pack.Manifest.Mel!;
        var ok = m.SampleRate == 16000 && m.NFft == 400 && m.HopLength == 160 && m.WinLength == 400
            && m.Window == "hann_periodic" && m.MelScale == "slaney" && m.MelNorm == "slaney" && m.Log == "log10"
            && m.LogFloor == 1e-10 && m.ClampBelowMax == 8.0 && m.ClampMode == "running_max" && m.Offset == 4.0
            && m.Divisor == 4.0 && m.Framing == "streaming" && (m.LeftPad ?? "reflect") == "reflect"
            && (m.Fmin ?? 0) == 0 && (m.Fmax ?? 8000) == 8000 && (m.Power ?? 2.0) == 2.0;
        if (!ok)
        {
            throw new NotSupportedException($"{pack.DisplayPath}: the mel section does not describe the streaming Whisper-style front end that StreamingLogMel implements (16 kHz, n_fft 400, hop 160, Slaney, log10, running-max clamp 8, (x + 4) / 4).");
        }
    }

    private void EnsureFrames(int frames)
    {
        var needed = frames * _mel.MelBins;
        if (_frames.Length < needed)
        {
            _frames = new float[needed];
        }
    }
}
