"""The arithmetic mean of the 'model' weights of two or more DiT checkpoints of one architecture (a weight mean of
runs in one basin, e.g. a warm restart and the run it started from; REPORT-part2 §0r).

usage: /usr/bin/python3 training/part2/average_weights.py OUT.pt IN1.pt IN2.pt [...]
The other keys are taken from the last input, without its 'raw' resume weights and optimizer state, so resuming OUT
starts from the mean with a fresh optimizer. Round with fp16_storage.py before measuring, as for any shipped DiT.
"""
import os
import sys

import torch


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    out, inputs = sys.argv[1], sys.argv[2:]
    cks = [torch.load(p, map_location="cpu") for p in inputs]
    keys = cks[0]["model"].keys()
    if any(ck["model"].keys() != keys for ck in cks):
        sys.exit("the checkpoints do not share one architecture (their weight names differ)")
    mean = {}
    for k in keys:
        first = cks[0]["model"][k]
        if first.is_floating_point():
            mean[k] = (sum(ck["model"][k].float() for ck in cks) / len(cks)).to(first.dtype)
        else:
            mean[k] = cks[-1]["model"][k]
    result = {k: v for k, v in cks[-1].items() if k not in ("opt", "raw", "weights_rounded_fp16")}
    result["model"] = mean
    result["averaged_from"] = inputs
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save(result, out)
    print(f"{out}: mean of {len(cks)} checkpoints, {len(mean)} tensors")


if __name__ == "__main__":
    main()
