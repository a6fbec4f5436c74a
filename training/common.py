"""Shared paths, constants and the streaming log-mel front end (torch + numpy versions)."""
import json
import math
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
DATA = os.path.join(HERE, "data")
WORK = os.path.join(HERE, "work")
RUNS = os.path.join(HERE, "runs")
PACK = os.path.join(REPO, "models", "demo")
SEED = 20240611

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
CHUNK_FRAMES = 8          # mel frames per encoder step (80 ms)
TOKEN_RATE = 12.5


def ensure_dirs():
    for d in (DATA, WORK, RUNS, os.path.join(WORK, "logs")):
        os.makedirs(d, exist_ok=True)


def save_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def load_json(path):
    with open(path) as f:
        return json.load(f)


# ----------------------------------------------------------------------------------------------
# Mel filterbank (Slaney mel scale, Slaney area normalisation), written from the formula.
# ----------------------------------------------------------------------------------------------
def _hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    mel = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mel)


def _mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    f = m * f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f)


def mel_filterbank(sr=SR, n_fft=N_FFT, n_mels=N_MELS, fmin=0.0, fmax=None):
    """[n_mels, n_fft//2+1] float64, equal to librosa.filters.mel(htk=False, norm='slaney')."""
    fmax = sr / 2.0 if fmax is None else fmax
    fft_freqs = np.linspace(0.0, sr / 2.0, 1 + n_fft // 2)
    mel_pts = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_freqs[None, :]
    w = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        w[i] = np.maximum(0.0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_pts[2:n_mels + 2] - mel_pts[:n_mels])
    return w * enorm[:, None]


def num_stream_frames(n_samples):
    """Frames emitted for a finished stream: next multiple of 8 >= ceil(n/160)."""
    n = max(1, -(-n_samples // HOP))
    return -(-n // CHUNK_FRAMES) * CHUNK_FRAMES


def pad_for_stream(x, n_frames=None):
    """Left reflect-pad by 200 (x[-k] = x[k]) and right zero-pad so frame i = padded[i*160 : i*160+400]."""
    x = np.asarray(x, dtype=np.float32)
    n_frames = num_stream_frames(len(x)) if n_frames is None else n_frames
    half = N_FFT // 2
    left = np.zeros(half, np.float32)
    k = np.arange(half, 0, -1)                      # k = 200..1  (padded index 0 is x[-200] = x[200])
    valid = k < len(x)
    left[valid] = x[k[valid]]
    need = (n_frames - 1) * HOP + N_FFT - half       # samples of x (incl. zero padding) needed
    right = np.zeros(max(0, need - len(x)), np.float32)
    return np.concatenate([left, x, right])[: half + need], n_frames


def logmel_stream_np(x):
    """NumPy reference of the streaming front end for one whole utterance -> [n_frames, 80] float32."""
    padded, n_frames = pad_for_stream(x)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)   # periodic Hann
    idx = np.arange(n_frames)[:, None] * HOP + np.arange(N_FFT)[None, :]
    frames = padded[idx].astype(np.float64) * win
    spec = np.abs(np.fft.rfft(frames, n=N_FFT, axis=1)) ** 2
    mel = spec @ mel_filterbank().T
    logmel = np.log10(np.maximum(mel, 1e-10))
    run_max = np.maximum.accumulate(logmel.max(axis=1))
    out = np.maximum(logmel, (run_max - 8.0)[:, None])
    return ((out + 4.0) / 4.0).astype(np.float32)


class MelStreamTorch:
    """Batched torch version (training): wave [B, N] (already padded per pad_for_stream) -> [B, T, 80]."""

    def __init__(self):
        import torch
        self.torch = torch
        self.fb = torch.tensor(mel_filterbank(), dtype=torch.float32)
        self.win = torch.hann_window(N_FFT, periodic=True)

    def __call__(self, padded, n_frames):
        torch = self.torch
        frames = padded.unfold(-1, N_FFT, HOP)[:, :n_frames]           # [B, T, 400]
        spec = torch.fft.rfft(frames * self.win, n=N_FFT, dim=-1)
        power = spec.real ** 2 + spec.imag ** 2
        mel = power @ self.fb.T
        logmel = torch.log10(torch.clamp(mel, min=1e-10))
        run_max = torch.cummax(logmel.max(dim=-1).values, dim=1).values
        out = torch.maximum(logmel, (run_max - 8.0).unsqueeze(-1))
        return (out + 4.0) / 4.0
