namespace VoiceAgent.Gateway.Telephony.Rtp;

/// <summary>
/// Fills the gap of a lost packet. G.711 Appendix I repeats pitch periods; what listens here is a VAD and a speech
/// encoder, not a person, so a simpler scheme does: repeat the last good frame with a decaying gain (so a burst loss
/// fades out instead of buzzing), and fall to silence after <see cref="MaxRepeats"/> consecutive losses.
/// </summary>
public sealed class PacketLossConcealer(int maxFrameSamples = 480)
{
    /// <summary>Consecutive concealed frames before the output is silence.</summary>
    public const int MaxRepeats = 3;

    private static readonly float[] Gains = [0.7f, 0.4f, 0.15f];

    private readonly short[] _last = new short[maxFrameSamples];
    private int _lastLength;
    private int _consecutive;

    /// <summary>Length of the last good frame (what one lost packet is assumed to cover).</summary>
    public int LastFrameSamples => _lastLength;

    /// <summary>Remembers a frame that played normally.</summary>
    public void Good(ReadOnlySpan<short> frame)
    {
        var n = Math.Min(frame.Length, _last.Length);
        frame[..n].CopyTo(_last);
        _lastLength = n;
        _consecutive = 0;
    }

    /// <summary>Writes the concealment for one lost frame of <paramref name="destination"/>.Length samples.</summary>
    public void Conceal(Span<short> destination)
    {
        if (_consecutive >= MaxRepeats || _lastLength == 0)
        {
            destination.Clear();
            _consecutive++;
            return;
        }

        var gain = Gains[_consecutive];
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = (short)(_last[i % _lastLength] * gain);
        }

        _consecutive++;
    }
}
