"""Part 2 (detokenizer + vocoder) shared definitions: paths, the vocoder mel, the Euler noise generator, tensors.

The vocoder mel (50 Hz, what the detokenizer predicts and the vocoder consumes):
  16 kHz, n_fft 1024, hop 320, periodic Hann window of 1024, |STFT| (magnitude), 80 Slaney mel filters
  (fmin 0, fmax 8000, Slaney area norm), ln(max(mel, 1e-5)), then per-bin (x - mean[b]) / std[b].
  The audio is first zero-padded at the end to a multiple of 320 samples (T = len/320 frames), then reflect-padded
  by 352 samples on both sides; frame i = padded[320 i : 320 i + 1024], i.e. centred on sample 320 i + 160.
  So mel frame i <-> output audio samples [320 i, 320 i + 320) and semantic token k (12.5 Hz) <-> frames 4k..4k+3.
"""
import base64
import json
import math
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TRAINING = os.path.dirname(HERE)
REPO = os.path.dirname(TRAINING)
sys.path.insert(0, TRAINING)
from common import mel_filterbank  # noqa: E402  (part-1 Slaney filterbank, librosa-equal)

DATA2 = os.path.join(TRAINING, "data", "part2")
WORK2 = os.path.join(TRAINING, "work", "part2")
RUNS2 = os.path.join(TRAINING, "runs", "part2")
PACK = os.path.join(REPO, "models", "demo")

SR = 16000
VN_FFT = 1024
VHOP = 320
VPAD = (VN_FFT - VHOP) // 2          # 352
N_MELS = 80
LOG_FLOOR = 1e-5
UPSAMPLE = 4                         # mel frames per semantic token
TOKEN_SAMPLES = VHOP * UPSAMPLE      # 1280 samples = 80 ms


HISTORY_KEYS = ("init", "init_step", "init_train_minutes", "recovered_from")


def history(ck):
    """What a warm start from checkpoint `ck` inherits: its own steps and minutes plus the history it carried."""
    return {"init_step": ck.get("step", 0) + ck.get("init_step", 0),
            "init_train_minutes": round(ck.get("elapsed", 0.0) / 60 + ck.get("init_train_minutes", 0.0), 1)}


def carried_history(ck):
    """The history a resumed checkpoint already carries (what its own warm start inherited)."""
    return {k: ck[k] for k in HISTORY_KEYS if k in ck}


def warm_start_history(ini, path):
    """The history of a run started from the weights in `path` (checkpoint `ini`), for its training record."""
    return {"init": os.path.relpath(path, TRAINING), **history(ini)}


def training_record(ck, checkpoint):
    """The manifest's training record of a part-2 checkpoint: its own steps/minutes and what it started from."""
    return {"checkpoint": checkpoint, "step": ck["step"], "train_minutes": round(ck["elapsed"] / 60, 1),
            **carried_history(ck), **({"recipe": ck["recipe"]} if "recipe" in ck else {})}


def ensure_dirs():
    for d in (DATA2, WORK2, RUNS2, os.path.join(WORK2, "logs")):
        os.makedirs(d, exist_ok=True)


def save_json(path, obj, indent=1):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=indent)
    os.replace(tmp, path)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def mel_stats():
    """The per-bin mean and std (float32 [80]) of the training split's vocoder ln-mel (make_data.py): the
    detokenizer's mel is normalised with them."""
    st = load_json(os.path.join(DATA2, "mel_stats.json"))
    return np.array(st["mean"], np.float32), np.array(st["std"], np.float32)


_FB = None


def vfb():
    global _FB
    if _FB is None:
        _FB = mel_filterbank(sr=SR, n_fft=VN_FFT, n_mels=N_MELS, fmin=0.0, fmax=8000.0).astype(np.float32)
    return _FB


def pad_to_tokens(x):
    """Zero-pad a waveform at the end to a whole number of tokens (1280 samples)."""
    n = -(-len(x) // TOKEN_SAMPLES) * TOKEN_SAMPLES
    return np.concatenate([x.astype(np.float32), np.zeros(n - len(x), np.float32)])


def vmel_np(x):
    """Un-normalised log mel [T, 80] of a waveform whose length is a multiple of 320."""
    x = np.asarray(x, np.float32)
    assert len(x) % VHOP == 0
    p = np.pad(x, (VPAD, VPAD), mode="reflect")
    T = len(x) // VHOP
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(VN_FFT) / VN_FFT)
    idx = np.arange(T)[:, None] * VHOP + np.arange(VN_FFT)[None, :]
    mag = np.abs(np.fft.rfft(p[idx].astype(np.float64) * win, axis=1))
    return np.log(np.maximum(mag @ vfb().T.astype(np.float64), LOG_FLOOR)).astype(np.float32)


class VMelTorch:
    """Batched torch version: wave [B, N] (N multiple of 320) -> un-normalised log mel [B, T, 80]."""

    def __init__(self):
        import torch
        self.torch = torch
        self.fb = torch.tensor(vfb())
        self.win = torch.hann_window(VN_FFT, periodic=True)

    def __call__(self, wave):
        torch = self.torch
        p = torch.nn.functional.pad(wave.unsqueeze(1), (VPAD, VPAD), mode="reflect").squeeze(1)
        fr = p.unfold(-1, VN_FFT, VHOP)
        spec = torch.fft.rfft(fr * self.win, dim=-1)
        mag = torch.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-12)
        return torch.log(torch.clamp(mag @ self.fb.T, min=LOG_FLOOR))


# ----------------------------------------------------------------------------------------------
# Deterministic Euler start noise (the C# engine implements the same): counter-based splitmix64 + Box-Muller.
# ----------------------------------------------------------------------------------------------
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def _splitmix64_np(x):
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def noise_frames(seed, first_frame, n_frames, n_mels=N_MELS):
    """Noise for absolute mel frames [first_frame, first_frame + n_frames) of one reply -> [n_frames, 80] f32.
    Element (f, b): n = f*80 + b; h1 = splitmix64((seed << 32) + 2n), h2 = splitmix64((seed << 32) + 2n + 1)
    (all mod 2^64, seed a uint32); u1 = ((h1 >> 11) + 1) / 2^53 in (0, 1], u2 = (h2 >> 11) / 2^53;
    z = sqrt(-2 ln u1) * cos(2 pi u2) computed in float64, then rounded to float32."""
    base = np.uint64((int(seed) & 0xFFFFFFFF) << 32)
    n = np.arange(first_frame * n_mels, (first_frame + n_frames) * n_mels, dtype=np.uint64)
    with np.errstate(over="ignore"):
        h1 = _splitmix64_np(base + np.uint64(2) * n)
        h2 = _splitmix64_np(base + np.uint64(2) * n + np.uint64(1))
    u1 = ((h1 >> np.uint64(11)).astype(np.float64) + 1.0) * (1.0 / 9007199254740992.0)
    u2 = (h2 >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    z = np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)
    return z.reshape(n_frames, n_mels).astype(np.float32)


def noise_frames_scalar(seed, first_frame, n_frames, n_mels=N_MELS):
    """Plain-integer version of noise_frames (reference for ports; identical output)."""
    out = np.empty((n_frames, n_mels), np.float64)
    base = (int(seed) & 0xFFFFFFFF) << 32
    for i in range(n_frames):
        for b in range(n_mels):
            k = (first_frame + i) * n_mels + b
            h1 = splitmix64((base + 2 * k) & M64)
            h2 = splitmix64((base + 2 * k + 1) & M64)
            u1 = ((h1 >> 11) + 1) * (1.0 / 9007199254740992.0)
            u2 = (h2 >> 11) * (1.0 / 9007199254740992.0)
            out[i, b] = math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Golden tensors
# ----------------------------------------------------------------------------------------------
def enc_tensor(a):
    a = np.asarray(a)
    if a.dtype.kind == "f":
        a, dt = a.astype("<f4"), "float32"
    else:
        a, dt = a.astype("<i8"), "int64"
    return {"dtype": dt, "shape": list(a.shape), "data_b64": base64.b64encode(np.ascontiguousarray(a).tobytes())
            .decode()}


def dec_tensor(t):
    dt = {"float32": "<f4", "int64": "<i8"}[t["dtype"]]
    return np.frombuffer(base64.b64decode(t["data_b64"]), dtype=dt).reshape(t["shape"]).copy()


def write_wav(path, x, sr=SR):
    from scipy.io import wavfile
    wavfile.write(path, sr, (np.clip(x, -1, 1) * 32767).astype(np.int16))
