"""Chunked vocoding vs whole-utterance vocoding on the 33 eval clips (ground-truth mel, chunked as the
detokenizer emits it): SNR and the largest sample-to-sample jump at the joins vs elsewhere, for several
(overlap O, look-ahead R) settings. Writes work/part2/eval/stitch.json under training/.
usage: /usr/bin/python3 training/part2/eval_stitch.py
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, WORK2, mel_stats, save_json  # noqa: E402
from evaluate_part2 import load  # noqa: E402
from stream import SCHEDULE, Stitcher, plan_chunks, torch_callables  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402


def main():
    torch.set_num_threads(1)
    voc, _ = load("vocoder", Vocoder, VocoderConfig)
    _, vc = torch_callables(voc, voc)
    z = np.load(os.path.join(DATA2, "slt_eval.npz"))
    mean, std = mel_stats()
    res = {}
    for O, R in ((2, 0), (4, 0), (6, 0), (8, 0), (4, 2), (4, 4), (4, 6)):
        sch = dict(SCHEDULE, vocoder_overlap_frames=O, vocoder_lookahead_frames=R)
        snr, jj, je = [], [], []
        for i in range(len(z["mel_offsets"]) - 1):
            m = ((z["mel"][z["mel_offsets"][i]:z["mel_offsets"][i + 1]] - mean) / std).astype(np.float32)
            chunks = [m[4 * a:4 * e] for a, e, w in plan_chunks(len(m) // 4, sch)]
            stt = Stitcher(vc, sch)
            outs = [stt.push(c, k == len(chunks) - 1) for k, c in enumerate(chunks)]
            y = np.concatenate(outs)
            w = vc(m[None])[0]
            snr.append(10 * np.log10(np.sum(w ** 2) / (np.sum((w - y) ** 2) + 1e-20)))
            d = np.abs(np.diff(y))
            # joins: boundaries between pushes and the start/end of every cross-fade region
            marks = set()
            pos = np.cumsum([len(o) for o in outs])[:-1]
            for p in pos:
                marks.update([p, p - O * 320])
            for k, p in enumerate(np.cumsum([0] + [len(o) for o in outs])[1:-1]):
                marks.add(p + O * 320 * 0)
            near = np.zeros(len(d), bool)
            for p in marks:
                near[max(0, p - 3):min(len(d), p + 3)] = True
            jj.append(float(d[near].max()) if near.any() else 0.0)
            je.append(float(d[~near].max()))
        res[f"O{O}_R{R}"] = {"overlap_frames": O, "lookahead_frames": R, "snr_db_mean": float(np.mean(snr)),
                             "snr_db_min": float(np.min(snr)), "max_jump_at_joins": float(np.max(jj)),
                             "max_jump_elsewhere": float(np.max(je)),
                             "held_back_ms": 20 * (O + R)}
        print(res[f"O{O}_R{R}"], flush=True)
    os.makedirs(os.path.join(WORK2, "eval"), exist_ok=True)
    save_json(os.path.join(WORK2, "eval", "stitch.json"), res)


if __name__ == "__main__":
    main()
