"""Pack the detokenizer's training data compactly so it fits a device-machine call (64 MiB with the repo):
normalised vocoder mels quantised to 8 bits (step 10.5 / 255 = 0.041, RMS error 0.012, against a mel L1 of ~0.9)
and LZMA-compressed, plus the semantic tokens, the eval split and optionally initial DiT weights in float16.
-> work/part2/gpu/detok_data.xz under training/ (+ init.pt)

usage: /usr/bin/python3 training/part2/pack_detok_data.py [--init training/runs/part2/detok/last.pt]
The trainer reads it with `train_detok.py --data-pack <that file>` (DetokData.from_pack).
"""
import argparse
import io
import lzma
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import WORK2  # noqa: E402
from train_detok import DetokData  # noqa: E402

Q_LO, Q_HI = -6.0, 4.5     # normalised mel range seen in the slt corpus: -5.96 .. 4.25


def quantise(m):
    return np.clip(np.round((m - Q_LO) / (Q_HI - Q_LO) * 255), 0, 255).astype(np.uint8)


def dequantise(q):
    return q.astype(np.float32) * ((Q_HI - Q_LO) / 255) + Q_LO


def pack_split(d, prefix, out, exact):
    lens = np.array([len(t) for t in d.toks], np.int64)
    mel = np.concatenate(d.mels)
    out[prefix + "tok"] = np.concatenate(d.toks).astype(np.int16)
    out[prefix + "tok_len"] = lens
    out[prefix + "mel"] = mel.astype(np.float16) if exact else quantise(mel)
    out[prefix + "replies"] = np.array(d.replies, np.int64)  # the reply clips, for train_detok.py --reply-p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--init", default="")
    ap.add_argument("--out", default=os.path.join(WORK2, "gpu"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    arrays = {}
    pack_split(DetokData("train"), "train_", arrays, exact=False)
    pack_split(DetokData("eval"), "eval_", arrays, exact=True)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    path = os.path.join(a.out, "detok_data.xz")
    with lzma.open(path, "wb", preset=6) as f:
        f.write(buf.getvalue())
    print(f"{path}: {os.path.getsize(path) / 1e6:.1f} MB", flush=True)
    if a.init:
        ck = torch.load(a.init)
        sd = {k: v.half() if v.is_floating_point() else v for k, v in ck["model"].items()}
        torch.save({"model": sd, "cfg": ck["cfg"], "step": ck.get("step", 0)}, os.path.join(a.out, "init.pt"))
        print(f"init weights from {a.init} (step {ck.get('step')}) in float16", flush=True)


if __name__ == "__main__":
    main()
