using System.Text.RegularExpressions;

namespace VoiceAgent.Gateway.CallActions;

/// <summary>
/// What the gateway does when the agent's reply says so, bound from the "CallActions" section of appsettings.json
/// (docs/telephony.md, "Call actions"). The demo decoder has no tool tokens, so a reply is recognised by its text: the
/// pack's own wording ("I am transferring you to an agent now") is the contract between the model and the host.
/// </summary>
public sealed partial class CallActionOptions
{
    public const string SectionName = "CallActions";

    /// <summary>Checked in order; the first rule whose phrase is in the reply decides.</summary>
    public List<CallActionRule> Rules { get; set; } = [];

    /// <summary>
    /// Where a transfer sends the caller (sip:, sips: or tel: URI): SIP calls get a REFER to it, WebSocket and hub
    /// clients get it in their <c>call_action</c> event. Empty: SIP calls are not transferred (the event still says
    /// "transfer", without a target, so a host can route by its own rules).
    /// </summary>
    public string? TransferTarget { get; set; }

    /// <summary>
    /// How long after the reply's last audio has left the gateway the action runs (ms): the caller's jitter buffer
    /// and loudspeaker still hold about this much, and hanging up earlier would cut off the reply's last word.
    /// </summary>
    public int AfterReplyMs { get; set; } = 400;

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting (start-up fails with that sentence).</summary>
    public void Validate()
    {
        for (var i = 0; i < Rules.Count; i++)
        {
            var rule = Rules[i];
            if (!CallActionRule.TryParseKind(rule.Action, out _))
            {
                throw new ArgumentException($"CallActions:Rules:{i}:Action must be transfer or hangup, got '{rule.Action}'.");
            }

            if (CallActionPolicy.Normalize(rule.ReplyContains).Length == 0)
            {
                throw new ArgumentException($"CallActions:Rules:{i}:ReplyContains must contain a word.");
            }
        }

        if (!string.IsNullOrWhiteSpace(TransferTarget) && !TargetUri().IsMatch(TransferTarget))
        {
            // The target goes verbatim into a SIP header: no spaces, line breaks, quotes or angle brackets.
            throw new ArgumentException($"CallActions:TransferTarget must be a sip:, sips: or tel: URI without spaces, quotes or angle brackets, got '{TransferTarget}'.");
        }

        if (AfterReplyMs is < 0 or > 10_000)
        {
            throw new ArgumentException($"CallActions:AfterReplyMs must be from 0 to 10000, got {AfterReplyMs}.");
        }
    }

    [GeneratedRegex(@"^(sips?|tel):[^\s<>""]+$", RegexOptions.IgnoreCase)]
    private static partial Regex TargetUri();
}

/// <summary>One rule: when the reply contains <see cref="ReplyContains"/>, do <see cref="Action"/>.</summary>
public sealed class CallActionRule
{
    /// <summary>"transfer" (hand the caller over) or "hangup" (end the call).</summary>
    public string Action { get; set; } = "";

    /// <summary>Words the reply must contain (case, punctuation and spacing are ignored).</summary>
    public string ReplyContains { get; set; } = "";

    internal static bool TryParseKind(string? text, out CallActionKind kind)
    {
        kind = default;
        switch (text?.Trim().ToLowerInvariant())
        {
            case "transfer":
                kind = CallActionKind.Transfer;
                return true;
            case "hangup":
                kind = CallActionKind.Hangup;
                return true;
            default:
                return false;
        }
    }
}
