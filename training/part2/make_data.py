"""Synthesize the agent voice (flite slt, 16 kHz) for part 2 and compute the vocoder mel.

Output training/data/part2/slt_{train,eval}.npz: audio int16 concatenated (each clip zero-padded to a multiple of
1280 samples = whole tokens), offsets, un-normalised mel [sum T, 80] + mel offsets; .json with the texts;
mel_stats.json (per-bin mean/std over the training mel). The 13 replies are synthesised exactly as part 1 does
(flite -voice slt, duration_stretch 1.0) and are also in training (6 copies with slight stretch variations).
usage: nice -n 10 /usr/bin/python3 training/part2/make_data.py [--procs 2]
       nice -n 10 /usr/bin/python3 training/part2/make_data.py --broad [--procs 2]
              (slt_broad.{npz,json}: broad_text.py's 5,600 sentences, 5.1 h, for the detokenizer only)
       nice -n 10 /usr/bin/python3 training/part2/make_data.py --broad-extra K [--procs 2]
              (slt_broadK, K = 2, 3, ...: broad_text.broad_extra_sentences(K), 5,600 more lines each; session 21)
"""
import argparse
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile

import numpy as np
from scipy import signal
from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, SR, ensure_dirs, pad_to_tokens, save_json, vmel_np  # noqa: E402
from broad_text import broad_extra_sentences, broad_sentences  # noqa: E402
from sentences import eval_sentences, train_sentences  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from corpus_text import REPLIES  # noqa: E402


def flite_slt(text, td, stretch=1.0):
    p = os.path.join(td, "x.wav")
    cmd = ["flite", "-voice", "slt"]
    if stretch != 1.0:
        cmd += ["--setf", f"duration_stretch={stretch}"]
    subprocess.run(cmd + ["-t", text, "-o", p], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sr, x = wavfile.read(p)
    x = x.astype(np.float32) / 32768.0
    if sr != SR:
        from math import gcd
        g = gcd(sr, SR)
        x = signal.resample_poly(x, SR // g, sr // g).astype(np.float32)
    return np.clip(x, -1, 1)


def _clip(item):
    text, stretch = item
    with tempfile.TemporaryDirectory() as td:
        x = (pad_to_tokens(flite_slt(text, td, stretch)) * 32767).astype(np.int16)
    return x, vmel_np(x.astype(np.float32) / 32768.0), {"text": text, "stretch": stretch, "n": len(x)}


def build(name, items, procs=1):
    waves, mels, meta = [], [], []
    with multiprocessing.Pool(procs) as pool:
        for i, (x, m, info) in enumerate(pool.imap(_clip, items, chunksize=8)):
            waves.append(x)
            mels.append(m)
            meta.append(info)
            if i % 500 == 0:
                print(name, i, len(items), flush=True)
    off = np.cumsum([0] + [len(w) for w in waves]).astype(np.int64)
    moff = np.cumsum([0] + [len(m) for m in mels]).astype(np.int64)
    np.savez(os.path.join(DATA2, f"slt_{name}.npz"), audio=np.concatenate(waves), offsets=off,
             mel=np.concatenate(mels), mel_offsets=moff)
    save_json(os.path.join(DATA2, f"slt_{name}.json"), meta)
    return np.concatenate(mels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--broad", action="store_true",
                    help="build only the extra 'broad' split (broad_text.py); train/eval and mel_stats stay as they are")
    ap.add_argument("--broad-extra", type=int, default=0,
                    help="K >= 2: build only extra broad split K (slt_broadK; broad_text.broad_extra_sentences)")
    a = ap.parse_args()
    ensure_dirs()
    if a.broad:
        rng = random.Random(13)
        build("broad", [(s, round(rng.uniform(0.9, 1.15), 2)) for s in broad_sentences()], a.procs)
        return
    if a.broad_extra:
        rng = random.Random(17 + a.broad_extra - 2)
        build(f"broad{a.broad_extra}", [(s, round(rng.uniform(0.9, 1.15), 2))
                                         for s in broad_extra_sentences(a.broad_extra)], a.procs)
        return
    rng = random.Random(11)
    reply_set = set(REPLIES.values())
    tr = []
    for s in train_sentences():
        st = 1.0 if s in reply_set and not any(t == s for t, _ in tr) else round(rng.uniform(0.9, 1.15), 2)
        tr.append((s, st))
    ev = [(s, 1.0) for s in list(REPLIES.values()) + eval_sentences()]
    build("eval", ev, a.procs)
    mel = build("train", tr, a.procs)
    save_json(os.path.join(DATA2, "mel_stats.json"), {"mean": mel.mean(0).tolist(), "std": mel.std(0).tolist(),
                                                      "frames": int(len(mel))})
    print("train clips", len(tr), "frames", len(mel), "hours", len(mel) / 50 / 3600)


if __name__ == "__main__":
    main()
