"""Stage 2: train the streaming semantic tokenizer (CTC on characters at 25 Hz + CTC on the quantised
12.5 Hz stream + VQ losses). Time-budgeted, checkpoints every few minutes, resumes automatically.

usage: python3 training/train_encoder.py [--minutes 45] [--max-shards N]
"""
import argparse
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import RUNS, SEED, ensure_dirs  # noqa: E402
from data import MelBatcher, length_batches, load_split  # noqa: E402
from models import EncoderConfig, StreamingEncoder, count_params, ctc_greedy, text_to_chars, cfg_dict  # noqa: E402

CKPT = os.path.join(RUNS, "encoder", "last.pt")


def spec_augment(mel, nf, rng):
    mel = mel.clone()
    B, T, M = mel.shape
    for b in range(B):
        for _ in range(2):
            w = rng.randint(0, 10)
            f0 = rng.randint(0, M - w)
            mel[b, :, f0:f0 + w] = 0.0
        for _ in range(2):
            w = rng.randint(0, 16)
            t0 = rng.randint(0, max(1, int(nf[b]) - w))
            mel[b, t0:t0 + w, :] = 0.0
    return mel


def cer(ref, hyp):
    d = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, d[0] = d[0], i
        for j, h in enumerate(hyp, 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r != h))
            prev, d[j] = d[j], cur
    return d[len(hyp)] / max(1, len(ref))


def evaluate(model, waves, meta, batcher, n=200):
    model.eval()
    errs = []
    with torch.no_grad():
        for i in range(0, min(n, len(waves)), 32):
            mel, nf = batcher(waves[i:i + 32])
            out = model(mel)
            ids = out["ctc_logits"].argmax(-1)
            for b in range(len(nf)):
                hyp = ctc_greedy(ids[b, : nf[b] // 4].tolist())
                errs.append(cer(meta[i + b]["text"], hyp))
    model.train()
    return float(np.mean(errs)), hyp, meta[i + b]["text"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=45.0)
    ap.add_argument("--max-shards", type=int, default=0)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-frames", type=int, default=8000, help="padded mel frames per batch")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (1 when sharing the CPU)")
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    os.makedirs(os.path.dirname(CKPT), exist_ok=True)

    waves, meta = load_split("train", a.max_shards)
    ev_w, ev_m = load_split("eval_voice")
    print(f"train clips {len(waves)}  ({sum(len(w) for w in waves) / 16000 / 3600:.2f} h)", flush=True)
    labels = [torch.tensor(text_to_chars(m["text"])) for m in meta]
    lengths = np.array([len(w) // 160 for w in waves])

    cfg = EncoderConfig()
    model = StreamingEncoder(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01, betas=(0.9, 0.98))
    state = {"elapsed": 0.0, "step": 0, "epoch": 0}
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        print(f"resumed at step {state['step']} elapsed {state['elapsed'] / 60:.1f} min", flush=True)
    print(f"encoder params {count_params(model)}", flush=True)
    budget = a.minutes * 60
    batcher = MelBatcher()

    def save():
        tmp = CKPT + ".tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "state": state,
                    "cfg": cfg_dict(cfg)}, tmp)
        os.replace(tmp, CKPT)

    t_last_save = time.time()
    t_last_eval = time.time()
    model.train()
    while state["elapsed"] < budget:
        brng = random.Random(SEED + state["epoch"])
        batches = length_batches(lengths, a.batch_frames, brng)
        start = state.get("batch_in_epoch", 0)
        for bi in range(start, len(batches)):
            t0 = time.time()
            idx = batches[bi]
            frac = state["elapsed"] / budget
            warm = min(1.0, (state["step"] + 1) / 300)
            lr = a.lr * warm * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, frac))))
            for g in opt.param_groups:
                g["lr"] = lr
            mel, nf = batcher([waves[i] for i in idx])
            mel = spec_augment(mel, nf, rng)
            out = model(mel)
            in_len = nf // 4
            tgt = [labels[i] for i in idx]
            tgt_len = torch.tensor([len(t) for t in tgt])
            tgt_cat = torch.cat(tgt)
            lp = F.log_softmax(out["ctc_logits"], -1).transpose(0, 1)
            l1 = F.ctc_loss(lp, tgt_cat, in_len, tgt_len, zero_infinity=True)
            lq = F.log_softmax(out["q_ctc_logits"], -1).transpose(0, 1)
            l2 = F.ctc_loss(lq, tgt_cat, in_len, tgt_len, zero_infinity=True)
            loss = l1 + 0.5 * l2 + out["vq_loss"]
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            # dead-code restarts on valid frames
            valid = torch.arange(out["z"].shape[1])[None, :] < (nf // 8)[:, None]
            n_dead = model.vq.update_usage(out["tokens"][valid], out["z"][valid].detach()) \
                if state["step"] % 50 == 0 else 0
            state["step"] += 1
            # capped: a step paused by SIGSTOP (to give a benchmark a quiet CPU) must not eat the budget
            state["elapsed"] += min(time.time() - t0, 30.0)
            state["batch_in_epoch"] = bi + 1
            if state["step"] % 25 == 0:
                used = int((model.vq.usage > 0.01).sum())
                print(f"step {state['step']} ep {state['epoch']} {state['elapsed'] / 60:.1f}min lr {lr:.2e} "
                      f"ctc {l1.item():.3f} qctc {l2.item():.3f} vq {out['vq_loss'].item():.4f} codes_used {used} "
                      f"restarted {n_dead} bs {len(idx)} {time.time() - t0:.2f}s/step", flush=True)
            if time.time() - t_last_save > 180:
                save()
                t_last_save = time.time()
            if time.time() - t_last_eval > 600:
                c, h, r = evaluate(model, ev_w, ev_m, batcher)
                print(f"EVAL held-out voices CER {c:.3f} | ref '{r}' | hyp '{h}'", flush=True)
                t_last_eval = time.time()
            if state["elapsed"] >= budget:
                break
        else:
            state["epoch"] += 1
            state["batch_in_epoch"] = 0
    save()
    c, h, r = evaluate(model, ev_w, ev_m, batcher, n=400)
    print(f"FINAL held-out voices CER {c:.3f} | ref '{r}' | hyp '{h}'", flush=True)
    torch.save({"model": model.state_dict(), "cfg": cfg_dict(cfg), "cer_heldout_voices": c,
                "train_minutes": state["elapsed"] / 60, "steps": state["step"]},
               os.path.join(RUNS, "encoder", "final.pt"))


if __name__ == "__main__":
    main()
