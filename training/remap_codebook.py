"""Carry a trained decoder or detokenizer over to a new semantic-token inventory (warm start).

When the encoder's codebook changes (k-means 512 -> reconstruction-trained units, training/REPORT-part2.md §0b),
every weight row indexed by an audio code is stale. Rather than starting those rows from noise, each new code's row
becomes the average of the old codes' rows, weighted by how often the two codes label the same 80 ms frame of the
same clip: row_new[n] = sum_o P(old = o | new = n) row_old[o]. At initialisation the model then sees roughly what it
saw before, and training only has to sharpen it. Codes never seen get the frame-weighted mean of all old rows.

usage (tokens files hold the same clips in the same order, tokenised with the old and with the new codebook):
  /usr/bin/python3 training/remap_codebook.py decoder --old work/encoded/train_k512.pt --new work/encoded/train.pt \\
      --ckpt runs/decoder/final.pt --out runs/decoder/remapped.pt
  /usr/bin/python3 training/remap_codebook.py dit --old work/part2/tokens_train_k512.pt \\
      --new work/part2/tokens_train.pt --ckpt runs/part2/detok/recovered.pt --out runs/part2/detok/remapped.pt
(paths relative to training/)
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokens import Vocab  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def token_lists(path):
    d = torch.load(os.path.join(HERE, path))
    if "items" in d:                                   # encode_corpus.py output
        return [it["tokens"].long() for it in d["items"]]
    return [t.long() for t in d["tokens"]]             # part2/tokenize_data.py output


def cooccurrence(old, new, n_old, n_new):
    if len(old) != len(new):
        raise SystemExit(f"the two token files hold {len(old)} and {len(new)} clips: not the same clips")
    m = torch.zeros(n_new, n_old, dtype=torch.float64)
    for a, b in zip(old, new):
        if len(a) != len(b):
            raise SystemExit("a clip has different token counts in the two files: not the same audio")
        m.index_put_((b, a), torch.ones(len(a), dtype=torch.float64), accumulate=True)
    return m


def transfer(m):
    """[n_new, n_old] counts -> row-stochastic P(old | new); unseen new codes get the old codes' frequencies."""
    seen = m.sum(1, keepdim=True)
    prior = m.sum(0) / m.sum()
    p = torch.where(seen > 0, m / seen.clamp(min=1), prior[None, :])
    return p.float(), int((seen[:, 0] > 0).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=["decoder", "dit"])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--n-new", type=int, default=0, help="new codebook size (default: tokens.CODEBOOK_SIZE)")
    a = ap.parse_args()
    ck = torch.load(os.path.join(HERE, a.ckpt), map_location="cpu")
    old, new = token_lists(a.old), token_lists(a.new)
    n_new = a.n_new or Vocab().n_codes
    sd = {k: v.clone() for k, v in ck["model"].items()}
    cfg = dict(ck["cfg"])
    if a.kind == "decoder":
        old_vocab = cfg["vocab_size"]
        off = Vocab().audio_offset
        n_old = old_vocab - off
        p, seen = transfer(cooccurrence(old, new, n_old, n_new))
        for k in ("embed.weight", "text_head.weight", "audio_head.weight"):
            w = sd[k]
            sd[k] = torch.cat([w[:off], p @ w[off:off + n_old]])
        cfg["vocab_size"] = off + n_new
    else:
        n_old = cfg["n_codes"]
        p, seen = transfer(cooccurrence(old, new, n_old, n_new))
        sd["tok.weight"] = p @ sd["tok.weight"]
        cfg["n_codes"] = n_new
    out = {k: v for k, v in ck.items() if k not in ("model", "cfg", "opt", "raw")}
    out.update(model=sd, cfg=cfg, remapped_from=a.ckpt, remap={"old": a.old, "new": a.new, "n_old": n_old,
                                                             "n_new": n_new, "new_codes_seen": seen})
    torch.save(out, os.path.join(HERE, a.out))
    print(f"{a.kind}: {n_old} -> {n_new} codes ({seen} seen in {len(new)} clips), wrote {a.out}", flush=True)


if __name__ == "__main__":
    main()
