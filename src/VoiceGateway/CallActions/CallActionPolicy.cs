using System.Text;
using Microsoft.Extensions.Options;

namespace VoiceAgent.Gateway.CallActions;

/// <summary>What a finished reply asks the transport to do after it has played.</summary>
public enum CallActionKind
{
    /// <summary>Hand the caller over (SIP: REFER to <see cref="CallActionOptions.TransferTarget"/>).</summary>
    Transfer,

    /// <summary>End the call (SIP: BYE).</summary>
    Hangup,
}

/// <summary>An action for one reply; <see cref="Target"/> is the transfer target when one is configured.</summary>
public sealed record CallAction(CallActionKind Kind, string? Target)
{
    /// <summary>The protocol's name for it ("transfer", "hangup").</summary>
    public string Name => Kind == CallActionKind.Transfer ? "transfer" : "hangup";

    /// <summary>The call record's end reason when the call ends because of it (turn: the reply that asked).</summary>
    public string EndReason(int turn) => Kind == CallActionKind.Hangup
        ? $"the agent ended the call after turn {turn}"
        : $"the agent asked for a transfer{(Target is { } target ? $" to {target}" : "")} after turn {turn}";
}

/// <summary>
/// Matches finished replies against the configured rules (one instance per process, shared by every transport;
/// immutable after construction, so thread-safe).
/// </summary>
public sealed class CallActionPolicy
{
    private readonly (string PaddedPhrase, CallAction Action)[] _rules; // " words " (see ForReply)

    public CallActionPolicy(IOptions<CallActionOptions> options)
    {
        var value = options.Value;
        var target = string.IsNullOrWhiteSpace(value.TransferTarget) ? null : value.TransferTarget.Trim();
        _rules = value.Rules
            .Select(rule => CallActionRule.TryParseKind(rule.Action, out var kind)
                ? ($" {Normalize(rule.ReplyContains)} ", new CallAction(kind, kind == CallActionKind.Transfer ? target : null))
                : throw new ArgumentException($"Unknown call action '{rule.Action}' (CallActionOptions.Validate runs at start-up)."))
            .ToArray();
        AfterReply = TimeSpan.FromMilliseconds(value.AfterReplyMs);
    }

    /// <summary>How long after the reply's last audio left the gateway the action runs.</summary>
    public TimeSpan AfterReply { get; }

    /// <summary>Whether any rule is configured (transports skip the bookkeeping otherwise).</summary>
    public bool IsEnabled => _rules.Length > 0;

    /// <summary>The action the reply asks for, or null.</summary>
    public CallAction? ForReply(string? replyText)
    {
        if (_rules.Length == 0 || string.IsNullOrEmpty(replyText))
        {
            return null;
        }

        // Padded with spaces so a phrase matches whole words only ("bye" is not in "goodbye").
        var reply = $" {Normalize(replyText)} ";
        foreach (var (phrase, action) in _rules)
        {
            if (reply.Contains(phrase, StringComparison.Ordinal))
            {
                return action;
            }
        }

        return null;
    }

    /// <summary>Lower-case words separated by single spaces: punctuation, case and spacing do not matter.</summary>
    internal static string Normalize(string? text)
    {
        var builder = new StringBuilder(text?.Length ?? 0);
        foreach (var c in text ?? "")
        {
            if (char.IsLetterOrDigit(c) || c == '\'')
            {
                builder.Append(char.ToLowerInvariant(c));
            }
            else if (builder.Length > 0 && builder[^1] != ' ')
            {
                builder.Append(' ');
            }
        }

        return builder.ToString().TrimEnd();
    }
}
