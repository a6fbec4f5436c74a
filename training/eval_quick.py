"""Text-only reply accuracy of one decoder checkpoint on the held-out splits, with the manifest's prior correction.

For choosing between decoder runs without the full evaluate.py (which adds text+audio decoding, two-turn dialogues
and timings); both share evaluate.reply_accuracy. By default the text logit bias is what export.py writes into the
manifest for this checkpoint (prior.decoder_bias); --bias replaces it, --no-bias measures without it.

usage: /usr/bin/python3 training/eval_quick.py [--ckpt training/runs/decoder/final.pt] [--splits eval_voice,...]
       [--bias "Sorry,=-0.69" | --no-bias] [--n 390] [--threads 2] [--json FILE]
       [--text-audio [--replies work/encoded/replies.pt]]
--text-audio decodes in text+audio mode and also counts the clips whose reply audio codes equal the reply targets
exactly (a split name may be a file name under work/encoded, e.g. eval_both_s12, to score another codebook's copy).
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import WORK  # noqa: E402
from evaluate import reply_accuracy  # noqa: E402
from infer import load_decoder  # noqa: E402
from prior import decoder_bias  # noqa: E402
from tokens import Vocab  # noqa: E402


def parse_bias(vocab, spec):
    """'Sorry,=-0.69;Hello,=0.1' -> {token id: value}"""
    table = {t: i for i, t in vocab.token_table().items()}
    out = {}
    for part in filter(None, spec.split(";")):
        tok, val = part.rsplit("=", 1)
        if tok not in table:
            raise SystemExit(f"--bias: {tok!r} is not one text token")
        out[table[tok]] = float(val)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--splits", default="eval_voice,eval_para,eval_both")
    ap.add_argument("--bias", default=None)
    ap.add_argument("--no-bias", action="store_true")
    ap.add_argument("--n", type=int, default=0, help="first N clips of each split (0: all)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", default="", help="also write the results here")
    ap.add_argument("--text-audio", action="store_true", help="text+audio mode; also count exact reply codes")
    ap.add_argument("--replies", default=os.path.join(WORK, "encoded", "replies.pt"),
                    help="the reply code targets for --text-audio (encode_corpus.py writes them)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    vocab = Vocab()
    dec = load_decoder(a.ckpt)
    bias = {} if a.no_bias else parse_bias(vocab, a.bias) if a.bias is not None else decoder_bias(vocab, dec.checkpoint_info)
    print("text logit bias:", bias, flush=True)
    res = {"ckpt": a.ckpt or "training/runs/decoder/final.pt", "bias": {str(k): v for k, v in bias.items()}}
    replies = torch.load(a.replies) if a.text_audio else None
    mode = "text+audio" if a.text_audio else "text-only"
    for split in a.splits.split(","):
        d = torch.load(os.path.join(WORK, "encoded", split + ".pt"))
        pairs = list(zip(d["meta"], d["items"]))[: a.n or None]
        t0 = time.time()
        with torch.no_grad():
            ok, audio_ok, conf, _ = reply_accuracy(dec, vocab, pairs, a.text_audio, bias, replies)
        res[split] = {"accuracy": ok / len(pairs), "n": len(pairs), "confusion": conf, "mode": mode}
        if a.text_audio:
            res[split]["audio_tokens_exact"] = audio_ok / len(pairs)
        fb = sum(v.get("fallback", 0) for k, v in conf.items() if k != "fallback")
        print(f"{split}: {mode} reply accuracy {ok / len(pairs):.3f} ({ok} of n={len(pairs)}"
              + (f"; exact reply codes {audio_ok}" if a.text_audio else "")
              + f"; {fb} answered with fallback wrongly; {time.time() - t0:.0f}s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
