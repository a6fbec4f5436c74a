"""Train the flow-matching DiT detokenizer (conditional flow matching, rectified-flow path) WITH the streaming
attention pattern: every training item is [clean prefix split into random emitted segments (t = 0.999,
block-causal) | one noisy window (random emitted size + random look-ahead, t ~ U(0,1)) attending to the whole
prefix and itself]; loss = MSE(velocity) on the window frames.
Resumable: training/runs/part2/detok/last.pt.
usage: nohup /usr/bin/python3 training/part2/train_detok.py --minutes 40 --threads 1 \
         > training/work/part2/logs/detok.log 2>&1 &
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, RUNS2, UPSAMPLE, WORK2, ensure_dirs, load_json  # noqa: E402
from dit import DiT, DiTConfig, T_CLEAN, cfg_dict, count_params  # noqa: E402


class DetokData:
    def __init__(self, split="train"):
        z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
        st = load_json(os.path.join(DATA2, "mel_stats.json"))
        mean, std = np.array(st["mean"], np.float32), np.array(st["std"], np.float32)
        mel, moff = z["mel"], z["mel_offsets"]
        tk = torch.load(os.path.join(WORK2, f"tokens_{split}.pt"))
        self.info = tk["info"]
        self.mels, self.toks = [], []
        for i, t in enumerate(tk["tokens"]):
            m = (mel[moff[i]:moff[i + 1]] - mean) / std
            assert len(m) == UPSAMPLE * len(t)
            self.mels.append(m.astype(np.float32))
            self.toks.append(t.numpy().astype(np.int64))
        self.n = len(self.mels)


def sample_item(rng, n_tok, max_prefix_tok=60):
    """Returns (start token of the prefix crop-free sequence is always 0) prefix segments [(a,b)...], window (s,e)."""
    if rng.random() < 0.25 or n_tok < 4:
        s = 0
    else:
        s = int(rng.integers(1, n_tok))
    s = min(s, max_prefix_tok)
    E = int(rng.integers(2, 17))
    LA = int(rng.integers(0, 5))
    e = min(n_tok, s + E + LA)
    if e <= s:
        s = max(0, n_tok - 2)
        e = n_tok
    segs, a = [], 0
    first = True
    while a < s:
        b = min(s, a + (int(rng.integers(2, 6)) if first else int(rng.integers(4, 13))))
        segs.append((a, b))
        a, first = b, False
    return segs, (s, e)


def make_batch(data, rng, bs):
    items = []
    for _ in range(bs):
        i = int(rng.integers(data.n))
        segs, (s, e) = sample_item(rng, len(data.toks[i]))
        items.append((i, segs, s, e))
    T = max(UPSAMPLE * e for _, _, _, e in items)
    x1 = np.zeros((bs, T, 80), np.float32)
    tok = np.zeros((bs, T), np.int64)
    segid = np.full((bs, T), -1, np.int64)
    is_pre = np.zeros((bs, T), bool)
    win = np.zeros((bs, T), bool)
    for b, (i, segs, s, e) in enumerate(items):
        n = UPSAMPLE * e
        x1[b, :n] = data.mels[i][:n]
        tok[b, :n] = np.repeat(data.toks[i][:e], UPSAMPLE)
        for k, (p, q) in enumerate(segs):
            segid[b, UPSAMPLE * p:UPSAMPLE * q] = k
        is_pre[b, :UPSAMPLE * s] = True
        segid[b, UPSAMPLE * s:n] = 1000
        win[b, UPSAMPLE * s:n] = True
    seg = torch.from_numpy(segid)
    valid_k = seg >= 0
    mask = (seg[:, None, :] <= seg[:, :, None]) & valid_k[:, None, :]
    eye = torch.eye(T, dtype=torch.bool)[None]
    mask = mask | (eye & ~valid_k[:, :, None])          # padding queries see themselves only
    return (torch.from_numpy(x1), torch.from_numpy(tok), torch.from_numpy(is_pre), torch.from_numpy(win), mask)


def fm_loss(model, batch, rng_t):
    x1, tok, is_pre, win, mask = batch
    B, T, _ = x1.shape
    t = torch.rand(B, generator=rng_t)
    x0 = torch.randn(x1.shape, generator=rng_t)
    xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
    x = torch.where(is_pre[..., None], x1, xt)
    v = model.forward_train(x, tok, torch.arange(T), is_pre, t, mask)
    err = ((v - (x1 - x0)) ** 2).mean(-1)
    w = win.float()
    return (err * w).sum() / w.sum()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--total-steps", type=int, default=8000)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--run", default=os.path.join(RUNS2, "detok"))
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    data = DetokData("train")
    print("tokens from", data.info, flush=True)
    cfg = DiTConfig()
    model = DiT(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    step, elapsed = 0, 0.0
    last = os.path.join(a.run, "last.pt")
    if os.path.exists(last):
        ck = torch.load(last)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        step, elapsed = ck["step"], ck["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min)", flush=True)
    print("dit params", count_params(model), flush=True)
    rng = np.random.default_rng(step + 17)
    rng_t = torch.Generator().manual_seed(step + 5)
    t0, start_elapsed = time.time(), elapsed
    agg, nagg = 0.0, 0

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                    "cfg": cfg_dict(cfg), "tokens_info": data.info}, last + ".tmp")
        os.replace(last + ".tmp", last)

    while time.time() - t0 < a.minutes * 60:
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / a.total_steps))))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = fm_loss(model, make_batch(data, rng, a.bs), rng_t)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        elapsed = start_elapsed + time.time() - t0
        agg += loss.item()
        nagg += 1
        if step % 25 == 0:
            print(f"step {step} {elapsed / 60:.1f}min lr {lr:.2e} fm_loss {agg / nagg:.4f}", flush=True)
            agg, nagg = 0.0, 0
        if step % a.save_every == 0:
            save()
    save()
    print(f"done step {step} elapsed {elapsed / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
