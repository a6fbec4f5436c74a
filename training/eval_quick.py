"""Text-only reply accuracy of one decoder checkpoint on the held-out splits, optionally with a text logit bias.

For choosing between decoder runs without the full evaluate.py (which adds text+audio decoding, two-turn dialogues
and timings). The bias is the manifest's sampling.text.logit_bias rule (token -> value added to the text logits at
every step), so what is measured here is what the engine does with the same manifest.

usage: /usr/bin/python3 training/eval_quick.py [--ckpt training/runs/decoder/final.pt] [--splits eval_voice,...]
       [--bias "Sorry,=-0.69"] [--n 390] [--threads 2]
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import WORK  # noqa: E402
from corpus_text import REPLIES  # noqa: E402
from infer import build_prompt, generate, load_decoder  # noqa: E402
from tokens import Vocab  # noqa: E402

REPLY_TO_INTENT = {v: k for k, v in REPLIES.items()}


def parse_bias(vocab, spec):
    """'Sorry,=-0.69;Hello,=0.1' -> {token id: value}"""
    out = {}
    for part in filter(None, spec.split(";")):
        tok, val = part.rsplit("=", 1)
        ids = [i for i, t in vocab.token_table().items() if t == tok]
        if len(ids) != 1:
            raise SystemExit(f"--bias: {tok!r} is not one text token")
        out[ids[0]] = float(val)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--splits", default="eval_voice,eval_para,eval_both")
    ap.add_argument("--bias", default="")
    ap.add_argument("--n", type=int, default=0, help="first N clips of each split (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="", help="also write the results here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    vocab = Vocab()
    dec = load_decoder(a.ckpt)
    bias = parse_bias(vocab, a.bias)
    res = {"ckpt": a.ckpt or "training/runs/decoder/final.pt", "bias": a.bias}
    for split in a.splits.split(","):
        d = torch.load(os.path.join(WORK, "encoded", split + ".pt"))
        pairs = list(zip(d["meta"], d["items"]))[: a.n or None]
        ok, conf, t0 = 0, {}, time.time()
        with torch.no_grad():
            for m, it in pairs:
                pr = build_prompt(vocab, it["tokens"].long().numpy(), it["feat"].float().numpy(), False,
                                  dec.c.feat_dim)
                txt, _, _, _ = generate(dec, vocab, pr, False, text_bias=bias)
                pred = REPLY_TO_INTENT.get(vocab.decode_text(txt), "other")
                conf.setdefault(m["intent"], {}).setdefault(pred, 0)
                conf[m["intent"]][pred] += 1
                ok += pred == m["intent"]
        res[split] = {"accuracy": ok / len(pairs), "n": len(pairs), "confusion": conf}
        fb = sum(v.get("fallback", 0) for k, v in conf.items() if k != "fallback")
        print(f"{split}: text-only reply accuracy {ok / len(pairs):.3f} (n={len(pairs)}; "
              f"{fb} answered with fallback wrongly; {time.time() - t0:.0f}s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
