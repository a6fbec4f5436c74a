namespace VoiceAgent.StreamingEngine.Sampling;

/// <summary>
/// Picks the next id of one token stream from a logits row: an optional fixed logit bias (the pack's
/// <c>sampling.text_logit_bias</c>), repetition penalty over a window of recently accepted ids, then argmax (temperature 0 or top-k 1; ties go to the lowest id, as <c>torch.argmax</c>) or top-k sampling at the
/// temperature with a seeded <see cref="Random"/>. All scratch is allocated in the constructor: <see cref="Sample"/> and
/// <see cref="Accept"/> allocate nothing. One sampler per stream per conversation; not thread-safe.
/// </summary>
public sealed class TokenSampler
{
    private readonly float[] _scratch;
    private readonly int[] _stamp;
    private readonly long[] _window;
    private readonly int[] _topIds;
    private readonly float[] _topValues;
    private readonly double[] _weights;
    private readonly ReadOnlyMemory<float> _bias;
    private Random _random;
    private int _stampValue;
    private int _windowCount;
    private int _windowNext;

    /// <param name="settings">Sampling settings.</param>
    /// <param name="vocabSize">Width of a logits row.</param>
    /// <param name="seed">Seed of the RNG (reproducible sampling); null = a random seed.</param>
    /// <param name="logitBias">Added to every logits row before anything else (empty = none; else <paramref name="vocabSize"/> values, kept by reference: the caller does not change them).</param>
    public TokenSampler(SamplerSettings settings, int vocabSize, int? seed = null, ReadOnlyMemory<float> logitBias = default)
    {
        settings.Validate();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(vocabSize);
        if (!logitBias.IsEmpty && logitBias.Length != vocabSize)
        {
            throw new ArgumentException($"The logit bias has {logitBias.Length} values but the vocabulary has {vocabSize}.", nameof(logitBias));
        }

        _bias = logitBias;

        Settings = settings;
        VocabSize = vocabSize;
        Seed = seed;
        _random = seed is { } s ? new Random(s) : new Random();
        _scratch = new float[vocabSize];
        _stamp = new int[vocabSize];
        _window = new long[Math.Max(1, settings.RepetitionWindow)];
        var k = EffectiveTopK;
        _topIds = new int[k];
        _topValues = new float[k];
        _weights = new double[k];
    }

    /// <summary>The settings.</summary>
    public SamplerSettings Settings { get; }

    /// <summary>Width of a logits row.</summary>
    public int VocabSize { get; }

    /// <summary>The seed given at construction (null = random).</summary>
    public int? Seed { get; }

    /// <summary>Number of ids in the repetition window now.</summary>
    public int WindowCount => _windowCount;

    private int EffectiveTopK => Settings.TopK <= 0 || Settings.TopK > VocabSize ? VocabSize : Settings.TopK;

    private bool PenaltyActive => Settings.RepetitionPenalty != 1 && Settings.RepetitionWindow > 0;

    /// <summary>Chooses an id from <paramref name="logits"/> (length <see cref="VocabSize"/>). Does not record it: call <see cref="Accept"/> for ids that are used.</summary>
    public long Sample(ReadOnlySpan<float> logits)
    {
        if (logits.Length != VocabSize)
        {
            throw new ArgumentException($"Expected {VocabSize} logits, got {logits.Length}.", nameof(logits));
        }

        ReadOnlySpan<float> scores = logits;
        if (!_bias.IsEmpty || (PenaltyActive && _windowCount > 0))
        {
            GetPenalizedLogits(logits, _scratch);
            scores = _scratch;
        }

        return Settings.IsGreedy ? ArgMax(scores) : SampleTopK(scores);
    }

    /// <summary>Writes the biased, penalised scores of <paramref name="logits"/> to <paramref name="destination"/> (what <see cref="Sample"/> ranks).</summary>
    public void GetPenalizedLogits(ReadOnlySpan<float> logits, Span<float> destination)
    {
        AddBias(logits, _bias.Span, destination);
        if (PenaltyActive && _windowCount > 0)
        {
            ApplyPenalty(destination);
        }
    }

    /// <summary>Records <paramref name="id"/> as generated (it enters the repetition window, evicting the oldest).</summary>
    public void Accept(long id)
    {
        if (Settings.RepetitionWindow <= 0)
        {
            return;
        }

        _window[_windowNext] = id;
        _windowNext = (_windowNext + 1) % _window.Length;
        _windowCount = Math.Min(_windowCount + 1, _window.Length);
    }

    /// <summary>Clears the repetition window; with <paramref name="reseed"/>, restarts the RNG from <see cref="Seed"/>.</summary>
    public void Reset(bool reseed = true)
    {
        _windowCount = 0;
        _windowNext = 0;
        if (reseed && Seed is { } s)
        {
            _random = new Random(s);
        }
    }

    /// <summary>Writes <paramref name="logits"/> + <paramref name="bias"/> to <paramref name="destination"/> (a plain copy when the bias is empty).</summary>
    public static void AddBias(ReadOnlySpan<float> logits, ReadOnlySpan<float> bias, Span<float> destination)
    {
        logits.CopyTo(destination);
        for (var i = 0; i < bias.Length; i++)
        {
            destination[i] += bias[i];
        }
    }

    /// <summary>Index of the largest value (the first one on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        var best = 0;
        var bestValue = float.NegativeInfinity;
        for (var i = 0; i < values.Length; i++)
        {
            if (values[i] > bestValue)
            {
                bestValue = values[i];
                best = i;
            }
        }

        return best;
    }

    private void ApplyPenalty(Span<float> scores)
    {
        // Each distinct id in the window is penalised once (stamps avoid a set).
        if (++_stampValue == int.MaxValue)
        {
            Array.Clear(_stamp);
            _stampValue = 1;
        }

        var penalty = (float)Settings.RepetitionPenalty;
        for (var i = 0; i < _windowCount; i++)
        {
            var id = _window[i];
            if (id < 0 || id >= scores.Length || _stamp[id] == _stampValue)
            {
                continue;
            }

            _stamp[id] = _stampValue;
            scores[(int)id] = scores[(int)id] > 0 ? scores[(int)id] / penalty : scores[(int)id] * penalty;
        }
    }

    private long SampleTopK(ReadOnlySpan<float> scores)
    {
        var k = EffectiveTopK;
        if (k == scores.Length)
        {
            return SampleAll(scores);
        }

        // Keep the k best in descending order (insertion; k is small in practice, ties keep the lower id first).
        var count = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var v = scores[i];
            if (count == k && !(v > _topValues[k - 1]))
            {
                continue;
            }

            var pos = count < k ? count++ : k - 1;
            while (pos > 0 && v > _topValues[pos - 1])
            {
                _topValues[pos] = _topValues[pos - 1];
                _topIds[pos] = _topIds[pos - 1];
                pos--;
            }

            _topValues[pos] = v;
            _topIds[pos] = i;
        }

        var invT = 1.0 / Settings.Temperature;
        var max = (double)_topValues[0];
        var sum = 0.0;
        for (var i = 0; i < count; i++)
        {
            var w = Math.Exp((_topValues[i] - max) * invT);
            _weights[i] = w;
            sum += w;
        }

        var r = _random.NextDouble() * sum;
        for (var i = 0; i < count; i++)
        {
            r -= _weights[i];
            if (r < 0)
            {
                return _topIds[i];
            }
        }

        return _topIds[count - 1];
    }

    private long SampleAll(ReadOnlySpan<float> scores)
    {
        var invT = 1.0 / Settings.Temperature;
        double max = scores[ArgMax(scores)];
        var sum = 0.0;
        for (var i = 0; i < scores.Length; i++)
        {
            var w = Math.Exp((scores[i] - max) * invT);
            _weights[i] = w;
            sum += w;
        }

        var r = _random.NextDouble() * sum;
        for (var i = 0; i < scores.Length; i++)
        {
            r -= _weights[i];
            if (r < 0)
            {
                return i;
            }
        }

        return ArgMax(scores);
    }
}
