"""Evaluate part 2 (torch, streaming exactly as the engine does it):
* pocketsphinx WER of flite slt's own audio, of vocoder copy-synthesis (ground-truth mel) and of the full
  resynthesis tokens -> streaming detokenizer -> chunked vocoder, for the 13 replies and 20 held-out sentences;
* mel L1 (ln-mel units) of the detokenizer vs the ground-truth mel, for Euler steps N in --steps-sweep;
* streaming vs whole-utterance detokenization; stitched vs whole vocoding (SNR, sample jumps at joins);
* real-time factor (torch, --threads threads); a PNG of original vs reconstructed spectrogram.
Writes (under training/) work/part2/eval/results.json and its wavs, and the PNG part2/spectrogram.png
usage: /usr/bin/python3 training/part2/evaluate_part2.py [--threads 1] [--no-wer]
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, HERE, RUNS2, VHOP, WORK2, load_json, mel_stats, save_json, write_wav  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from stream import SCHEDULE, Stitcher, detokenize, plan_chunks, torch_callables, vocode_chunks  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402

OUT = os.path.join(WORK2, "eval")


def load(run, cls, cfgcls):
    ck = torch.load(os.path.join(RUNS2, run, "last.pt"))
    m = cls(cfgcls(**ck["cfg"]))
    m.load_state_dict(ck["model"])
    return m.eval(), ck


def words(s):
    return re.sub(r"[^a-z' ]", " ", s.lower()).split()


def edit_distance(a, b):
    d = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(b) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(b)]


def recognize(x, td):
    p = os.path.join(td, "r.wav")
    write_wav(p, x)
    r = subprocess.run(["pocketsphinx_continuous", "-infile", p, "-logfn", "/dev/null"], capture_output=True,
                       text=True)
    return r.stdout.strip()


def wer(refs, hyps):
    e = sum(edit_distance(words(r), words(h)) for r, h in zip(refs, hyps))
    return 100.0 * e / sum(len(words(r)) for r in refs)


def snr_db(ref, x):
    return float(10 * np.log10(np.sum(ref ** 2) / (np.sum((ref - x) ** 2) + 1e-20)))


# ---------------------------------------------------------------- PNG without matplotlib
def _colormap(v):
    """v in [0,1] -> RGB uint8 (dark blue -> teal -> yellow, viridis-like)."""
    stops = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)
    x = np.clip(v, 0, 1) * (len(stops) - 1)
    i = np.minimum(x.astype(int), len(stops) - 2)
    f = (x - i)[..., None]
    return (stops[i] * (1 - f) + stops[i + 1] * f).astype(np.uint8)


def write_png(path, rgb):
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[y].tobytes() for y in range(h))

    def chunk(t, d):
        c = struct.pack(">I", len(d)) + t + d
        return c + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def spectrogram_png(path, mels, scale=3):
    """mels: list of [T, 80] ln-mel; stacked vertically (low frequencies at the bottom), separated by a line."""
    lo = min(m.min() for m in mels)
    hi = max(m.max() for m in mels)
    rows = []
    for k, m in enumerate(mels):
        img = _colormap((m.T[::-1] - lo) / (hi - lo + 1e-9))
        img = np.repeat(np.repeat(img, scale, 0), scale, 1)
        rows.append(img)
        if k < len(mels) - 1:
            rows.append(np.full((4, img.shape[1], 3), 255, np.uint8))
    write_png(path, np.concatenate(rows))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-wer", action="store_true")
    ap.add_argument("--steps-sweep", default="1,2,4,6,8,10")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detok-run", default="detok", help="the run under runs/part2 whose last.pt is measured")
    ap.add_argument("--vocoder-run", default="vocoder", help="the run under runs/part2 of the vocoder measured")
    ap.add_argument("--out", default=OUT, help="folder for results.json and the wavs")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.out, exist_ok=True)
    dit, dck = load(a.detok_run, DiT, DiTConfig)
    voc, vck = load(a.vocoder_run, Vocoder, VocoderConfig)
    dit_step, vocode = torch_callables(dit, voc)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    meta = load_json(os.path.join(DATA2, "slt_eval.json"))
    z = np.load(os.path.join(DATA2, "slt_eval.npz"))
    mean, std = mel_stats()
    toks = torch.load(os.path.join(WORK2, "tokens_eval.pt"))
    n = len(meta)
    texts = [m["text"] for m in meta]
    wav = [z["audio"][z["offsets"][i]:z["offsets"][i + 1]].astype(np.float32) / 32768 for i in range(n)]
    gt = [z["mel"][z["mel_offsets"][i]:z["mel_offsets"][i + 1]] for i in range(n)]
    codes = [t.numpy().astype(np.int64) for t in toks["tokens"]]
    res = {"detok_checkpoint_step": dck["step"], "detok_train_minutes": round(dck["elapsed"] / 60, 1),
           "vocoder_checkpoint_step": vck["step"], "vocoder_train_minutes": round(vck["elapsed"] / 60, 1),
           "tokens_info": toks["info"], "schedule": SCHEDULE, "threads": a.threads}
    N0 = SCHEDULE["euler_steps"]

    # ---- mel L1 vs Euler steps (streaming) ----
    sweep = {}
    mels_by_N = {}
    for N in [int(s) for s in a.steps_sweep.split(",")]:
        sch = dict(SCHEDULE, euler_steps=N)
        l1 = []
        outs = []
        for i in range(n):
            m = np.concatenate(detokenize(dit_step, codes[i], dims, a.seed, sch)) * std + mean
            outs.append(m)
            l1.append(float(np.abs(m - gt[i]).mean()))
        sweep[N] = {"mel_l1_replies": float(np.mean(l1[:13])), "mel_l1_sentences": float(np.mean(l1[13:]))}
        mels_by_N[N] = outs
        print("N", N, sweep[N], flush=True)
    res["mel_l1_vs_euler_steps"] = sweep
    # whole-utterance (one chunk, no cache) for comparison
    whole_sched = dict(SCHEDULE, first_chunk_tokens=10 ** 6)
    l1w = [float(np.abs(np.concatenate(detokenize(dit_step, codes[i], dims, a.seed, whole_sched)) * std + mean
                        - gt[i]).mean()) for i in range(n)]
    res["mel_l1_whole_utterance_detok"] = {"replies": float(np.mean(l1w[:13])), "sentences": float(np.mean(l1w[13:]))}
    print("whole", res["mel_l1_whole_utterance_detok"], flush=True)

    # ---- resynthesis (default N), copy synthesis, stitching ----
    resyn, copy = [], []
    stitch = {}
    for O in (2, 4, 6, 8):
        sch = dict(SCHEDULE, vocoder_overlap_frames=O)
        snrs, jr = [], []
        for i in range(n):
            mel_n = (mels_by_N[N0][i] - mean) / std
            chunks, s = [], 0
            for (p, e, w) in plan_chunks(len(codes[i]), sch):
                chunks.append(mel_n[4 * p:4 * e])
            stt = Stitcher(vocode, sch)
            outs = [stt.push(c, k == len(chunks) - 1) for k, c in enumerate(chunks)]
            y = np.concatenate(outs)
            whole = vocode(mel_n[None].astype(np.float32))[0]
            snrs.append(snr_db(whole, y))
            joins = np.cumsum([len(o) for o in outs])[:-1]
            fade_starts = joins - 0  # output joins = boundaries between consecutive pushes
            d = np.abs(np.diff(y))
            jm = max([d[max(0, j - 2):j + 2].max() for j in fade_starts] + [0.0])
            mask = np.ones(len(d), bool)
            for j in fade_starts:
                mask[max(0, j - 2):j + 2] = False
            jr.append((jm, float(d[mask].max())))
            if O == SCHEDULE["vocoder_overlap_frames"]:
                resyn.append(y)
        stitch[O] = {"snr_db_mean": float(np.mean(snrs)), "snr_db_min": float(np.min(snrs)),
                     "max_jump_at_joins": float(max(j for j, _ in jr)),
                     "max_jump_elsewhere": float(max(e for _, e in jr))}
        print("overlap", O, stitch[O], flush=True)
    res["stitching_vs_whole_vocoding"] = stitch
    for i in range(n):
        copy.append(vocode(((gt[i] - mean) / std)[None].astype(np.float32))[0])
    res["copy_synthesis_snr_db"] = float(np.mean([snr_db(wav[i][:len(copy[i])], copy[i]) for i in range(n)]))
    for i in range(n):
        write_wav(os.path.join(a.out, f"{i:02d}_orig.wav"), wav[i])
        write_wav(os.path.join(a.out, f"{i:02d}_copy.wav"), copy[i])
        write_wav(os.path.join(a.out, f"{i:02d}_resyn.wav"), resyn[i])

    # ---- RTF (torch) ----
    t0 = time.perf_counter()
    tot = 0.0
    for i in range(n):
        y = vocode_chunks(vocode, detokenize(dit_step, codes[i], dims, a.seed, SCHEDULE))
        tot += len(y) / 16000
    el = time.perf_counter() - t0
    t1 = time.perf_counter()
    for i in range(n):
        detokenize(dit_step, codes[i], dims, a.seed, SCHEDULE)
    el_d = time.perf_counter() - t1
    res["rtf_torch"] = {"detok_plus_vocoder": el / tot, "detok_only": el_d / tot, "audio_s": tot,
                        "euler_steps": N0, "threads": a.threads}
    print("rtf", res["rtf_torch"], flush=True)

    # ---- PNG (reply 'opening_hours' = index 1) ----
    k = 1
    # the report's figure shows the pack's checkpoints, not a candidate's
    if a.detok_run == "detok" and a.vocoder_run == "vocoder":
        spectrogram_png(os.path.join(HERE, "spectrogram.png"), [gt[k], mels_by_N[N0][k]])
    res["png"] = {"file": "training/part2/spectrogram.png", "text": texts[k],
                  "layout": "top: flite slt original ln-mel; bottom: tokens -> streaming detokenizer (N=%d)" % N0}

    # ---- WER ----
    if not a.no_wer:
        with tempfile.TemporaryDirectory() as td:
            hyp = {"orig": [], "copy": [], "resyn": []}
            for i in range(n):
                hyp["orig"].append(recognize(wav[i], td))
                hyp["copy"].append(recognize(copy[i], td))
                hyp["resyn"].append(recognize(resyn[i], td))
            extra = {}
            for N in (1, 2, 10):
                if N in mels_by_N and N != N0:
                    hh = []
                    for i in range(n):
                        mel_n = ((mels_by_N[N][i] - mean) / std).astype(np.float32)
                        hh.append(recognize(vocode(mel_n[None])[0], td))
                    extra[N] = hh
        res["wer"] = {}
        for name, sl in (("replies", slice(0, 13)), ("sentences", slice(13, n))):
            r = texts[sl]
            res["wer"][name] = {"flite_slt": wer(r, hyp["orig"][sl]), "vocoder_copy_synthesis": wer(r, hyp["copy"][sl]),
                                "resynthesis_tokens_detok_vocoder": wer(r, hyp["resyn"][sl])}
            for N, hh in extra.items():
                res["wer"][name][f"resynthesis_N{N}_whole_vocoded"] = wer(r, hh[sl])
        res["hypotheses"] = [{"text": texts[i], "orig": hyp["orig"][i], "copy": hyp["copy"][i],
                              "resyn": hyp["resyn"][i]} for i in range(n)]
        print(json.dumps(res["wer"], indent=1), flush=True)
    save_json(os.path.join(a.out, "results.json"), res)


if __name__ == "__main__":
    main()
