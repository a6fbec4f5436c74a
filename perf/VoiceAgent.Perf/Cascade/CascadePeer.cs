using System.Buffers;
using System.Diagnostics;
using System.Threading.Channels;
using VoiceAgent.Core.Audio;
using VoiceAgent.Perf.Load;
using VoiceAgent.StreamingEngine.Vad;

namespace VoiceAgent.Perf.Cascade;

/// <summary>
/// The traditional cascade the bench compares against, built from off-the-shelf parts: the same Silero VAD and
/// turn-taking settings as the VoiceAgent session (so both commit a turn at the same moment), pocketsphinx decoding
/// while the caller speaks, keyword NLU, and espeak-ng streaming the reply. It runs in the bench process and is driven
/// through <see cref="IVoiceConnection"/> exactly like the server, so user-felt latency is measured by the same code.
/// </summary>
internal sealed class CascadePeer(SileroVadModel vad, VadOptions turnVad, string replyVoice = "en-us")
{
    public IVoiceConnection Open() => new CascadeConnection(vad, turnVad.Clone(), replyVoice);

    /// <summary>One caller's cascade: a worker thread does what a cascade server would do for that caller.</summary>
    private sealed class CascadeConnection : IVoiceConnection
    {
        private const int Rate = 16000;
        private const int PreRollMs = 1500;

        private readonly Channel<(short[] Buffer, int Length)> _input =
            Channel.CreateBounded<(short[], int)>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true });

        private readonly Channel<ServerSignal> _signals = Channel.CreateUnbounded<ServerSignal>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        private readonly VoiceActivityDetector _vad;
        private readonly PocketSphinxRecognizer _asr = new();
        private readonly string _voice;
        private readonly short[] _ring = new short[Rate * PreRollMs / 1000];
        private readonly float[] _floats = new float[4096];
        private readonly List<VadEvent> _events = [];
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _worker;
        private readonly int _padSamples;
        private long _samples;
        private bool _speaking;
        private int _turn;

        public CascadeConnection(SileroVadModel model, VadOptions options, string voice)
        {
            _voice = voice;
            _padSamples = Rate * options.SpeechPadMs / 1000;
            _vad = new VoiceActivityDetector(model, options, Rate);
            _vad.SpeechStarted += (_, e) => _events.Add(e);
            _vad.SpeechEnded += (_, e) => _events.Add(e);
            _worker = Task.Factory.StartNew(Run, TaskCreationOptions.LongRunning);
        }

        public int InputSampleRate => Rate;

        public int OutputSampleRate => EspeakSynthesizer.SampleRate;

        public ChannelReader<ServerSignal> Signals => _signals.Reader;

        public ValueTask SendAsync(ReadOnlyMemory<short> frame, CancellationToken cancellationToken)
        {
            var buffer = ArrayPool<short>.Shared.Rent(frame.Length);
            frame.Span.CopyTo(buffer);
            return _input.Writer.WriteAsync((buffer, frame.Length), cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            _input.Writer.TryComplete();
            await _stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await _worker.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopping mid-turn is how a bench run ends.
            }

            _vad.Dispose();
            _asr.Dispose();
            _stop.Dispose();
        }

        private void Run()
        {
            try
            {
                var reader = _input.Reader;
                while (reader.WaitToReadAsync(_stop.Token).AsTask().GetAwaiter().GetResult())
                {
                    while (reader.TryRead(out var item))
                    {
                        try
                        {
                            OnAudio(item.Buffer.AsSpan(0, item.Length));
                        }
                        finally
                        {
                            ArrayPool<short>.Shared.Return(item.Buffer);
                        }
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                // Closed by the bench.
            }
            finally
            {
                _signals.Writer.TryWrite(new ServerSignal(SignalKind.Closed, Stopwatch.GetTimestamp()));
                _signals.Writer.TryComplete();
            }
        }

        private void OnAudio(ReadOnlySpan<short> pcm)
        {
            for (var i = 0; i < pcm.Length; i++)
            {
                _ring[(_samples + i) % _ring.Length] = pcm[i];
            }

            _samples += pcm.Length;
            var floats = _floats.AsSpan(0, pcm.Length);
            PcmConvert.ToFloat(pcm, floats);
            _vad.Process(floats);
            if (_speaking)
            {
                _asr.Process(pcm);
            }

            foreach (var e in _events)
            {
                if (e.Kind == VadEventKind.SpeechStart && !_speaking)
                {
                    // Decode from the VAD's onset (it confirms speech only after MinSpeechMs), out of the pre-roll ring.
                    _speaking = true;
                    _asr.StartUtterance();
                    var from = Math.Max(e.Sample, _samples - _ring.Length);
                    FeedRing(from, _samples);
                }
                else if (e.Kind == VadEventKind.SpeechEnd && _speaking)
                {
                    _speaking = false;
                    Reply(vadCommitMs: Math.Max(0, _samples - (e.Sample - _padSamples)) * 1000.0 / Rate);
                }
            }

            _events.Clear();
        }

        private void FeedRing(long from, long to)
        {
            while (from < to)
            {
                var start = (int)(from % _ring.Length);
                var count = (int)Math.Min(to - from, _ring.Length - start);
                _asr.Process(_ring.AsSpan(start, count));
                from += count;
            }
        }

        /// <summary>ASR final → NLU → streaming TTS, timed per stage like the engine's latency event.</summary>
        private void Reply(double vadCommitMs)
        {
            var turn = ++_turn;
            var committed = Stopwatch.GetTimestamp();
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.TurnCommitted, committed) { TurnId = turn });
            var transcript = _asr.EndUtterance();
            var asrFinal = Stopwatch.GetTimestamp();
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.Transcript, asrFinal) { TurnId = turn, Text = transcript });
            var reply = KeywordIntentMatcher.Replies[KeywordIntentMatcher.Match(transcript)];
            var nlu = Stopwatch.GetTimestamp();
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.ReplyText, nlu) { TurnId = turn, Text = reply });
            long firstAudio = 0;
            long samples = 0;
            EspeakSynthesizer.Speak(reply, _voice, pcm =>
            {
                var now = Stopwatch.GetTimestamp();
                if (firstAudio == 0)
                {
                    firstAudio = now;
                }

                samples += pcm.Length;
                _signals.Writer.TryWrite(new ServerSignal(SignalKind.ReplyAudio, now) { TurnId = turn, AudioSamples = pcm.Length });
                return !_stop.IsCancellationRequested;
            });

            var done = Stopwatch.GetTimestamp();
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.ReplyAudioEnded, done) { TurnId = turn, AudioMs = samples * 1000.0 / EspeakSynthesizer.SampleRate });
            _signals.Writer.TryWrite(new ServerSignal(SignalKind.Latency, done)
            {
                TurnId = turn,
                VadCommitMs = vadCommitMs,
                EngineFirstPacketMs = firstAudio == 0 ? null : Ms(committed, firstAudio),
                Stages = new Dictionary<string, double>
                {
                    ["asr_final"] = Ms(committed, asrFinal),
                    ["nlu"] = Ms(asrFinal, nlu),
                    ["tts_first_audio"] = firstAudio == 0 ? double.NaN : Ms(nlu, firstAudio),
                    ["total"] = Ms(committed, done),
                },
            });
        }

        private static double Ms(long from, long to) => Stopwatch.GetElapsedTime(from, to).TotalMilliseconds;
    }
}
