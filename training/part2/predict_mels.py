"""The detokenizer's own mels for the slt corpus, for fine-tuning the vocoder on what it is actually given.

The shipped detokenizer (N = 1) outputs close to the conditional mean of the mel: smoother than a real mel, so the
vocoder, trained on real mels only, renders it buzzy. Each clip's tokens are streamed through the detokenizer exactly
as the engine does (stream.detokenize, the shipped schedule); the result is frame-aligned with the clip's real mel and
audio (4 frames per token, clips padded to whole tokens), so (predicted mel, real audio) pairs can train the vocoder.
Each clip gets its own noise seed, so the vocoder sees the spread of the detokenizer's outputs, not one sample.
-> work/part2/pred_mels_{split}.npz under training/ (normalised mel, float16, with the corpus's mel_offsets)
usage: /usr/bin/python3 training/part2/predict_mels.py [--detok-run detok] [--split train] [--threads 1]
"""
import argparse
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, UPSAMPLE, WORK2  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import load  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables  # noqa: E402


def pred_path(split):
    return os.path.join(WORK2, f"pred_mels_{split}.npz")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--detok-run", default="detok")
    ap.add_argument("--split", default="train")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    dit, dck = load(a.detok_run, DiT, DiTConfig)
    step, _ = torch_callables(dit, None)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    toks = torch.load(os.path.join(WORK2, f"tokens_{a.split}.pt"))["tokens"]
    moff = np.load(os.path.join(DATA2, f"slt_{a.split}.npz"))["mel_offsets"]
    assert len(moff) == len(toks) + 1, "tokens and corpus disagree on the number of clips"
    out = np.zeros((int(moff[-1]), 80), np.float16)
    t0 = time.time()
    for i, t in enumerate(toks):
        mel = np.concatenate(detokenize(step, t.numpy().astype(np.int64), dims, 1000 + i, SCHEDULE))
        assert len(mel) == UPSAMPLE * len(t) == moff[i + 1] - moff[i], f"clip {i}: frames do not line up"
        out[moff[i]:moff[i + 1]] = mel
        if i % 200 == 0:
            print(f"clip {i}/{len(toks)} {time.time() - t0:.0f}s", flush=True)
    np.savez(pred_path(a.split), mel=out, mel_offsets=moff, detok_step=dck["step"],
             euler_steps=SCHEDULE["euler_steps"])
    print(f"wrote {pred_path(a.split)}: {len(toks)} clips, {len(out)} frames, {time.time() - t0:.0f}s", flush=True)


if __name__ == "__main__":
    main()
