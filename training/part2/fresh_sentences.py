"""Pocketsphinx WER of the resynthesis (flite slt -> semantic tokens -> streaming detokenizer with N Euler steps ->
chunked vocoder) on 20 sentences used nowhere else: not in training, not in evaluate_part2.py's sets, and not used
for any earlier choice. Session 7 chose N with it (training/REPORT-part2.md §0d), because the 33 evaluation clips
had already been used to choose N once. Re-use makes it a test set no longer: write new sentences for the next choice.
-> work/part2/eval/fresh_sentences.json under training/
usage: /usr/bin/python3 training/part2/fresh_sentences.py [--steps 1,2] [--threads 2]
"""
import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import TRAINING, WORK2, pad_to_tokens, save_json  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402
from evaluate_part2 import load, recognize, wer  # noqa: E402
from make_data import flite_slt  # noqa: E402
from sentences import eval_sentences, train_sentences  # noqa: E402
from stream import SCHEDULE, detokenize, torch_callables, vocode_chunks  # noqa: E402
from tokenize_data import tokenize  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402
from infer import load_encoder  # noqa: E402

FRESH = [
    "The library closes early on public holidays.", "My sister planted tomatoes in the back garden.",
    "Could you turn the music down a little, please?", "The train to the airport leaves every twenty minutes.",
    "We watched the sunset from the top of the hill.", "He forgot his umbrella at the office again.",
    "The children built a castle out of sand.", "Our neighbours bought a small red car last week.",
    "Please send the report before Thursday afternoon.", "The soup tastes better with a little more salt.",
    "She plays the piano every morning before work.", "The museum has a new exhibition about whales.",
    "I usually drink coffee with milk and no sugar.", "The storm knocked down three trees on our street.",
    "They are painting the kitchen a pale yellow.", "The doctor asked me to come back in two weeks.",
    "A black cat was sleeping on the warm roof.", "We need more chairs for the meeting room.",
    "The bakery sells fresh bread until noon.", "My phone battery died halfway through the call.",
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="1,2")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    known = set(train_sentences()) | set(eval_sentences())
    assert not any(s in known for s in FRESH), "a fresh sentence is in the training or evaluation sets"
    with tempfile.TemporaryDirectory() as td:
        waves = [(pad_to_tokens(flite_slt(s, td)) * 32767).astype(np.int16) for s in FRESH]
    toks = tokenize(load_encoder(os.path.join(TRAINING, "runs", "encoder", "final.pt")), waves)
    dit, dck = load("detok", DiT, DiTConfig)
    voc, _ = load("vocoder", Vocoder, VocoderConfig)
    step, vocode = torch_callables(dit, voc)
    dims = (dit.c.n_layers, dit.c.n_heads, dit.c.head_dim)
    res = {"detok_checkpoint_step": dck["step"], "sentences": FRESH, "wer": {}, "hypotheses": {}}
    with tempfile.TemporaryDirectory() as td:
        res["wer"]["flite_slt"] = wer(FRESH, [recognize(w.astype(np.float32) / 32768, td) for w in waves])
        for n in [int(s) for s in a.steps.split(",")]:
            sch = dict(SCHEDULE, euler_steps=n)
            hyp = []
            for t in toks:
                mels = detokenize(step, t.numpy().astype(np.int64), dims, 0, sch)
                hyp.append(recognize(vocode_chunks(vocode, mels, sch), td))
            res["wer"][f"resynthesis_N{n}"] = wer(FRESH, hyp)
            res["hypotheses"][f"N{n}"] = hyp
            print(f"N {n}: WER {res['wer'][f'resynthesis_N{n}']:.1f} %", flush=True)
    print(f"flite slt: WER {res['wer']['flite_slt']:.1f} %")
    os.makedirs(os.path.join(WORK2, "eval"), exist_ok=True)
    save_json(os.path.join(WORK2, "eval", "fresh_sentences.json"), res)


if __name__ == "__main__":
    main()
