using System.Diagnostics;

namespace VoiceAgent.Perf.Load;

/// <summary>
/// Everything measured about one user turn of one session. Timestamps are <see cref="Stopwatch"/> ticks of the bench
/// process; 0 means "did not happen". Written by the session's sender and receiver, read after the run.
/// </summary>
internal sealed class TurnRecord
{
    private readonly Lock _gate = new();
    private long _stallTicks; // playout time lost to underruns so far

    public required int Session { get; init; }

    public required int Turn { get; init; }

    public required string ClipId { get; init; }

    public required string ClipSource { get; init; }

    public required double SpeechMs { get; init; }

    /// <summary>The demo intent of a synthetic question (null for human clips).</summary>
    public string? Intent { get; init; }

    /// <summary>When the frame holding the last voiced sample was handed to the connection.</summary>
    public long LastVoicedSent { get; set; }

    public long Committed { get; private set; }

    public long FirstAudio { get; private set; }

    public long LastAudio { get; private set; }

    public long ReplyAudioSamples { get; private set; }

    public double? ReplyAudioMs { get; private set; }

    public double? EngineFirstPacketMs { get; private set; }

    public double? VadCommitMs { get; private set; }

    /// <summary>What ended the turn, as the far end reported it (<c>silence</c>, <c>semantic</c>; null when it does not say).</summary>
    public string? EndOfTurn { get; private set; }

    public IReadOnlyDictionary<string, double>? Stages { get; private set; }

    public string? Transcript { get; private set; }

    public string? ReplyText { get; private set; }

    public int Commits { get; private set; }

    public int BargeIns { get; private set; }

    public int Errors { get; private set; }

    public int Underruns { get; private set; }

    /// <summary>Reply audio position (ms) where playout first ran dry, and the total gap heard (ms).</summary>
    public double? FirstUnderrunAtMs { get; private set; }

    public double StallMs => _stallTicks * 1000.0 / Stopwatch.Frequency;

    /// <summary>Reply audio that arrived before the last voiced sample was sent (an early commit of this turn).</summary>
    public int EarlyAudioFrames { get; private set; }

    /// <summary>Turn ends the server reported before the frame with the clip's last voiced sample was sent (a cut-off caller).</summary>
    public int PrematureCommits { get; private set; }

    public bool LatencyReported { get; private set; }

    public bool Completed { get; set; }

    /// <summary>Reply audio length as received (or as announced when the far end says so).</summary>
    public double ReceivedAudioMs(int outputRate) => ReplyAudioMs ?? (ReplyAudioSamples * 1000.0 / outputRate);

    /// <summary>Wall time from sending the last voiced frame to receiving the far end's commit (its VAD end event).</summary>
    public double? LastVoicedToCommitMs => LastVoicedSent != 0 && Committed > LastVoicedSent ? Stopwatch.GetElapsedTime(LastVoicedSent, Committed).TotalMilliseconds : null;

    /// <summary>Wall time from receiving the commit to receiving the first reply audio.</summary>
    public double? CommitToFirstAudioMs => Committed != 0 && FirstAudio > Committed ? Stopwatch.GetElapsedTime(Committed, FirstAudio).TotalMilliseconds : null;

    public double? UserLatencyMs => LastVoicedSent != 0 && FirstAudio != 0 ? Stopwatch.GetElapsedTime(LastVoicedSent, FirstAudio).TotalMilliseconds : null;

    /// <summary>Time to receive the reply divided by its duration: below 1 the reply streams faster than it plays.</summary>
    public double? ReplyRealTimeFactor(int outputRate)
    {
        var audioMs = ReceivedAudioMs(outputRate);
        return FirstAudio == 0 || audioMs <= 0 ? null : Stopwatch.GetElapsedTime(FirstAudio, LastAudio).TotalMilliseconds / audioMs;
    }

    /// <summary>Whether the reply has been heard to its end by a caller playing it in real time.</summary>
    public bool PlayoutDone(long now, int outputRate, double playoutBufferMs)
    {
        lock (_gate)
        {
            return FirstAudio != 0 && ReplyAudioMs is { } total
                && Stopwatch.GetElapsedTime(FirstAudio + _stallTicks, now).TotalMilliseconds >= total + playoutBufferMs;
        }
    }

    public void OnSignal(in ServerSignal s, int outputRate, double playoutBufferMs)
    {
        lock (_gate)
        {
            switch (s.Kind)
            {
                case SignalKind.ReplyAudio:
                    if (LastVoicedSent == 0)
                    {
                        EarlyAudioFrames++;
                        return;
                    }

                    if (FirstAudio == 0)
                    {
                        FirstAudio = s.Timestamp;
                    }
                    else
                    {
                        // Playout of what arrived so far ends at FirstAudio + buffer + received (+ earlier stalls); a frame
                        // arriving later is a gap the caller hears, and playout resumes from its arrival.
                        var due = FirstAudio + _stallTicks + (long)((playoutBufferMs + (ReplyAudioSamples * 1000.0 / outputRate)) * Stopwatch.Frequency / 1000.0);
                        if (s.Timestamp > due)
                        {
                            Underruns++;
                            FirstUnderrunAtMs ??= ReplyAudioSamples * 1000.0 / outputRate;
                            _stallTicks += s.Timestamp - due;
                        }
                    }

                    LastAudio = s.Timestamp;
                    ReplyAudioSamples += s.AudioSamples;
                    break;
                case SignalKind.TurnCommitted:
                    Commits++;
                    Committed = s.Timestamp;
                    if (LastVoicedSent == 0)
                    {
                        PrematureCommits++; // the server ended the turn while the caller had more to say
                    }

                    break;
                case SignalKind.Transcript:
                    Transcript = s.Text;
                    break;
                case SignalKind.ReplyText:
                    ReplyText = s.Text;
                    break;
                case SignalKind.ReplyAudioEnded:
                    ReplyAudioMs = s.AudioMs ?? (ReplyAudioSamples * 1000.0 / outputRate);
                    break;
                case SignalKind.Latency:
                    LatencyReported = true;
                    EngineFirstPacketMs = s.EngineFirstPacketMs;
                    VadCommitMs = s.VadCommitMs;
                    EndOfTurn = s.EndOfTurn;
                    Stages = s.Stages;
                    break;
                case SignalKind.BargeIn:
                    BargeIns++;
                    break;
                case SignalKind.Error:
                    Errors++;
                    break;
            }
        }
    }
}
