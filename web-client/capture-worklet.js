// Microphone capture on the audio thread: cuts the input into 20 ms PCM16 frames at the protocol rate and posts each
// frame (transferred, not copied) with its RMS level. When the context does not run at the target rate (Firefox cannot
// connect a microphone to a context of another rate), it low-passes and resamples with linear interpolation.

class CaptureProcessor extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const { targetRate = 16000, frameMs = 20 } = options.processorOptions || {};
    this.frameSamples = Math.round((targetRate * frameMs) / 1000);
    this.step = sampleRate / targetRate; // input samples per output sample
    this.position = 0; // fractional read position into the (filtered) input history
    this.previous = 0; // last filtered input sample (for interpolation across quanta)
    this.lowpass = 0;
    // One-pole low-pass at about the target Nyquist: enough to keep aliasing out of speech when downsampling.
    this.alpha = this.step > 1 ? 1 - Math.exp((-2 * Math.PI * (targetRate / 2)) / sampleRate) : 1;
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.energy = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) {
      return true;
    }

    if (this.step === 1) {
      for (let i = 0; i < channel.length; i++) {
        this.push(channel[i]);
      }
      return true;
    }

    // Resample: output sample k sits at input position k * step; interpolate between neighbours.
    for (let i = 0; i < channel.length; i++) {
      this.lowpass += this.alpha * (channel[i] - this.lowpass);
      const current = this.lowpass;
      while (this.position <= 1) {
        this.push(this.previous + (current - this.previous) * this.position);
        this.position += this.step;
      }
      this.position -= 1;
      this.previous = current;
    }
    return true;
  }

  push(sample) {
    const clamped = Math.max(-1, Math.min(1, sample));
    this.frame[this.filled++] = clamped < 0 ? clamped * 0x8000 : clamped * 0x7fff;
    this.energy += clamped * clamped;
    if (this.filled === this.frameSamples) {
      const level = Math.sqrt(this.energy / this.frameSamples);
      this.port.postMessage({ pcm: this.frame.buffer, level }, [this.frame.buffer]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
      this.energy = 0;
    }
  }
}

registerProcessor('voice-capture', CaptureProcessor);
