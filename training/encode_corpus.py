"""Stage 3: run the trained tokenizer over every clip (whole-utterance mode == streaming mode) and over the
flite-slt agent replies. Output: training/work/encoded/<split>.pt  and replies.pt
"""
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


def main():
    ensure_dirs()
    torch.set_num_threads(2)
    os.makedirs(OUT, exist_ok=True)
    enc = load_encoder()
    batcher = MelBatcher()
    rw = [np.load(os.path.join(DATA, "replies", k + ".npy")) for k in REPLIES]
    rr = encode_waves(enc, rw, batcher)
    torch.save({k: r for k, r in zip(REPLIES, rr)}, os.path.join(OUT, "replies.pt"))
    for k, r in zip(REPLIES, rr):
        print(f"{k:20s} {len(r['tokens'])} tokens | asr: {r['asr']}", flush=True)
    for split in ["eval_voice", "eval_para", "eval_both", "train"]:
        waves, meta = load_split(split)
        r = encode_waves(enc, waves, batcher)
        torch.save({"meta": meta, "items": r}, os.path.join(OUT, split + ".pt"))
        print(f"{split}: {len(r)} clips encoded", flush=True)


if __name__ == "__main__":
    main()
