using Microsoft.Extensions.Options;
using VoiceAgent.Gateway.CallActions;
using VoiceAgent.StreamingEngine.Sessions;

namespace VoiceAgent.Gateway.Tests;

/// <summary>Call actions without a transport: which replies match which rule, the settings' checks, and when a call's pending action is due.</summary>
public sealed class CallActionTests
{
    private static readonly CallActionRule[] DemoRules =
    [
        new() { Action = "transfer", ReplyContains = "transferring you to an agent" },
        new() { Action = "hangup", ReplyContains = "goodbye" },
    ];

    [Theory]
    [InlineData("Sure, I am transferring you to an agent now.", "transfer")]
    [InlineData("sure i am TRANSFERRING you  to an agent", "transfer")]
    [InlineData("You are welcome. Goodbye, and have a nice day.", "hangup")]
    [InlineData("Our branches are open from nine to five, Monday to Friday.", null)]
    [InlineData("Say goodbyes to the old card.", null)] // whole words only
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Replies_match_rules_by_whole_words_ignoring_case_and_punctuation(string? reply, string? expected)
    {
        var policy = Policy(target: "sip:agents@pbx.example.test");
        Assert.Equal(expected, policy.ForReply(reply)?.Name);
        if (expected == "transfer")
        {
            Assert.Equal("sip:agents@pbx.example.test", policy.ForReply(reply)!.Target);
        }
    }

    [Fact]
    public void The_first_matching_rule_wins_and_no_rules_means_no_actions()
    {
        var both = Policy(target: null, new CallActionRule { Action = "hangup", ReplyContains = "agent" }, DemoRules[0]);
        Assert.Equal(CallActionKind.Hangup, both.ForReply("I am transferring you to an agent")!.Kind);
        Assert.Null(Policy(target: null, DemoRules[0]).ForReply("transferring you to an agent")!.Target);

        var none = new CallActionPolicy(Options.Create(new CallActionOptions()));
        Assert.False(none.IsEnabled);
        Assert.Null(none.ForReply("Goodbye"));
    }

    [Theory]
    [InlineData("Rules:0:Action", "park", "CallActions:Rules:0:Action must be transfer or hangup, got 'park'.")]
    [InlineData("Rules:0:ReplyContains", " ,. ", "CallActions:Rules:0:ReplyContains must contain a word.")]
    [InlineData("TransferTarget", "agents@pbx", "CallActions:TransferTarget must be a sip:, sips: or tel: URI without spaces, quotes or angle brackets, got 'agents@pbx'.")]
    [InlineData("TransferTarget", "sip:a@b>\r\nX-Injected: 1", "CallActions:TransferTarget must be a sip:, sips: or tel: URI")]
    [InlineData("AfterReplyMs", "-1", "CallActions:AfterReplyMs must be from 0 to 10000, got -1.")]
    public void Bad_settings_fail_with_a_sentence_naming_them(string what, string value, string expected)
    {
        var options = new CallActionOptions { Rules = [new() { Action = "hangup", ReplyContains = "goodbye" }] };
        switch (what)
        {
            case "Rules:0:Action":
                options.Rules[0].Action = value;
                break;
            case "Rules:0:ReplyContains":
                options.Rules[0].ReplyContains = value;
                break;
            case "TransferTarget":
                options.TransferTarget = value;
                break;
            default:
                options.AfterReplyMs = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                break;
        }

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.StartsWith(expected, error.Message, StringComparison.Ordinal);
        new CallActionOptions { Rules = [.. DemoRules], TransferTarget = "tel:+15550100" }.Validate(); // and good ones pass
    }

    [Fact]
    public void A_pending_action_runs_once_after_the_reply_audio_has_drained_and_the_delay_has_passed()
    {
        var tracker = new ReplyActionTracker(Policy(target: "sip:agents@pbx.example.test", afterReplyMs: 400));
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 0, out _)); // nothing armed

        tracker.OnEvent(new SessionEvent(SessionEventKind.ReplyDone, 3) { Text = "Sure, I am transferring you to an agent now." });
        Assert.Null(tracker.Poll(replyAudioSent: true, nowMs: 1_000, out _)); // the reply is still playing
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 1_020, out _)); // drained: the delay starts
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 1_400, out _));
        Assert.Null(tracker.Poll(replyAudioSent: true, nowMs: 1_410, out _)); // audio again (held call resumed): start over
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 1_430, out _));
        var action = tracker.Poll(replyAudioSent: false, nowMs: 1_830, out var turn);
        Assert.Equal(CallActionKind.Transfer, action?.Kind);
        Assert.Equal(3, turn);
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 5_000, out _)); // once
    }

    [Fact]
    public void A_barge_in_on_the_announcing_reply_cancels_its_action_and_other_replies_arm_nothing()
    {
        var tracker = new ReplyActionTracker(Policy(target: null, afterReplyMs: 0));
        tracker.OnEvent(new SessionEvent(SessionEventKind.ReplyDone, 2) { Text = "You are welcome. Goodbye, and have a nice day." });
        tracker.OnEvent(new SessionEvent(SessionEventKind.BargeIn, 2) { AudioMs = 900 });
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 10_000, out _));

        tracker.OnEvent(new SessionEvent(SessionEventKind.ReplyDone, 3) { Text = "Our main branch is at ten Market Street." });
        Assert.Null(tracker.Poll(replyAudioSent: false, nowMs: 20_000, out _));

        tracker.OnEvent(new SessionEvent(SessionEventKind.ReplyDone, 4) { Text = "Goodbye." });
        tracker.OnEvent(new SessionEvent(SessionEventKind.BargeIn, 3) { AudioMs = 100 }); // an earlier turn's barge-in
        Assert.Equal(CallActionKind.Hangup, tracker.Poll(replyAudioSent: false, nowMs: 30_000, out _)?.Kind);
    }

    private static CallActionPolicy Policy(string? target, params CallActionRule[] rules) => Policy(target, 400, rules);

    private static CallActionPolicy Policy(string? target, int afterReplyMs, params CallActionRule[] rules) =>
        new(Options.Create(new CallActionOptions
        {
            Rules = [.. rules.Length == 0 ? DemoRules : rules],
            TransferTarget = target,
            AfterReplyMs = afterReplyMs,
        }));
}
