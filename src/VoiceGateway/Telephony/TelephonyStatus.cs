using VoiceAgent.Gateway.Telephony.Calls;
using VoiceAgent.Gateway.Telephony.Sip;

namespace VoiceAgent.Gateway.Telephony;

/// <summary>The JSON shapes of <c>/v1/telephony/calls</c> and <c>/v1/telephony/stats</c> (snake_case, stable for scripts).</summary>
internal static class TelephonyStatus
{
    public static Dictionary<string, object?> Describe(CallRecord call)
    {
        var json = new Dictionary<string, object?>
        {
            ["id"] = call.Id,
            ["transport"] = call.Transport,
            ["from"] = call.From,
            ["to"] = call.To,
            ["state"] = call.State,
            ["codec"] = call.Codec,
            ["remote_media"] = call.RemoteMedia,
            ["on_hold"] = call.OnHold,
            ["started_at"] = call.StartedAt,
            ["ended_at"] = call.EndedAt,
            ["end_reason"] = call.EndReason,
            ["setup_ms"] = call.SetupMs is { } setup ? Math.Round(setup, 2) : null,
            ["packets_in"] = call.PacketsIn,
            ["packets_out"] = call.PacketsOut,
            ["invalid_packets"] = call.InvalidPackets,
            ["ssrc_changes"] = call.SsrcChanges,
            ["reply_frames"] = call.ReplyFrames,
            ["reply_speech_frames"] = call.ReplySpeechFrames,
            ["reply_energy_dbfs"] = call.ReplyEnergyDbfs is { } energy ? Math.Round(energy, 1) : null,
            ["turns"] = call.Turns,
            ["barge_ins"] = call.BargeIns,
            ["dtmf"] = call.Digits,
        };
        if (call.Jitter is { } jitter)
        {
            json["jitter"] = new Dictionary<string, long>
            {
                ["received"] = jitter.Received,
                ["reordered"] = jitter.Reordered,
                ["duplicates"] = jitter.Duplicates,
                ["late"] = jitter.Late,
                ["lost"] = jitter.Lost,
                ["overflow"] = jitter.Overflow,
                ["underruns"] = jitter.Underruns,
                ["restarts"] = jitter.Restarts,
            };
        }

        return json;
    }

    public static Dictionary<string, object?> Describe(SipCounters counters, SipService sip) => new()
    {
        ["sip_endpoint"] = sip.LocalEndPoint?.ToString(),
        ["datagrams"] = counters.Datagrams,
        ["requests"] = counters.Requests,
        ["responses"] = counters.Responses,
        ["keepalives"] = counters.KeepAlives,
        ["rejected"] = counters.Rejected,
        ["dropped"] = counters.Dropped,
        ["oversize"] = counters.Oversize,
        ["overload_drops"] = counters.OverloadDrops,
        ["retransmissions_received"] = counters.RetransmissionsReceived,
        ["retransmissions_sent"] = counters.RetransmissionsSent,
        ["calls_offered"] = counters.CallsOffered,
        ["calls_answered"] = counters.CallsAnswered,
        ["calls_rejected"] = counters.CallsRejected,
        ["calls_cancelled"] = counters.CallsCancelled,
        ["calls_ended"] = counters.CallsEnded,
        ["stray"] = counters.Stray,
        ["transfers_requested"] = counters.TransfersRequested,
        ["transfers_completed"] = counters.TransfersCompleted,
        ["transfers_failed"] = counters.TransfersFailed,
    };
}
