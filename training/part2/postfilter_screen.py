"""Screen mel post-filters between the detokenizer and the vocoder (not in the pack; a measurement for the next
choice). With N = 1 the DiT returns close to the conditional mean of the mel, smoother than real speech on text it
was not trained on; this tries widening the normalised mel around the training mean (scaleA: x -> A x) and a
temporal unsharp mask (tsharpB: x -> x + B (x - 3-frame mean)), each chunk as the engine emits it, and reports
pocketsphinx WER on the 13 replies, the 20 evaluation sentences and one fresh set (training/REPORT-part2.md §0f).
usage: /usr/bin/python3 training/part2/postfilter_screen.py [--set b] [--detok-run detok] [--vocoder-run vocoder]
-> work/part2/eval/postfilter_SET[_DETOKRUN_VOCODERRUN].json under training/ (WER and each clip's hypothesis)
Also the screen of a DiT candidate: --filters none --detok-run RUN (training/REPORT-part2.md §0g).
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, WORK2, load_json, save_json  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import load, recognize, wer  # noqa: E402
from fresh_sentences import SETS, fresh_set, semantic_tokens  # noqa: E402
from probe_units import clips  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables, vocode_chunks  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402


def smooth3(x):
    p = np.pad(x, ((1, 1), (0, 0)), mode="edge")
    return (p[:-2] + p[1:-1] + p[2:]) / 3


def widen(a):
    return lambda m: (a * m).astype(np.float32)


def sharpen(b):
    return lambda m: (m + b * (m - smooth3(m))).astype(np.float32)


FILTERS = {"none": lambda m: m, **{f"scale{a}": widen(a) for a in (1.15, 1.3, 1.5)},
           **{f"tsharp{b}": sharpen(b) for b in (0.5, 1.0)}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--set", default="b", choices=sorted(SETS))
    ap.add_argument("--filters", default=",".join(FILTERS))
    ap.add_argument("--detok-run", default="detok")
    ap.add_argument("--vocoder-run", default="vocoder")
    ap.add_argument("--lookahead", type=int, default=-1, help="override the schedule's lookahead_tokens (-1: keep)")
    ap.add_argument("--chunk", type=int, default=-1, help="override the schedule's chunk_tokens (-1: keep)")
    ap.add_argument("--no-prefix", action="store_true",
                    help="decode every chunk without the cache of earlier output (does the DiT's own past help?)")
    ap.add_argument("--max-cache", type=int, default=-1,
                    help="override the schedule's max_cache_frames (-1: keep): the DiT attends to at most this many "
                         "frames of its own earlier output")
    ap.add_argument("--t-clean", type=float, default=-1.0,
                    help="override the schedule's t_clean (-1: keep): the flow time of the cache-writing call")
    ap.add_argument("--units", default=None,
                    help="tokenize the evaluation and fresh clips with this unit file instead of the installed one "
                         "(a DiT trained on another codebook, e.g. work/part2/units_s16.pt under training/)")
    a = ap.parse_args()
    torch.set_num_threads(1)
    # schedule overrides; max_cache_frames 0 drops every chunk's keys/values as soon as they are written (no prefix)
    max_cache = 0 if a.no_prefix else a.max_cache
    over = {k: v for k, v, on in (("lookahead_tokens", a.lookahead, a.lookahead >= 0),
                                  ("chunk_tokens", a.chunk, a.chunk > 0),
                                  ("max_cache_frames", max_cache, max_cache >= 0),
                                  ("t_clean", a.t_clean, a.t_clean > 0)) if on}
    sched = dict(SCHEDULE, **over)
    dit, _ = load(a.detok_run, DiT, DiTConfig)
    voc, _ = load(a.vocoder_run, Vocoder, VocoderConfig)
    step, vocode = torch_callables(dit, voc)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    texts = [m["text"] for m in load_json(os.path.join(DATA2, "slt_eval.json"))]
    if a.units:
        codes = [t.numpy().astype(np.int64) for t in semantic_tokens(clips("eval")[0], a.units)]
    else:
        codes = [t.numpy().astype(np.int64) for t in torch.load(os.path.join(WORK2, "tokens_eval.pt"))["tokens"]]
    fresh, _, toks = fresh_set(a.set, a.units)
    codes += [t.numpy().astype(np.int64) for t in toks]
    texts += fresh
    mels = [detokenize(step, c, dims, 0, sched) for c in codes]
    res = {"set": a.set, "detok_run": a.detok_run, "vocoder_run": a.vocoder_run, "units": a.units or "installed",
           "schedule": sched, "wer": {}, "hypotheses": {}}
    with tempfile.TemporaryDirectory() as td:
        for name in a.filters.split(","):
            f = FILTERS[name]
            hyp = [recognize(vocode_chunks(vocode, [f(c) for c in ms]), td) for ms in mels]
            res["wer"][name] = {"replies": wer(texts[:13], hyp[:13]), "sentences": wer(texts[13:33], hyp[13:33]),
                                f"fresh_{a.set}": wer(texts[33:], hyp[33:])}
            res["hypotheses"][name] = dict(zip(texts, hyp))
            print(name, {k: round(v, 1) for k, v in res["wer"][name].items()}, flush=True)
    os.makedirs(os.path.join(WORK2, "eval"), exist_ok=True)
    runs = "" if (a.detok_run, a.vocoder_run) == ("detok", "vocoder") else f"_{a.detok_run}_{a.vocoder_run}"
    runs += f"_{os.path.splitext(os.path.basename(a.units))[0]}" if a.units else ""
    runs += "".join({"lookahead_tokens": f"_la{a.lookahead}", "chunk_tokens": f"_chunk{a.chunk}",
                     "max_cache_frames": "_noprefix" if a.no_prefix else f"_cache{max_cache}",
                     "t_clean": f"_tclean{a.t_clean:g}"}[k] for k in over)
    save_json(os.path.join(WORK2, "eval", f"postfilter_{a.set}{runs}.json"), res)


if __name__ == "__main__":
    main()
