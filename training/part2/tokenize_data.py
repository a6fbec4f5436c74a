"""Run part 1's semantic tokenizer (whole-utterance mode == streaming mode, see docs/model-pack.md §2) over the
part-2 slt clips -> work/part2/tokens_{train,eval}.pt under training/ (list of int16 tensors, one per clip, each with
exactly n_samples / 1280 tokens = mel_frames / 4).
usage: /usr/bin/python3 training/part2/tokenize_data.py [--ckpt training/runs/encoder/final.pt] [--threads 1]
       [--units work/part2/units_vqL1_1024.pt]   (the shipped tokens since session 6: a codebook learned for
                     reconstruction over [feature ; layer-1 hidden] by probe_units.py --save-vq, folded into
                     work/part2/units.pt, which load_encoder then prefers; see training/REPORT-part2.md)
       [--kmeans]   (STAND-IN codes: k-means (512) of the encoder's continuous 12.5 Hz features instead of its VQ
                     codes; used while part 1's VQ is collapsed, see training/REPORT-part2.md)
"""
import argparse
import hashlib
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, TRAINING, WORK2, ensure_dirs  # noqa: E402
sys.path.insert(0, TRAINING)
from data import MelBatcher  # noqa: E402
from infer import load_encoder  # noqa: E402
from models import ReconstructionQuantizer  # noqa: E402


def file_sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def length_batches(waves, bs):
    """(clip indices, padded mel, mel frames) for batches of similar-length clips (little padding)."""
    batcher = MelBatcher()
    order = np.argsort([len(w) for w in waves])
    for i in range(0, len(order), bs):
        idx = order[i:i + bs]
        mel, nf = batcher([waves[j] for j in idx])
        yield idx, mel, nf


@torch.no_grad()
def tokenize(enc, waves, bs=32, key="tokens"):
    out = [None] * len(waves)
    for idx, mel, nf in length_batches(waves, bs):
        tok = enc(mel)[key]
        for b, j in enumerate(idx):
            n = len(waves[j]) // 1280
            assert int(nf[b]) // 8 == n, (int(nf[b]), n)
            out[j] = tok[b, :n].to(torch.int16).clone() if key == "tokens" else tok[b, :n].clone()
    return out


def kmeans(x, k=512, iters=25, seed=0):
    """Plain k-means (k-means++ init on a subsample), x [N, D] float32 tensor -> centroids [k, D]."""
    g = torch.Generator().manual_seed(seed)
    sub = x[torch.randperm(len(x), generator=g)[:20000]]
    c = [sub[torch.randint(0, len(sub), (1,), generator=g)].squeeze(0)]
    d2 = ((sub - c[0]) ** 2).sum(1)
    for _ in range(k - 1):
        i = torch.multinomial(d2 / d2.sum(), 1, generator=g)
        c.append(sub[i].squeeze(0))
        d2 = torch.minimum(d2, ((sub - c[-1]) ** 2).sum(1))
    c = torch.stack(c)
    for it in range(iters):
        a = assign(x, c)
        cnt = torch.bincount(a, minlength=k).float()
        s = torch.zeros_like(c).index_add_(0, a, x)
        empty = cnt == 0
        c = torch.where(empty[:, None], x[torch.randint(0, len(x), (k,), generator=g)], s / cnt.clamp(min=1)[:, None])
    return c


def assign(x, c):
    return torch.argmin((x * x).sum(1, keepdim=True) - 2 * x @ c.T + (c * c).sum(1)[None], dim=1)


def install_units(src, info):
    """Fold a probe_units.py codebook (standardisation + projection + codes) into the encoder's unit file."""
    u = torch.load(src)
    w, b = ReconstructionQuantizer.fold(u["feat_mean"], u["feat_std"], u["hidden_mean"], u["hidden_std"],
                                        u["proj_weight"], u["proj_bias"])
    rec = dict(info, codes=f"learned {u['input']} ({len(u['codebook'])} codes, {u['steps']} steps) from "
                           + os.path.basename(src))
    torch.save({"weight": w, "bias": b, "codebook": u["codebook"], "layer": u["layer"], "info": rec},
               os.path.join(WORK2, "units.pt"))
    print("installed", rec["codes"], flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--splits", default="eval,train")
    ap.add_argument("--kmeans", action="store_true")
    ap.add_argument("--units", default="",
                    help="install a learned [feature ; layer-1] codebook (probe_units.py --save-vq output) as the "
                         "semantic tokens: folded into work/part2/units.pt under training/, then used to tokenize")
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    ck = a.ckpt or os.path.join(TRAINING, "runs", "encoder", "final.pt")
    if not os.path.exists(ck):
        ck = os.path.join(TRAINING, "runs", "encoder", "last.pt")
    info = {"ckpt": os.path.relpath(ck, TRAINING), "ckpt_sha256": file_sha(ck), "ckpt_mtime": os.path.getmtime(ck)}
    if a.units:
        install_units(a.units, info)
    enc = load_encoder(ck, codebook=not a.kmeans)
    if not a.kmeans and "codes" in enc.units_info:
        info["codes"] = enc.units_info["codes"]
    print("tokenizer", info, flush=True)
    cents = None
    if a.kmeans:
        info["codes"] = ("STAND-IN: k-means(512) of encoder 'feat' (pre-VQ), centroids in the training folder's "
                         "work/part2/kmeans.pt")
    splits = a.splits.split(",")
    if a.kmeans:
        splits = sorted(splits, key=lambda x: x != "train")
    for split in splits:
        z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
        a_, off = z["audio"], z["offsets"]
        waves = [a_[off[i]:off[i + 1]] for i in range(len(off) - 1)]
        if a.kmeans:
            feats = [f.float() for f in tokenize(enc, waves, key="feat")]
            if cents is None:                     # fitted on the training split (processed first)
                assert split == "train"
                cents = kmeans(torch.cat(feats))
                torch.save({"centroids": cents, "info": info}, os.path.join(WORK2, "kmeans.pt"))
            toks = [assign(f, cents).to(torch.int16) for f in feats]
        else:
            toks = tokenize(enc, waves)
        torch.save({"tokens": toks, "info": info}, os.path.join(WORK2, f"tokens_{split}.pt"))
        used = len(set(torch.cat(toks).tolist()))
        print(split, len(toks), "clips, codes used", used, flush=True)


if __name__ == "__main__":
    main()
