using System.Text;
using VoiceAgent.StreamingEngine.ModelPacks;

namespace VoiceAgent.StreamingEngine.Stages;

/// <summary>
/// Greedy CTC transcript assembly (docs/model-pack.md §2): concatenate the per-frame ids, collapse repeats, drop the
/// blank, map id <c>k</c> to <c>chars[k − char_id_offset]</c> (ids outside the table are skipped).
/// </summary>
public sealed class CtcDecoder
{
    private readonly IReadOnlyList<string> _chars;

    public CtcDecoder(IReadOnlyList<string> chars, long blankId = 0, long charIdOffset = 1)
    {
        ArgumentNullException.ThrowIfNull(chars);
        _chars = chars;
        BlankId = blankId;
        CharIdOffset = charIdOffset;
    }

    /// <summary>The blank id.</summary>
    public long BlankId { get; }

    /// <summary>Id of <c>chars[0]</c>.</summary>
    public long CharIdOffset { get; }

    /// <summary>The decoder of a manifest's <c>tokenizer.ctc</c> section.</summary>
    public static CtcDecoder From(CtcSection ctc) => new(ctc.Chars!, ctc.BlankId ?? 0, ctc.CharIdOffset ?? 1);

    /// <summary>Decodes a whole id sequence.</summary>
    public string Decode(ReadOnlySpan<long> ids)
    {
        var sb = new StringBuilder();
        var previous = long.MinValue;
        foreach (var id in ids)
        {
            if (id != previous && id != BlankId)
            {
                var index = id - CharIdOffset;
                if (index >= 0 && index < _chars.Count)
                {
                    sb.Append(_chars[(int)index]);
                }
            }

            previous = id;
        }

        return sb.ToString();
    }
}
