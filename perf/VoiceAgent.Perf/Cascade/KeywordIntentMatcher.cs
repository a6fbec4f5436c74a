namespace VoiceAgent.Perf.Cascade;

/// <summary>
/// The cascade peer's NLU: the demo bank's 13 intents (the same ones and the same reply sentences the demo pack was
/// trained on, training/corpus_text.py) matched by weighted keywords over the ASR transcript. Deliberately simple:
/// it costs microseconds, so the cascade's latency is its ASR and TTS, as in a typical rule-based IVR.
/// </summary>
internal static class KeywordIntentMatcher
{
    public const string Fallback = "fallback";

    /// <summary>Agent reply per intent (the demo pack's reply texts).</summary>
    public static IReadOnlyDictionary<string, string> Replies { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["greeting"] = "Hello, thank you for calling Harbor Bank. How can I help you today?",
        ["opening_hours"] = "Our branches are open from nine to five, Monday to Friday.",
        ["check_balance"] = "Your checking account balance is one thousand two hundred dollars.",
        ["lost_card"] = "I have blocked your card. A new one will arrive within five days.",
        ["speak_to_agent"] = "Sure, I am transferring you to an agent now.",
        ["branch_location"] = "Our main branch is at ten Market Street, next to the library.",
        ["recent_transactions"] = "Your last payment was forty dollars at the grocery store.",
        ["transfer_money"] = "How much would you like to transfer, and to which account?",
        ["loan_info"] = "Our personal loans start at five percent interest per year.",
        ["thanks_goodbye"] = "You are welcome. Goodbye, and have a nice day.",
        ["confirm"] = "Great, that is done.",
        ["cancel"] = "Okay, I have cancelled that.",
        [Fallback] = "Sorry, I can help with balances, cards, transfers, loans, hours and branches.",
    };

    // Keyword → weight per intent; a phrase of two words scores when both appear in order.
    private static readonly (string Intent, string[] Keys, int Weight)[] Rules =
    [
        ("check_balance", ["balance", "how much money", "in my account", "in my checking"], 3),
        ("lost_card", ["lost", "stolen", "stole", "block", "freeze", "missing", "card"], 2),
        ("speak_to_agent", ["agent", "human", "person", "representative", "operator", "someone", "customer service"], 3),
        ("opening_hours", ["open", "close", "hours", "what time", "how late", "saturday", "sunday", "weekend"], 3),
        ("branch_location", ["where", "address", "street", "located", "location", "nearest", "find your"], 3),
        ("recent_transactions", ["transaction", "payment", "payments", "purchase", "purchases", "spent", "spend", "last charge"], 3),
        ("transfer_money", ["transfer", "send money", "move", "wire", "pay someone", "funds"], 3),
        ("loan_info", ["loan", "loans", "borrow", "mortgage", "interest", "rate", "rates"], 3),
        ("thanks_goodbye", ["thank", "thanks", "bye", "goodbye", "that is all", "that's all"], 2),
        ("confirm", ["yes", "yeah", "correct", "go ahead", "sure", "right", "do it", "go for it"], 1),
        ("cancel", ["cancel", "no", "don't", "stop", "never mind", "changed my mind"], 1),
        ("greeting", ["hello", "hi", "hey", "good morning", "good afternoon", "good evening", "anybody there"], 1),
    ];

    /// <summary>The best-scoring intent of a transcript, or <see cref="Fallback"/> when no keyword matches.</summary>
    public static string Match(string transcript)
    {
        var text = " " + transcript.ToLowerInvariant() + " ";
        var best = Fallback;
        var bestScore = 0;
        foreach (var (intent, keys, weight) in Rules)
        {
            var score = 0;
            foreach (var key in keys)
            {
                if (text.Contains(" " + key + " ", StringComparison.Ordinal))
                {
                    score += weight;
                }
            }

            if (score > bestScore)
            {
                best = intent;
                bestScore = score;
            }
        }

        return best;
    }
}
