#!/usr/bin/env python3
"""Float64 NumPy reference of the VoiceAgent log-mel front end (see docs/audio-frontend.md).

Modes (16 kHz input, n_fft 400, hop 160, periodic Hann, |STFT|^2, Slaney mel filters with Slaney norm,
log10(max(mel, 1e-10)), clamp to (max - 8), then (x + 4) / 4):

  whisper    exactly Whisper's log_mel_spectrogram(audio, n_mels, padding): `padding` zeros appended, reflect
             padding of 200 on both sides, frames = (len + padding) // 160 (last STFT frame dropped), clamp against
             the global max.
  streaming  causal: frame i covers samples [160 i - 200, 160 i + 200) with x[-k] = x[k] on the left and zeros
             past the end; total frames = smallest multiple of --group that is >= ceil(len / 160); clamp against
             the running max (all bins of frames 0..i).

Usage:
  python3 scripts/mel_reference.py --mode whisper|streaming [--n-mels 80] [--group 8] [--padding 0] in.wav out.bin
  python3 scripts/mel_reference.py --self-test

in.wav: 16 kHz mono or stereo (averaged) PCM16 or float32 WAV. out.bin: int32 frames, int32 n_mels (little
endian), then float32 little-endian values, frame-major ([frames, n_mels]) for both modes.
"""
import argparse
import math
import struct
import sys

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160


def read_wav(path):
    """Minimal RIFF/WAVE reader: PCM16 or float32 (incl. WAVE_FORMAT_EXTENSIBLE), mono or stereo -> float64 mono."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SystemExit(f"{path}: not a RIFF/WAVE file")
    pos, fmt, pcm = 12, None, None
    while pos + 8 <= len(data):
        cid, size = data[pos:pos + 4], struct.unpack("<I", data[pos + 4:pos + 8])[0]
        body = data[pos + 8:pos + 8 + size]
        if cid == b"fmt ":
            tag, channels, rate = struct.unpack("<HHI", body[:8])
            bits = struct.unpack("<H", body[14:16])[0]
            if tag == 0xFFFE:
                tag = struct.unpack("<H", body[24:26])[0]
            fmt = (tag, channels, rate, bits)
        elif cid == b"data":
            pcm = body
            break
        pos += 8 + size + (size & 1)
    if fmt is None or pcm is None:
        raise SystemExit(f"{path}: missing fmt or data chunk")
    tag, channels, rate, bits = fmt
    if tag == 1 and bits == 16:
        x = np.frombuffer(pcm[: len(pcm) // 2 * 2], dtype="<i2").astype(np.float64) / 32768.0
    elif tag == 3 and bits == 32:
        x = np.frombuffer(pcm[: len(pcm) // 4 * 4], dtype="<f4").astype(np.float64)
    else:
        raise SystemExit(f"{path}: unsupported encoding tag={tag} bits={bits}")
    if channels == 2:
        x = x[: len(x) // 2 * 2].reshape(-1, 2).mean(axis=1)
    elif channels != 1:
        raise SystemExit(f"{path}: {channels} channels")
    return x, rate


def hz_to_mel(f):
    """Slaney mel scale (librosa htk=False)."""
    f = np.asanyarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asanyarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filters(n_mels, sr=SAMPLE_RATE, n_fft=N_FFT):
    """librosa.filters.mel(sr, n_fft, n_mels, fmin=0, fmax=sr/2, htk=False, norm='slaney'), float64."""
    fftfreqs = np.arange(n_fft // 2 + 1, dtype=np.float64) * sr / n_fft
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2:n_mels + 2] - mel_f[:n_mels])
    return weights * enorm[:, None]


def hann_periodic(n=N_FFT):
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def log_mel_frames(frames, n_mels):
    """frames: [T, 400] raw samples -> [T, n_mels] log10(max(mel, 1e-10))."""
    spec = np.fft.rfft(frames * hann_periodic()[None, :], axis=1)
    power = spec.real ** 2 + spec.imag ** 2
    mel = power @ mel_filters(n_mels).T
    return np.log10(np.maximum(mel, 1e-10))


def whisper(x, n_mels, padding=0):
    x = np.concatenate([np.asarray(x, dtype=np.float64), np.zeros(padding)])
    n_frames = len(x) // HOP
    if n_frames == 0:
        return np.zeros((0, n_mels))
    padded = np.pad(x, N_FFT // 2, mode="reflect")
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(N_FFT)[None, :]
    log_spec = log_mel_frames(padded[idx], n_mels)
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return (log_spec + 4.0) / 4.0


def streaming(x, n_mels, group=8):
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    n_frames = -(-(-(-n // HOP)) // group) * group
    if n_frames == 0:
        return np.zeros((0, n_mels))
    ext = np.concatenate([x, np.zeros(n_frames * HOP + N_FFT)])
    idx = np.arange(n_frames)[:, None] * HOP - N_FFT // 2 + np.arange(N_FFT)[None, :]
    frames = ext[np.abs(idx)]
    frames[:, 0] = 0.0  # window tap 0 is zero; x[-200] is never needed
    log_spec = log_mel_frames(frames, n_mels)
    running = np.maximum.accumulate(log_spec.max(axis=1))
    log_spec = np.maximum(log_spec, running[:, None] - 8.0)
    return (log_spec + 4.0) / 4.0


def write_output(path, values):
    values = np.ascontiguousarray(values, dtype="<f4")
    with open(path, "wb") as f:
        f.write(struct.pack("<ii", values.shape[0], values.shape[1]))
        f.write(values.tobytes())


def self_test():
    # 1. Filters vs. a scalar hand computation (math module only) of filter 0 and of a filter above 1 kHz.
    logstep = math.log(6.4) / 27
    mel_top = 15 + math.log(8000 / 1000) / logstep          # Slaney mel of 8 kHz = 45.2452...
    def edge(i, n_mels):
        m = mel_top * i / (n_mels + 1)
        return m * 200 / 3 if m < 15 else 1000 * math.exp(logstep * (m - 15))
    for n_mels in (80, 128):
        w = mel_filters(n_mels)
        e0, e1, e2 = edge(0, n_mels), edge(1, n_mels), edge(2, n_mels)
        f = 40.0  # bin 1
        expect = max(0.0, min((f - e0) / (e1 - e0), (e2 - f) / (e2 - e1))) * 2 / (e2 - e0)
        assert abs(w[0, 1] - expect) < 1e-15, (n_mels, w[0, 1], expect)
        m = n_mels - 10
        lo, c, hi = edge(m, n_mels), edge(m + 1, n_mels), edge(m + 2, n_mels)
        k = int(round(c / 40.0))
        f = 40.0 * k
        expect = max(0.0, min((f - lo) / (c - lo), (hi - f) / (hi - c))) * 2 / (hi - lo)
        assert abs(w[m, k] - expect) < 1e-15, (n_mels, m, k, w[m, k], expect)
    # Known published value: Whisper's mel_filters.npz mel_80[0, 1] = 0.02486259 (float32).
    assert abs(mel_filters(80)[0, 1] - 0.02486259) < 5e-8, mel_filters(80)[0, 1]
    print("filters: hand-computed values match")

    # 2. Whisper mode vs. Whisper's torch code path (torch.stft, center=True, reflect), float64.
    rng = np.random.default_rng(1)
    x = rng.standard_normal(16000 * 2 + 123) * np.linspace(0.01, 0.5, 16000 * 2 + 123)
    try:
        import torch
        for n_mels in (80, 128):
            audio = torch.from_numpy(x)
            window = torch.hann_window(N_FFT, dtype=torch.float64)
            stft = torch.stft(audio, N_FFT, HOP, window=window, return_complex=True)
            magnitudes = stft[..., :-1].abs() ** 2
            mel_spec = torch.from_numpy(mel_filters(n_mels)) @ magnitudes
            log_spec = torch.clamp(mel_spec, min=1e-10).log10()
            log_spec = torch.maximum(log_spec, log_spec.max() - 8.0)
            ref = ((log_spec + 4.0) / 4.0).numpy().T
            ours = whisper(x, n_mels)
            assert ref.shape == ours.shape, (ref.shape, ours.shape)
            diff = np.abs(ref - ours).max()
            assert diff < 1e-9, diff
            print(f"whisper mode vs torch.stft ({n_mels} bins): max abs diff {diff:.2e}")
    except ImportError:
        print("torch not installed: skipped the torch.stft cross-check")

    # 3. Streaming equals Whisper's frames wherever the latter's right reflection is not involved, before clamping.
    for n_mels in (80, 128):
        w = whisper(x, n_mels) * 4 - 4
        s = streaming(x, n_mels) * 4 - 4
        interior = (len(x) - 200) // HOP  # frames whose window ends inside the signal
        gmax = w.max()
        mask = (w[:interior] > gmax - 8) & (s[:interior] > s[:interior].max() - 8 + 1e-9)
        assert np.abs(w[:interior][mask] - s[:interior][mask]).max() < 1e-9
        assert s.shape[0] % 8 == 0 and s.shape[0] >= -(-len(x) // HOP)
    print("streaming mode: interior frames equal whisper mode")
    print("self-test passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["whisper", "streaming"])
    parser.add_argument("--n-mels", type=int, default=80)
    parser.add_argument("--group", type=int, default=8)
    parser.add_argument("--padding", type=int, default=0)
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("input", nargs="?")
    parser.add_argument("output", nargs="?")
    args = parser.parse_args()
    if args.self_test:
        self_test()
        return 0
    if not (args.mode and args.input and args.output):
        parser.error("--mode, input and output are required")
    x, rate = read_wav(args.input)
    if rate != SAMPLE_RATE:
        raise SystemExit(f"{args.input}: sample rate {rate}, expected {SAMPLE_RATE}")
    if args.mode == "whisper":
        out = whisper(x, args.n_mels, args.padding)
    else:
        out = streaming(x, args.n_mels, args.group)
    write_output(args.output, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
