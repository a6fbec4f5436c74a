"""Stage 4: train the dual-head decoder on 1-3 turn dialogues built from encoded user clips and the
tokenized flite-slt replies. Both output modes (speech_ct text-only / speech_ctd text+audio).
Time-budgeted, checkpoints every few minutes, resumes automatically.

usage: python3 training/train_decoder.py [--minutes 18]
"""
import argparse
import math
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
from prior import intent_counts  # noqa: E402
from tokens import PAD, Vocab, assistant_turn, user_turn  # noqa: E402

CKPT = os.path.join(RUNS, "decoder", "last.pt")
FIRST_WORD_WEIGHT = 4.0
# Text+audio turns are ~3x longer than text-only ones, and the audio head learns its 13 fixed code sequences within
# ~100 steps, so most turns are text-only: the step budget goes to the hard part (which reply, from user audio).
CTD_SHARE = 0.12
FEATURE_DROP = 0.1      # share of user positions whose continuous feature is zeroed (robustness to bad frames)


def time_warp(codes, feat, rng, max_rate):
    """Speaking-rate change in feature space: resample the 12.5 Hz positions of one user turn (codes and features
    together) at a random rate in [1/max_rate, max_rate] by nearest index, so a voice that speaks faster or slower
    than every training voice still looks familiar to the decoder."""
    r = math.exp(rng.uniform(-math.log(max_rate), math.log(max_rate)))
    n = len(codes)
    idx = np.minimum(np.round(np.arange(0, n, r)).astype(np.int64), n - 1)
    return codes[idx], feat[torch.from_numpy(idx)]


def make_dialogue(vocab, items, meta, replies, rng, feat_dim, code_noise=0.08, warp=0.0):
    n_turns = rng.choices([1, 2, 3], weights=[0.8, 0.17, 0.03])[0]
    T, A, FI, LT, LA, LW = [], [], [], [], [], []
    feats = []
    for _ in range(n_turns):
        j = rng.randrange(len(items))
        it, intent = items[j], meta[j]["intent"]
        ctd = rng.random() < CTD_SHARE
        codes = it["tokens"].long().numpy().copy()
        if code_noise:
            flip = np.random.default_rng(rng.randrange(1 << 30)).random(len(codes)) < code_noise
            codes[flip] = np.random.default_rng(rng.randrange(1 << 30)).integers(0, vocab.n_codes, int(flip.sum()))
        feat = it["feat"].float()
        if warp > 1.0 and rng.random() < 0.5:
            codes, feat = time_warp(codes, feat, rng, warp)
        ut, ua, uf = user_turn(vocab, codes, ctd)
        base = len(feats) and sum(len(f) for f in feats)
        feats.append(feat)
        rt, ra = assistant_turn(vocab, REPLIES[intent], replies[intent]["tokens"].long().tolist(), ctd)
        start = len(T)
        T += ut + rt
        A += ua + ra
        FI += [(base + i) if i >= 0 else -1 for i in uf] + [-1] * len(rt)
        # targets: position p predicts position p+1; train from the assistant_start position onwards
        n = len(ut) + len(rt)
        lt = [-100] * n
        la = [-100] * n
        lw = [1.0] * n
        a0 = start + len(ut) - 1
        for p in range(a0, start + n - 1):
            lt[p - start] = T[p + 1]
            la[p - start] = A[p + 1]
        # The first reply word is the intent decision; every later word follows from it. Weighting it keeps that
        # one hard prediction from being diluted by ~15 easy ones in the mean loss.
        lw[a0 - start] = FIRST_WORD_WEIGHT
        LT += lt
        LA += la
        LW += lw
    allf = torch.cat(feats) if feats else torch.zeros(0, feat_dim)
    return T, A, FI, LT, LA, LW, allf


def collate(dialogues, feat_dim):
    L = max(len(d[0]) for d in dialogues)
    B = len(dialogues)
    t = torch.full((B, L), PAD)
    a = torch.full((B, L), PAD)
    f = torch.zeros(B, L, feat_dim)
    m = torch.zeros(B, L)
    lt = torch.full((B, L), -100)
    la = torch.full((B, L), -100)
    lw = torch.zeros(B, L)
    for b, (T, A, FI, LT, LA, LW, allf) in enumerate(dialogues):
        n = len(T)
        t[b, :n] = torch.tensor(T)
        a[b, :n] = torch.tensor(A)
        lt[b, :n] = torch.tensor(LT)
        la[b, :n] = torch.tensor(LA)
        lw[b, :n] = torch.tensor(LW)
        fi = torch.tensor(FI)
        sel = fi >= 0
        f[b, :n][sel] = allf[fi[sel]]
        m[b, :n] = sel.float()
    return t, a, f, m, lt, la, lw


class IntentProbe(torch.nn.Module):
    """Training-only auxiliary head (never exported): intent from mean+max pooled adaptor outputs of one user
    turn. It makes the adaptor's per-position features intent-salient within minutes (a pooled MLP on encoder
    features reaches ~56 % on held-out voices+paraphrases), which the transformer otherwise has to discover through
    attention from the assistant-start position; at initialisation that attention is near-uniform, i.e. a mean
    pool, so the text head can read the probe-shaped features right away."""

    def __init__(self, hidden, n_intents):
        super().__init__()
        self.mlp = torch.nn.Sequential(torch.nn.Linear(2 * hidden, 256), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                       torch.nn.Linear(256, n_intents))

    def forward(self, dec, feats, lengths):
        h = dec.adaptor(feats)                                     # [B, T, H]
        valid = (torch.arange(feats.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        mean = (h * valid).sum(1) / lengths[:, None].clamp(min=1)
        mx = h.masked_fill(~valid, -1e4).max(1).values
        return self.mlp(torch.cat([mean, mx], -1))


def probe_batch(items, meta, intent_ids, idx):
    L = max(len(items[j]["feat"]) for j in idx)
    f = torch.zeros(len(idx), L, items[idx[0]]["feat"].shape[-1])
    for b, j in enumerate(idx):
        x = items[j]["feat"].float()
        f[b, :len(x)] = x
    f = f + 0.05 * torch.randn_like(f)
    lengths = torch.tensor([len(items[j]["feat"]) for j in idx])
    y = torch.tensor([intent_ids[meta[j]["intent"]] for j in idx])
    return f, lengths, y


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
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--probe-epochs", type=int, default=4)
    ap.add_argument("--batch-tokens", type=int, default=2400, help="padded positions per length-bucketed batch")
    ap.add_argument("--extra-train", default="",
                    help="comma-separated extra encoded training copies to add (e.g. train2; see synth.py --extra)")
    ap.add_argument("--deadline-minutes", type=float, default=0,
                    help="also stop after this much wall-clock time in this run; the learning-rate schedule is "
                         "compressed so it still ends annealed (for a shared, slower-than-expected machine)")
    ap.add_argument("--init", default="",
                    help="warm start: decoder weights from this checkpoint (e.g. one recover_from_onnx.py wrote), a "
                         "fresh optimizer and schedule; the probe is pre-trained with the adaptor frozen")
    ap.add_argument("--audio-only", action="store_true",
                    help="train only the audio branch (audio layers and head) on the audio loss; the text path stays "
                         "as --init gave it")
    ap.add_argument("--time-warp", type=float, default=0.0,
                    help="half the user turns are resampled at a rate in [1/W, W] (e.g. 1.2; 0: off, as committed)")
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    torch.manual_seed(SEED)
    rng = random.Random(SEED + 5)
    os.makedirs(os.path.dirname(CKPT), exist_ok=True)
    enc_dir = os.path.join(WORK, "encoded")
    tr = torch.load(os.path.join(enc_dir, "train.pt"))
    for extra in filter(None, a.extra_train.split(",")):
        more = torch.load(os.path.join(enc_dir, extra + ".pt"))
        tr["items"] += more["items"]
        tr["meta"] += more["meta"]
        print(f"training copy {extra}: {len(more['items'])} clips", flush=True)
    ev = torch.load(os.path.join(enc_dir, "eval_both.pt"))
    replies = torch.load(os.path.join(enc_dir, "replies.pt"))
    vocab = Vocab()
    feat_dim = tr["items"][0]["feat"].shape[-1]
    cfg = DecoderConfig(vocab_size=vocab.size, feat_dim=feat_dim)
    dec = DualHeadDecoder(cfg)
    intent_ids = {k: i for i, k in enumerate(INTENTS)}
    probe = IntentProbe(cfg.hidden, len(intent_ids))
    if a.audio_only:
        # The text path (embeddings, adaptor, trunk, text head) stays exactly as initialised; only the audio branch
        # learns, e.g. a new reply code inventory after remap_codebook.py, without moving the intent decision.
        dec.requires_grad_(False)
        for m in (dec.audio_layers, dec.audio_norm, dec.audio_head):
            m.requires_grad_(True)
    trainable = [p for p in dec.parameters() if p.requires_grad] + ([] if a.audio_only else list(probe.parameters()))
    opt = torch.optim.AdamW(trainable, lr=a.lr, weight_decay=0.05, betas=(0.9, 0.98))
    state = {"elapsed": 0.0, "step": 0}
    if os.path.exists(CKPT):
        ck = torch.load(CKPT)
        dec.load_state_dict(ck["model"])
        if "probe" in ck:
            probe.load_state_dict(ck["probe"])
            opt.load_state_dict(ck["opt"])
        state = ck["state"]
        rng.seed(SEED + 5 + state["step"])
        print(f"resumed at step {state['step']} elapsed {state['elapsed'] / 60:.1f} min", flush=True)
    elif a.init:
        ini = torch.load(a.init)
        assert DecoderConfig(**ini["cfg"]) == cfg, "--init weights have another decoder config"
        dec.load_state_dict(ini["model"])
        state["init"] = a.init
        state["init_train_minutes"] = ini.get("train_minutes", 0)
        state["init_steps"] = ini.get("steps", 0)
        print(f"warm start from {a.init}", flush=True)
    print(f"decoder params {count_params(dec)} vocab {vocab.size} train clips {len(tr['items'])}", flush=True)
    budget = a.minutes * 60

    def save():
        tmp = CKPT + ".tmp"
        torch.save({"model": dec.state_dict(), "probe": probe.state_dict(), "opt": opt.state_dict(), "state": state,
                    "cfg": cfg_dict(cfg)}, tmp)
        os.replace(tmp, CKPT)

    t_save, t_eval = time.time(), time.time()
    t_run, frac0 = time.time(), state["elapsed"] / budget
    deadline = a.deadline_minutes * 60

    def schedule_frac():
        f = state["elapsed"] / budget
        if deadline > 0:
            f = max(f, frac0 + (1 - frac0) * (time.time() - t_run) / deadline)
        return f

    pool = []

    def next_batch():
        """Length-bucketed batch: dialogues range from ~45 to ~250 positions, so random batches were mostly
        padding. Take similar lengths from a sorted pool, as many as fit the token budget."""
        while len(pool) < 8 * a.batch:
            pool.append(make_dialogue(vocab, tr["items"], tr["meta"], replies, rng, feat_dim, warp=a.time_warp))
        pool.sort(key=lambda d: len(d[0]))
        i = rng.randrange(len(pool))
        n = max(4, min(64, a.batch_tokens // len(pool[i][0])))
        s0 = max(0, min(i - n // 2, len(pool) - n))
        batch = pool[s0:s0 + n]
        del pool[s0:s0 + n]
        return batch

    items, meta = tr["items"], tr["meta"]
    if not state.get("probe_pretrained") and not a.audio_only:
        # Phase 1 (cheap: adaptor + probe only, per-position MLPs): make the features intent-salient.
        # (a warm start keeps its trained adaptor: only the new probe learns here)
        popt = torch.optim.AdamW(([] if state.get("init") else list(dec.adaptor.parameters()))
                                 + list(probe.parameters()), lr=1e-3, weight_decay=0.01)
        t_p = time.time()
        for ep in range(a.probe_epochs):
            order = list(range(len(items)))
            rng.shuffle(order)
            correct = 0
            for i in range(0, len(order), 128):
                f, ln, y = probe_batch(items, meta, intent_ids, order[i:i + 128])
                logits = probe(dec, f, ln)
                lp = F.cross_entropy(logits, y)
                popt.zero_grad()
                lp.backward()
                popt.step()
                correct += int((logits.argmax(-1) == y).sum())
            print(f"probe pre-training epoch {ep + 1}: train acc {correct / len(order):.3f} "
                  f"({(time.time() - t_p) / 60:.1f} min)", flush=True)
        state["probe_pretrained"] = True
        state["elapsed"] += time.time() - t_p

    dec.train()
    while schedule_frac() < 1.0:
        t0 = time.time()
        frac = schedule_frac()
        warm = min(1.0, (state["step"] + 1) / 25)
        lr = a.lr * warm * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * min(1.0, frac))))
        for g in opt.param_groups:
            g["lr"] = lr
        dl = next_batch()
        t, au, f, m, lt, la, lw = collate(dl, feat_dim)
        keep = (torch.rand(m.shape) >= FEATURE_DROP).float().unsqueeze(-1)
        f = (f + 0.05 * torch.randn_like(f) * m.unsqueeze(-1)) * keep
        tl, al, _ = dec(t, au, f, m, all_logits=True)
        ce = F.cross_entropy(tl.reshape(-1, cfg.vocab_size), lt.reshape(-1), ignore_index=-100, reduction="none")
        w = lw.reshape(-1) * (lt.reshape(-1) != -100)
        l_text = (ce * w).sum() / w.sum()
        l_audio = F.cross_entropy(al.reshape(-1, cfg.vocab_size), la.reshape(-1), ignore_index=-100)
        if a.audio_only:
            l_probe = torch.zeros(())
            loss = l_audio
        else:
            pf, pln, py = probe_batch(items, meta, intent_ids, [rng.randrange(len(items)) for _ in range(64)])
            l_probe = F.cross_entropy(probe(dec, pf, pln), py)
            loss = l_text + l_audio + 0.5 * l_probe
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(dec.parameters(), 1.0)
        opt.step()
        state["step"] += 1
        state["elapsed"] += time.time() - t0
        if state["step"] % 25 == 0:
            print(f"step {state['step']} {state['elapsed'] / 60:.1f}min lr {lr:.2e} text {l_text.item():.4f} "
                  f"audio {l_audio.item():.4f} probe {l_probe.item():.3f} len {t.shape[1]} bs {t.shape[0]} {time.time() - t0:.2f}s/step", flush=True)
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
                "steps": state["step"], "init": state.get("init"), "extra_train": a.extra_train,
                "audio_only": a.audio_only,
                "init_train_minutes": state.get("init_train_minutes"), "init_steps": state.get("init_steps"),
                "intent_clip_counts": intent_counts(tr["meta"])},   # -> the manifest's prior correction (prior.py)
               os.path.join(RUNS, "decoder", "final.pt"))


if __name__ == "__main__":
    main()
