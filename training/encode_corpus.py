"""Stage 3: run the trained tokenizer over every clip (whole-utterance mode == streaming mode) and over the
flite-slt agent replies. Output (under training/): work/encoded/<split>.pt and replies.pt
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import DATA, WORK, ensure_dirs  # noqa: E402
from corpus_text import REPLIES  # noqa: E402
from data import MelBatcher, load_split  # noqa: E402
from infer import load_encoder  # noqa: E402
from models import ctc_greedy  # noqa: E402

OUT = os.path.join(WORK, "encoded")


@torch.no_grad()
def encode_waves(enc, waves, batcher, bs=48):
    res = []
    order = np.argsort([len(w) for w in waves])
    tmp = {}
    for i in range(0, len(order), bs):
        idx = order[i:i + bs]
        mel, nf = batcher([waves[j] for j in idx])
        out = enc(mel)
        ids = out["ctc_logits"].argmax(-1)
        for b, j in enumerate(idx):
            n12 = int(nf[b]) // 8
            tmp[j] = {"tokens": out["tokens"][b, :n12].to(torch.int16),
                      "feat": out["feat"][b, :n12].to(torch.float16),
                      "asr": ctc_greedy(ids[b, : n12 * 2].tolist())}
    for j in range(len(waves)):
        res.append(tmp[j])
    return res


def reassign(enc):
    """Tokens only changed (new codebook, same encoder): recompute them from the stored features instead of
    re-encoding 15 h of audio. The stored features are float16, so a token on a near-tie may differ from the
    float32 graph; the decoder's training inputs get 8 % random code noise anyway. Only for k-means units: the
    learned units also read layer-1 hidden states, which are not stored."""
    for split in ["eval_voice", "eval_para", "eval_both", "train"]:
        p = os.path.join(OUT, split + ".pt")
        d = torch.load(p)
        for it in d["items"]:
            it["tokens"] = enc.vq(it["feat"].float())[0].to(torch.int16)
        torch.save(d, p)
        used = len(set(torch.cat([it["tokens"] for it in d["items"]]).tolist()))
        print(f"{split}: {len(d['items'])} clips re-tokenized, codes used {used}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--reassign", action="store_true", help="only recompute tokens from stored features")
    ap.add_argument("--splits", default="eval_voice,eval_para,eval_both,train",
                    help="comma-separated corpus splits to encode (e.g. train2 for an extra training copy)")
    ap.add_argument("--units", default=None, help="tokenize with this unit file (a path from the current folder) "
                    "instead of the installed work/part2/units.pt, e.g. the previous codebook's for remap_codebook.py")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    os.makedirs(OUT, exist_ok=True)
    enc = load_encoder(units=a.units)
    if a.reassign and hasattr(enc.vq, "layer"):
        raise SystemExit("--reassign needs k-means units; the learned units read layer-1 hidden states, which the "
                         "encoded corpus does not store: run encode_corpus.py without --reassign")
    batcher = MelBatcher()
    rw = [np.load(os.path.join(DATA, "replies", k + ".npy")) for k in REPLIES]
    rr = encode_waves(enc, rw, batcher)
    torch.save({k: r for k, r in zip(REPLIES, rr)}, os.path.join(OUT, "replies.pt"))
    for k, r in zip(REPLIES, rr):
        print(f"{k:20s} {len(r['tokens'])} tokens | asr: {r['asr']}", flush=True)
    if a.reassign:
        reassign(enc)
        return
    for split in a.splits.split(","):
        waves, meta = load_split(split)
        if not waves:
            sys.exit(f"no clips for split '{split}' under training/data/corpus (synthesize it first)")
        r = encode_waves(enc, waves, batcher)
        torch.save({"meta": meta, "items": r}, os.path.join(OUT, split + ".pt"))
        print(f"{split}: {len(r)} clips encoded", flush=True)


if __name__ == "__main__":
    main()
