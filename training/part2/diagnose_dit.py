"""Two quick diagnostics of the shipped DiT's mel on the 33 evaluation clips (session 21, REPORT-part2.md §0p).

listener  Could part 1's encoder, through its character CTC head, serve as a differentiable "listener" loss for the
          detokenizer? The detokenizer's 50 Hz ln-mel is mapped to the encoder's 100 Hz log10-mel by a ridge-fitted
          linear map (frames interpolated to 100 Hz: encoder frame 2i + 1 is centred where detokenizer frame i is,
          frame 2i halfway to the one before), and the frozen encoder's greedy characters are scored (CER) on slt's
          own audio, on slt's true mel mapped, and on the DiT's mel mapped. A loss has signal only if the DiT's mel
          reads clearly worse than the true one.
noise     How much of the DiT's N = 1 output is its input noise? The same clips decoded with noise seeds 0 and 1,
          and with the noise scaled by 0 and 0.5 (a sampling temperature, as Grad-TTS and Matcha-TTS use): the mean
          absolute difference between seeds and each variant's L1 to the true normalised mel.
usage: /usr/bin/python3 training/part2/diagnose_dit.py listener|noise [--detok-run detok_s16b] [--threads 2]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, WORK2, load_json, mel_stats, noise_frames  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import edit_distance, load  # noqa: E402
from probe_units import clips  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from common import logmel_stream_np  # noqa: E402
from infer import load_encoder  # noqa: E402
from models import CHARS, ctc_greedy  # noqa: E402

N_REPLIES = 13


def to_100hz(v):
    prev = np.concatenate([v[:1], v[:-1]])
    out = np.empty((2 * len(v), v.shape[1]), np.float32)
    out[1::2], out[0::2] = v, 0.5 * (prev + v)
    return out


def dit_decoder(run):
    """-> decode(seed=0, noise_scale=1.0): the DiT's normalised mel of each evaluation clip (streamed as shipped)."""
    dit, _ = load(run, DiT, DiTConfig)
    step, _ = torch_callables(dit, None)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    codes = [t.numpy().astype(np.int64) for t in torch.load(os.path.join(WORK2, "tokens_eval.pt"))["tokens"]]

    def decode(seed=0, noise_scale=1.0):
        def noise(sd, first, n):
            return (noise_frames(sd, first, n) * np.float32(noise_scale)).astype(np.float32)
        return [np.concatenate(detokenize(step, c, dims, seed, SCHEDULE, noise=noise)) for c in codes]

    return decode


def listener(run):
    mean, std = mel_stats()
    w_tr, m_tr = clips("train")
    xs, ys = [], []
    for i in range(0, len(w_tr), max(1, len(w_tr) // 400)):
        em, v = logmel_stream_np(w_tr[i].astype(np.float32) / 32768.0), to_100hz(m_tr[i])
        n = min(len(em), len(v))
        xs.append(v[:n])
        ys.append(em[:n])
    x, y = np.concatenate(xs), np.concatenate(ys)
    xa = np.concatenate([x, np.ones((len(x), 1), np.float32)], 1)
    w = np.linalg.solve(xa.T @ xa + 1e-2 * np.eye(xa.shape[1]), xa.T @ y)
    print(f"map fitted on {len(x)} frames: rmse {np.sqrt(((y - xa @ w) ** 2).mean()):.3f}, target std {y.std():.3f}")
    enc = load_encoder(codebook=False)

    def chars(em):
        n = len(em) // 8 * 8
        with torch.no_grad():
            r = enc(torch.from_numpy(np.ascontiguousarray(em[:n], np.float32))[None])
        return ctc_greedy(r["ctc_logits"][0].argmax(-1).tolist())

    def mapped(v):
        v = to_100hz(v)
        return np.concatenate([v, np.ones((len(v), 1), np.float32)], 1) @ w

    w_ev, m_ev = clips("eval")
    texts = [m["text"] for m in load_json(os.path.join(DATA2, "slt_eval.json"))]
    refs = ["".join(c for c in t.lower() if c in CHARS[1:]) for t in texts]
    rows = {"the encoder's own mel of slt's audio":
            [chars(logmel_stream_np(x.astype(np.float32) / 32768.0)) for x in w_ev],
            "slt's true detokenizer mel, mapped": [chars(mapped(m)) for m in m_ev],
            f"the DiT's mel ({run}), mapped": [chars(mapped(p * std + mean)) for p in dit_decoder(run)()]}

    def cer(ref, hyp):
        return 100 * sum(edit_distance(list(r), list(h)) for r, h in zip(ref, hyp)) / sum(len(r) for r in ref)

    for name, hyp in rows.items():
        print(f"{name}: CER replies {cer(refs[:N_REPLIES], hyp[:N_REPLIES]):.1f} %, "
              f"20 sentences {cer(refs[N_REPLIES:], hyp[N_REPLIES:]):.1f} %")


def noise(run):
    mean, std = mel_stats()
    true = [(m - mean) / std for m in clips("eval")[1]]
    decode = dit_decoder(run)
    out = {"seed 0": decode(0), "seed 1": decode(1), "noise x 0": decode(0, 0.0), "noise x 0.5": decode(0, 0.5)}

    def dist(a, b, sl):
        return float(np.mean([np.abs(x - y).mean() for x, y in zip(a[sl], b[sl])]))

    for sl, name in ((slice(0, N_REPLIES), "replies"), (slice(N_REPLIES, None), "20 sentences")):
        print(f"{name}: seed 0 vs seed 1 {dist(out['seed 0'], out['seed 1'], sl):.3f}; L1 to the true mel "
              + ", ".join(f"{k} {dist(v, true, sl):.3f}" for k, v in out.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("listener", "noise"))
    ap.add_argument("--detok-run", default="detok_s16b")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    (listener if a.what == "listener" else noise)(a.detok_run)


if __name__ == "__main__":
    main()
