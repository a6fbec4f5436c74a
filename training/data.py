"""Corpus loading and batched streaming-mel computation."""
import glob
import json
import os

import numpy as np
import torch

from common import DATA, num_stream_frames, pad_for_stream, MelStreamTorch


def load_split(split, max_shards=0):
    files = sorted(glob.glob(os.path.join(DATA, "corpus", f"{split}_*.json")))
    if max_shards:
        files = files[:max_shards]
    waves, meta = [], []
    for f in files:
        z = np.load(f[:-5] + ".npz")
        a, off = z["audio"], z["offsets"]
        m = json.load(open(f))
        for i, it in enumerate(m):
            waves.append(a[off[i]:off[i + 1]])
            meta.append(it)
    return waves, meta


class MelBatcher:
    def __init__(self):
        self.mel = MelStreamTorch()

    def __call__(self, waves):
        """waves: list of int16/float arrays -> mel [B, T, 80], n_frames per item (multiples of 8)."""
        nf = [num_stream_frames(len(w)) for w in waves]
        T = max(nf)
        pads = []
        for w in waves:
            x = w.astype(np.float32) / 32768.0 if w.dtype == np.int16 else w.astype(np.float32)
            p, _ = pad_for_stream(x, T)
            pads.append(p)
        padded = torch.from_numpy(np.stack(pads))
        with torch.no_grad():
            mel = self.mel(padded, T)
        return mel, torch.tensor(nf)


def length_batches(lengths, max_total, rng, shuffle=True):
    """Bucket by length; each batch's (max_len * count) <= max_total."""
    order = np.argsort(lengths)
    batches, cur, cur_max = [], [], 0
    for i in order:
        L = lengths[i]
        if cur and max(cur_max, L) * (len(cur) + 1) > max_total:
            batches.append(cur)
            cur, cur_max = [], 0
        cur.append(int(i))
        cur_max = max(cur_max, L)
    if cur:
        batches.append(cur)
    if shuffle:
        rng.shuffle(batches)
    return batches
