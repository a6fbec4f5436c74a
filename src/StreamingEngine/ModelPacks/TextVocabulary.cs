using System.Globalization;
using System.Text;
using System.Text.Json;

namespace VoiceAgent.StreamingEngine.ModelPacks;

/// <summary>
/// The pack's word table (<c>vocab.text_tokens.type = word</c>: a JSON object <c>{"id": "token"}</c>). Specials and
/// reserved entries (<c>&lt;|…|&gt;</c>) are kept for display but are not words; audio ids have no entry.
/// </summary>
public sealed class TextVocabulary
{
    private readonly string?[] _tokens;
    private readonly bool[] _isWord;

    private TextVocabulary(string?[] tokens, bool[] isWord, string join)
    {
        _tokens = tokens;
        _isWord = isWord;
        Join = join;
    }

    /// <summary>The separator between words (<c>vocab.text_tokens.join</c>, default one space).</summary>
    public string Join { get; }

    /// <summary>Number of id slots (<c>vocab.text_vocab_size</c>).</summary>
    public int Count => _tokens.Length;

    /// <summary>The table entry of <paramref name="id"/> (specials included), or null.</summary>
    public string? GetToken(long id) => id >= 0 && id < _tokens.Length ? _tokens[id] : null;

    /// <summary>The word of <paramref name="id"/>, or null when the id is a special, reserved, unknown or audio id.</summary>
    public string? GetWord(long id) => id >= 0 && id < _tokens.Length && _isWord[id] ? _tokens[id] : null;

    /// <summary>Joins the words of <paramref name="ids"/> (non-word ids are skipped), as docs/model-pack.md §4 describes.</summary>
    public string Detokenize(ReadOnlySpan<long> ids)
    {
        var sb = new StringBuilder();
        foreach (var id in ids)
        {
            if (GetWord(id) is { } word)
            {
                if (sb.Length > 0)
                {
                    sb.Append(Join);
                }

                sb.Append(word);
            }
        }

        return sb.ToString();
    }

    /// <summary>Reads <paramref name="path"/> (displayed as <paramref name="displayPath"/> in errors).</summary>
    internal static TextVocabulary Load(string path, string displayPath, long textVocabSize, IReadOnlySet<long> specialIds, string join)
    {
        Dictionary<string, string>? table;
        try
        {
            table = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new ModelPackException(displayPath, e.Path, $"invalid JSON at line {e.LineNumber + 1} ({e.Path}): {e.Message}", e);
        }

        if (table is null)
        {
            throw new ModelPackException(displayPath, null, "the vocabulary is null but must be an object {\"id\": \"token\"}.");
        }

        var tokens = new string?[textVocabSize];
        var isWord = new bool[textVocabSize];
        foreach (var (key, token) in table)
        {
            if (!long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var id) || id >= textVocabSize)
            {
                throw new ModelPackException(displayPath, key, $"key \"{key}\" is not an id in [0, vocab.text_vocab_size = {textVocabSize}).");
            }

            tokens[id] = token;
            isWord[id] = !specialIds.Contains(id) && !(token.StartsWith("<|", StringComparison.Ordinal) && token.EndsWith("|>", StringComparison.Ordinal));
        }

        return new TextVocabulary(tokens, isWord, join);
    }
}
