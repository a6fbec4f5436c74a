"""Train the small BigVGAN-style vocoder on flite slt (ground-truth mel -> waveform), no discriminator:
loss = multi-resolution STFT (spectral convergence + log-magnitude L1, 5 resolutions) + mel L1.
Resumable: training/runs/part2/vocoder/last.pt (saved every --save-every steps and at the end).
--pred-mels (from predict_mels.py) fine-tunes on the detokenizer's own mels: a --pred-p share of the segments take
the detokenizer's prediction of the clip's mel as input, still against the clip's real audio, so the vocoder learns
to render the smoother mels it is given in the product (the rest stay ground truth, so copy-synthesis keeps working).
usage (log: work/part2/logs/vocoder.log under training/):
  nohup /usr/bin/python3 training/part2/train_vocoder.py --minutes 30 --threads 1 > LOG 2>&1 &
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import (DATA2, RUNS2, VHOP, VMelTorch, carried_history, ensure_dirs, mel_stats,  # noqa: E402
                     warm_start_history)
from vocoder import Vocoder, VocoderConfig, cfg_dict  # noqa: E402

RES = [(128, 32), (256, 64), (512, 128), (1024, 256), (2048, 512)]


def stft_mag(x, n_fft, hop):
    w = torch.hann_window(n_fft, device=x.device)
    s = torch.stft(x, n_fft, hop, n_fft, w, center=True, return_complex=True)
    return torch.sqrt(s.real ** 2 + s.imag ** 2 + 1e-7)


def mrstft_loss(y, t):
    sc, mag = 0.0, 0.0
    for n_fft, hop in RES:
        a, b = stft_mag(y, n_fft, hop), stft_mag(t, n_fft, hop)
        sc = sc + torch.norm(b - a) / (torch.norm(b) + 1e-7)
        mag = mag + F.l1_loss(torch.log(a), torch.log(b))
    return sc / len(RES), mag / len(RES)


class SltData:
    def __init__(self, split="train"):
        z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
        self.audio, self.off = z["audio"], z["offsets"]
        self.mel, self.moff = z["mel"], z["mel_offsets"]
        self.mean, self.std = mel_stats()
        self.n = len(self.off) - 1
        self.pred = None

    def use_predicted(self, path):
        """Frame-aligned detokenizer mels (already normalised) as alternative inputs for the same audio."""
        z = np.load(path)
        assert np.array_equal(z["mel_offsets"], self.moff), f"{path} was not made from this corpus"
        self.pred = z["mel"]

    def norm(self, m):
        return (m - self.mean) / self.std

    def clip(self, i):
        return self.audio[self.off[i]:self.off[i + 1]].astype(np.float32) / 32768.0, \
            self.norm(self.mel[self.moff[i]:self.moff[i + 1]])

    def batch(self, rng, bs, seg, pred_p=0.0):
        mels, wavs = [], []
        for _ in range(bs):
            i = rng.integers(self.n)
            T = self.moff[i + 1] - self.moff[i]
            f0 = rng.integers(0, max(1, T - seg + 1))
            predicted = self.pred is not None and rng.random() < pred_p
            src = self.pred if predicted else self.mel
            m = src[self.moff[i] + f0: self.moff[i] + f0 + seg].astype(np.float32)
            a = self.audio[self.off[i] + f0 * VHOP: self.off[i] + (f0 + seg) * VHOP]
            if len(m) < seg:
                m = np.concatenate([m, np.repeat(m[-1:], seg - len(m), 0)])
                a = np.concatenate([a, np.zeros(seg * VHOP - len(a), a.dtype)])
            mels.append(m if predicted else self.norm(m))
            wavs.append(a.astype(np.float32) / 32768.0)
        return torch.from_numpy(np.stack(mels)).transpose(1, 2), torch.from_numpy(np.stack(wavs))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=8)
    ap.add_argument("--seg", type=int, default=50, help="mel frames per segment")
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--total-steps", type=int, default=6000, help="LR schedule length")
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--run", default=os.path.join(RUNS2, "vocoder"))
    ap.add_argument("--init", default="", help="start from these weights (fresh optimizer and schedule)")
    ap.add_argument("--pred-mels", default="", help="predict_mels.py output: fine-tune on the detokenizer's mels")
    ap.add_argument("--pred-p", type=float, default=0.5, help="share of segments whose input is the predicted mel")
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    torch.manual_seed(0)
    data = SltData("train")
    if a.pred_mels:
        data.use_predicted(a.pred_mels)
    pred_p = a.pred_p if a.pred_mels else 0.0
    cfg = VocoderConfig()
    model = Vocoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.8, 0.99), weight_decay=0.0)
    step, elapsed = 0, 0.0
    init_record = {}
    last = os.path.join(a.run, "last.pt")
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        init_record = carried_history(ck)
        print(f"resumed at step {step} ({elapsed / 60:.1f} min)", flush=True)
    elif a.init:
        ini = torch.load(a.init)
        model.load_state_dict(ini["model"])
        init_record = warm_start_history(ini, a.init)
        print(f"initialised from {a.init} (step {ini.get('step')})", flush=True)
    recipe = {"lr": a.lr, "bs": a.bs, "seg": a.seg, "total_steps": a.total_steps, "pred_p": pred_p}
    print("vocoder params", sum(p.numel() for p in model.parameters()), flush=True)
    melf = VMelTorch()
    rng = np.random.default_rng(step + 1)
    t0 = time.time()
    start_elapsed = elapsed
    agg = np.zeros(3)
    nagg = 0

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                    "cfg": cfg_dict(cfg), "recipe": recipe, **init_record}, last + ".tmp")
        os.replace(last + ".tmp", last)

    while True:
        elapsed = start_elapsed + time.time() - t0
        if elapsed > a.minutes * 60 + start_elapsed * 0 and time.time() - t0 > a.minutes * 60:
            break
        lr = a.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / a.total_steps))))
        warm = min(1.0, (step + 1) / 200)
        for g in opt.param_groups:
            g["lr"] = lr * warm
        mel, wav = data.batch(rng, a.bs, a.seg, pred_p)
        y = model(mel)
        sc, mag = mrstft_loss(y, wav)
        ml = F.l1_loss(melf(y), melf(wav))
        loss = sc + mag + 0.5 * ml
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        step += 1
        agg += [sc.item(), mag.item(), ml.item()]
        nagg += 1
        if step % 25 == 0:
            agg /= nagg
            print(f"step {step} {elapsed / 60:.1f}min lr {lr * warm:.2e} sc {agg[0]:.3f} logmag {agg[1]:.3f} "
                  f"mel_l1 {agg[2]:.3f}", flush=True)
            agg[:] = 0
            nagg = 0
        if step % a.save_every == 0:
            save()
    elapsed = start_elapsed + time.time() - t0
    save()
    print(f"done step {step} elapsed {elapsed / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
