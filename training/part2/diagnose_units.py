"""Where does resynthesis lose intelligibility: in the detokenizer, or already in the semantic units?

1. Conditioning: streaming detokenizer mel L1 (N = 1, the conditional mean) on the slt eval clips with the true
   tokens vs another utterance's tokens, random tokens, one constant token, and the global mean mel. A model that
   ignored its tokens would score the same on all of them.
2. Unit content: a context-free lookup decoder (mean training mel per (unit, frame within the token)) for each
   token set given (e.g. the current and a previous codebook), its mel L1 and the pocketsphinx WER of its
   vocoded replies. It measures how much of slt's spectrum the units alone determine.

usage: /usr/bin/python3 training/part2/diagnose_units.py [--tokens "":v2_] [--threads 1]
  --tokens: comma-separated prefixes of work/part2/<prefix>tokens_{train,eval}.pt under training/ ("" = current)
Writes work/part2/eval/units.json under training/.
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, WORK2, load_json, mel_stats, save_json  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import OUT, load, recognize, wer  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402

N_REPLIES = 13     # the eval set starts with the 13 agent replies, then 20 other sentences


def slt_mels(split):
    z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
    mel, o = z["mel"], z["mel_offsets"]       # read each array once: indexing the NpzFile re-reads the whole array
    return [mel[o[i]:o[i + 1]] for i in range(len(o) - 1)]


def codes(prefix, split):
    return [t.numpy().astype(np.int64) for t in torch.load(os.path.join(WORK2, f"{prefix}tokens_{split}.pt"))["tokens"]]


def split_mean(values):
    return {"replies": float(np.mean(values[:N_REPLIES])), "sentences": float(np.mean(values[N_REPLIES:]))}


def conditioning(dit_step, dims, ev_codes, gt, mean, std):
    rng = np.random.default_rng(0)
    n = len(ev_codes)
    variants = {
        "true_tokens": lambda i: ev_codes[i],
        "other_utterance_tokens": lambda i: np.resize(ev_codes[(i + 5) % n], len(ev_codes[i])),
        "random_tokens": lambda i: rng.integers(0, 512, len(ev_codes[i])),
        "constant_token": lambda i: np.full(len(ev_codes[i]), ev_codes[i][len(ev_codes[i]) // 2]),
    }
    sched = dict(SCHEDULE, euler_steps=1)
    res = {}
    for name, pick in variants.items():
        l1 = []
        for i in range(n):
            m = np.concatenate(detokenize(dit_step, pick(i), dims, 0, sched)) * std + mean
            l1.append(float(np.abs(m - gt[i][:len(m)]).mean()))
        res[name] = split_mean(l1)
        print("conditioning", name, res[name], flush=True)
    mu = np.concatenate(gt).mean(0)
    res["global_mean_mel"] = split_mean([float(np.abs(g - mu).mean()) for g in gt])
    print("conditioning global_mean_mel", res["global_mean_mel"], flush=True)
    return res


def lookup(prefix, vocode, gt_tr, gt_ev, texts, mean, std):
    tr, ev = codes(prefix, "train"), codes(prefix, "eval")
    n_codes = 1 + max(int(c.max()) for c in tr + ev)      # 512 k-means units before session 6, 1024 since
    total, count = np.zeros((n_codes, 4, 80)), np.zeros((n_codes, 4, 1))
    for c, m in zip(tr, gt_tr):
        k = min(len(c), len(m) // 4)
        np.add.at(total, c[:k], m[:4 * k].reshape(k, 4, 80))
        np.add.at(count, c[:k], 1)
    table = total / np.maximum(count, 1)
    l1, hyps = [], []
    with tempfile.TemporaryDirectory() as td:
        for i, (c, m) in enumerate(zip(ev, gt_ev)):
            k = min(len(c), len(m) // 4)
            pred = table[c[:k]].reshape(-1, 80)
            l1.append(float(np.abs(pred - m[:4 * k]).mean()))
            if i < N_REPLIES:
                y = vocode((((pred - mean) / std)[None]).astype(np.float32))[0].reshape(-1)
                hyps.append(recognize(y, td))
    res = {"mel_l1": split_mean(l1), "wer_replies": wer(texts[:N_REPLIES], hyps), "hypotheses": hyps[:3]}
    print("lookup", repr(prefix), res, flush=True)
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", default=",v2_")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dit, _ = load("detok", DiT, DiTConfig)
    voc, _ = load("vocoder", Vocoder, VocoderConfig)
    dit_step, vocode = torch_callables(dit, voc)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    mean, std = mel_stats()
    gt_tr, gt_ev = slt_mels("train"), slt_mels("eval")
    texts = [m["text"] for m in load_json(os.path.join(DATA2, "slt_eval.json"))]
    res = {"conditioning_mel_l1_n1": conditioning(dit_step, dims, codes("", "eval"), gt_ev, mean, std),
           "lookup": {p or "current": lookup(p, vocode, gt_tr, gt_ev, texts, mean, std)
                      for p in a.tokens.split(",") if os.path.exists(os.path.join(WORK2, f"{p}tokens_train.pt"))}}
    os.makedirs(OUT, exist_ok=True)
    save_json(os.path.join(OUT, "units.json"), res)


if __name__ == "__main__":
    main()
