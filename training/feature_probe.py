"""How much intent the encoder's features carry, independent of the decoder: a pooled MLP (mean + max of each clip's
12.5 Hz features → 256 → 13 intents) trained on the encoded training split, scored on the held-out splits.
Cheap (the pooled vectors are computed once; ~1 min per corpus on one thread), so an encoder change can be judged
before the decoder is retrained on it.
usage: /usr/bin/python3 training/feature_probe.py [ENCODED_DIR ...]   (default: work/encoded under training/)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from corpus_text import INTENTS  # noqa: E402


def pooled(path):
    d = torch.load(path)
    x = torch.stack([torch.cat([it["feat"].float().mean(0), it["feat"].float().max(0).values]) for it in d["items"]])
    y = torch.tensor([INTENTS.index(m["intent"]) for m in d["meta"]])
    return x, y


def probe(root, epochs=30, seed=0):
    torch.manual_seed(seed)
    xtr, ytr = pooled(os.path.join(root, "train.pt"))
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-5
    xn = (xtr - mu) / sd
    mlp = torch.nn.Sequential(torch.nn.Linear(xn.shape[1], 256), torch.nn.ReLU(), torch.nn.Dropout(0.3),
                              torch.nn.Linear(256, len(INTENTS)))
    opt = torch.optim.AdamW(mlp.parameters(), lr=1e-3, weight_decay=0.05)
    for _ in range(epochs):
        perm = torch.randperm(len(xn))
        for i in range(0, len(xn), 128):
            b = perm[i:i + 128]
            loss = torch.nn.functional.cross_entropy(mlp(xn[b] + 0.1 * torch.randn_like(xn[b])), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    mlp.eval()
    res = {}
    with torch.no_grad():
        res["train"] = (mlp(xn).argmax(1) == ytr).float().mean().item()
        for split in ["eval_voice", "eval_para", "eval_both"]:
            x, y = pooled(os.path.join(root, f"{split}.pt"))
            res[split] = (mlp((x - mu) / sd).argmax(1) == y).float().mean().item()
    return res


def main():
    torch.set_num_threads(1)
    roots = sys.argv[1:] or [os.path.join(HERE, "work", "encoded")]
    for root in roots:
        res = probe(root)
        print(os.path.relpath(root), " ".join(f"{k} {v:.3f}" for k, v in res.items()), flush=True)


if __name__ == "__main__":
    main()
