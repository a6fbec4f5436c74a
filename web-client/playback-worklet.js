// Reply playback on the audio thread: a small jitter buffer in front of the loudspeaker.
//  - starts playing once startMs of audio is buffered (absorbs network jitter without adding much delay);
//  - when more than maxMs piles up, drops the oldest audio down to the start level, so the caller hears the present
//    instead of falling further behind. The server sends only ~200 ms ahead of real time, so this happens only when
//    the audio thread itself stopped (a suspended tab); a busy main thread that delivers a burst after a stall of a
//    few hundred ms must not cost the caller the agent's words, hence the cap is well above lead + stall;
//  - on underrun, fades the last samples out (no click) and buffers again; resumes with a fade-in;
//  - 'end' (the server's reply_audio_end: nothing more comes for this turn) plays out a final tail shorter than
//    startMs instead of holding it until the next reply;
//  - 'stop' (barge-in) silences it within one render quantum (with a short fade) and discards everything queued.
// It reports what it actually played, so the page can tell the server (playback reports) and tests can check it.

class PlaybackProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { inputRate = sampleRate, startMs = 80, maxMs = 1500, fadeMs = 5 } = options.processorOptions || {};
    this.ratio = inputRate / sampleRate; // input samples per output sample (1 when the context runs at the reply rate)
    this.startSamples = Math.round((sampleRate * startMs) / 1000);
    this.maxSamples = Math.round((sampleRate * maxMs) / 1000);
    this.fadeSamples = Math.max(1, Math.round((sampleRate * fadeMs) / 1000));
    this.chunks = []; // Float32Array chunks at the context rate
    this.offset = 0; // read offset into chunks[0]
    this.buffered = 0;
    this.playing = false;
    this.fadeIn = 0;
    this.stopping = false;
    this.ending = false; // the current turn's audio is all here: play what is left, however little
    this.turn = 0;
    this.played = 0; // samples played for this.turn
    this.sumSquares = 0;
    this.peak = 0;
    this.underruns = 0;
    this.droppedSamples = 0;
    this.quanta = 0;
    this.port.onmessage = (event) => this.onMessage(event.data);
  }

  onMessage(message) {
    if (message.type === 'audio') {
      this.enqueue(new Int16Array(message.pcm));
    } else if (message.type === 'start') {
      if (message.turn !== this.turn) {
        this.turn = message.turn;
        this.played = 0;
      }
      this.ending = false;
    } else if (message.type === 'end') {
      this.ending = message.turn === this.turn;
    } else if (message.type === 'stop') {
      this.stopping = true;
    }
  }

  enqueue(pcm) {
    const length = Math.floor(pcm.length / this.ratio);
    const chunk = new Float32Array(length);
    for (let i = 0; i < length; i++) {
      const position = i * this.ratio;
      const index = Math.floor(position);
      const a = pcm[index] / 32768;
      const b = index + 1 < pcm.length ? pcm[index + 1] / 32768 : a;
      chunk[i] = a + (b - a) * (position - index);
    }
    this.chunks.push(chunk);
    this.buffered += length;
    if (this.buffered > this.maxSamples) {
      this.drop(this.buffered - this.startSamples);
    }
  }

  drop(samples) {
    this.droppedSamples += samples;
    while (samples > 0 && this.chunks.length > 0) {
      const available = this.chunks[0].length - this.offset;
      const take = Math.min(available, samples);
      this.offset += take;
      samples -= take;
      this.buffered -= take;
      if (this.offset === this.chunks[0].length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
  }

  process(inputs, outputs) {
    const output = outputs[0][0];
    output.fill(0);

    if (this.stopping) {
      // Barge-in: fade out what would have played in this quantum, then forget the rest.
      if (this.playing) {
        this.read(output, output.length);
        for (let i = 0; i < output.length; i++) {
          output[i] *= Math.max(0, 1 - i / Math.min(this.fadeSamples, output.length));
        }
      }
      this.chunks = [];
      this.offset = 0;
      this.buffered = 0;
      this.playing = false;
      this.stopping = false;
      this.ending = false;
      this.port.postMessage({ type: 'stopped', turn: this.turn, played: this.played });
    } else {
      if (!this.playing && this.buffered > 0 && (this.buffered >= this.startSamples || this.ending)) {
        this.playing = true;
        this.fadeIn = this.fadeSamples;
        this.port.postMessage({ type: 'started', turn: this.turn, currentTime });
      }

      if (this.playing) {
        const got = this.read(output, output.length);
        for (let i = 0; i < got && this.fadeIn > 0; i++, this.fadeIn--) {
          output[i] *= 1 - this.fadeIn / this.fadeSamples;
        }
        if (got < output.length) {
          // Underrun (or the end of the reply): fade the tail we have, then wait for the buffer to fill again.
          const fade = Math.min(got, this.fadeSamples);
          for (let i = 0; i < fade; i++) {
            output[got - fade + i] *= 1 - (i + 1) / fade;
          }
          this.playing = false;
          if (this.ending) {
            this.ending = false;
          } else {
            this.underruns++;
          }
        }
        this.played += got;
        for (let i = 0; i < got; i++) {
          this.sumSquares += output[i] * output[i];
          this.peak = Math.max(this.peak, Math.abs(output[i]));
        }
      }
    }

    if (++this.quanta % 8 === 0) {
      this.port.postMessage({
        type: 'stats',
        turn: this.turn,
        played: this.played,
        playing: this.playing,
        buffered: this.buffered,
        underruns: this.underruns,
        dropped: this.droppedSamples,
        sumSquares: this.sumSquares,
        peak: this.peak,
      });
    }
    return true;
  }

  read(output, count) {
    let written = 0;
    while (written < count && this.chunks.length > 0) {
      const chunk = this.chunks[0];
      const take = Math.min(count - written, chunk.length - this.offset);
      output.set(chunk.subarray(this.offset, this.offset + take), written);
      written += take;
      this.offset += take;
      this.buffered -= take;
      if (this.offset === chunk.length) {
        this.chunks.shift();
        this.offset = 0;
      }
    }
    return written;
  }
}

registerProcessor('voice-playback', PlaybackProcessor);
