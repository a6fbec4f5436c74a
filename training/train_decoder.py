"""Stage 4: train the dual-head decoder on 1-3 turn dialogues built from encoded user clips and the
tokenized flite-slt replies. Both output modes (speech_ct text-only / speech_ctd text+audio).
Time-budgeted, checkpoints every few minutes, resumes automatically.

usage: python3 training/train_decoder.py [--minutes 18]
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
from common import RUNS, SEED, WORK, ensure_dirs  # noqa: E402
from corpus_text import INTENTS, REPLIES  # noqa: E402
from infer import build_prompt, generate  # noqa: E402
from models import DecoderConfig, DualHeadDecoder, cfg_dict, count_params  # noqa: E402
from tokens import PAD, Vocab, assistant_turn, user_turn  # noqa: E402

CKPT = os.path.join(RUNS, "decoder", "last.pt")


def make_dialogue(vocab, items, meta, replies, rng, feat_dim, code_noise=0.08):
    n_turns = rng.choices([1, 2, 3], weights=[0.75, 0.2, 0.05])[0]
    T, A, FI, FM, LT, LA = [], [], [], [], [], []
    feats = []
    for _ in range(n_turns):
        j = rng.randrange(len(items))
        it, intent = items[j], meta[j]["intent"]
        ctd = rng.random() < 0.4
        codes = it["tokens"].long().numpy().copy()
        if code_noise:
            flip = np.random.default_rng(rng.randrange(1 << 30)).random(len(codes)) < code_noise
            codes[flip] = np.random.default_rng(rng.randrange(1 << 30)).integers(0, vocab.n_codes, int(flip.sum()))
        ut, ua, uf = user_turn(vocab, codes, ctd)
        base = len(feats) and sum(len(f) for f in feats)
        feats.append(it["feat"].float())
        rt, ra = assistant_turn(vocab, REPLIES[intent], replies[intent]["tokens"].long().tolist(), ctd)
        start = len(T)
        T += ut + rt
        A += ua + ra
        FI += [(base + i) if i >= 0 else -1 for i in uf] + [-1] * len(rt)
        # targets: position p predicts position p+1; train from the assistant_start position onwards
        n = len(ut) + len(rt)
        lt = [-100] * n
        la = [-100] * n
        a0 = start + len(ut) - 1
        for p in range(a0, start + n - 1):
            lt[p - start] = T[p + 1]
            la[p - start] = A[p + 1]
        LT += lt
        LA += la
    allf = torch.cat(feats) if feats else torch.zeros(0, feat_dim)
    return T, A, FI, LT, LA, allf


def collate(dialogues, feat_dim):
    L = max(len(d[0]) for d in dialogues)
    B = len(dialogues)
    t = torch.full((B, L), PAD)
    a = torch.full((B, L), PAD)
    f = torch.zeros(B, L, feat_dim)
    m = torch.zeros(B, L)
    lt = torch.full((B, L), -100)
    la = torch.full((B, L), -100)
    for b, (T, A, FI, LT, LA, allf) in enumerate(dialogues):
        n = len(T)
        t[b, :n] = torch.tensor(T)
        a[b, :n] = torch.tensor(A)
        lt[b, :n] = torch.tensor(LT)
        la[b, :n] = torch.tensor(LA)
        fi = torch.tensor(FI)
        sel = fi >= 0
        f[b, :n][sel] = allf[fi[sel]]
        m[b, :n] = sel.float()
    return t, a, f, m, lt, la


def quick_eval(dec, vocab, enc_split, n=120, ctd=False):
    meta, items = enc_split["meta"], enc_split["items"]
    rng = random.Random(7)
    idx = rng.sample(range(len(items)), min(n, len(items)))
    ok = 0
    dec.eval()
    for j in idx:
        prompt = build_prompt(vocab, items[j]["tokens"].long().numpy(), items[j]["feat"].float().numpy(), ctd,
                              dec.c.feat_dim)
        txt, _, _, _ = generate(dec, vocab, prompt, ctd, max_new=40 if not ctd else 160)
        ok += vocab.decode_text(txt) == REPLIES[meta[j]["intent"]]
    dec.train()
    return ok / len(idx)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=18.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=16)
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    rng = random.Random(SEED + 5)
    os.makedirs(os.path.dirname(CKPT), exist_ok=True)
    enc_dir = os.path.join(WORK, "encoded")
    tr = torch.load(os.path.join(enc_dir, "train.pt"))
    ev = torch.load(os.path.join(enc_dir, "eval_both.pt"))
    replies = torch.load(os.path.join(enc_dir, "replies.pt"))
    vocab = Vocab()
    feat_dim = tr["items"][0]["feat"].shape[-1]
    cfg = DecoderConfig(vocab_size=vocab.size, feat_dim=feat_dim)
    dec = DualHeadDecoder(cfg)
    opt = torch.optim.AdamW(dec.parameters(), lr=a.lr, weight_decay=0.05, betas=(0.9, 0.98))
    state = {"elapsed": 0.0, "step": 0}
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        dec.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        state = ck["state"]
        rng.seed(SEED + 5 + state["step"])
        print(f"resumed at step {state['step']} elapsed {state['elapsed'] / 60:.1f} min", flush=True)
    print(f"decoder params {count_params(dec)} vocab {vocab.size} train clips {len(tr['items'])}", flush=True)
    budget = a.minutes * 60

    def save():
        tmp = CKPT + ".tmp"
        torch.save({"model": dec.state_dict(), "opt": opt.state_dict(), "state": state, "cfg": cfg_dict(cfg)}, tmp)
        os.replace(tmp, CKPT)

    t_save, t_eval = time.time(), time.time()
    dec.train()
    while state["elapsed"] < budget:
        t0 = time.time()
        frac = state["elapsed"] / budget
        warm = min(1.0, (state["step"] + 1) / 25)
        lr = a.lr * warm * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, frac))))
        for g in opt.param_groups:
            g["lr"] = lr
        dl = [make_dialogue(vocab, tr["items"], tr["meta"], replies, rng, feat_dim) for _ in range(a.batch)]
        t, au, f, m, lt, la = collate(dl, feat_dim)
        f = f + 0.05 * torch.randn_like(f) * m.unsqueeze(-1)
        tl, al, _ = dec(t, au, f, m, all_logits=True)
        l_text = F.cross_entropy(tl.reshape(-1, cfg.vocab_size), lt.reshape(-1), ignore_index=-100)
        l_audio = F.cross_entropy(al.reshape(-1, cfg.vocab_size), la.reshape(-1), ignore_index=-100)
        loss = l_text + l_audio
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["elapsed"] += time.time() - t0
        if state["step"] % 25 == 0:
            print(f"step {state['step']} {state['elapsed'] / 60:.1f}min lr {lr:.2e} text {l_text.item():.4f} "
                  f"audio {l_audio.item():.4f} len {t.shape[1]} {time.time() - t0:.2f}s/step", flush=True)
        if time.time() - t_save > 180:
            save()
            t_save = time.time()
        if time.time() - t_eval > 600:
            acc = quick_eval(dec, vocab, ev)
            print(f"EVAL held-out voices+paraphrases text-only greedy reply accuracy {acc:.3f}", flush=True)
            t_eval = time.time()
    save()
    acc = quick_eval(dec, vocab, ev, n=200)
    print(f"FINAL held-out voices+paraphrases text-only greedy reply accuracy {acc:.3f}", flush=True)
    torch.save({"model": dec.state_dict(), "cfg": cfg_dict(cfg), "train_minutes": state["elapsed"] / 60,
                "steps": state["step"]}, os.path.join(RUNS, "decoder", "final.pt"))


if __name__ == "__main__":
    main()
