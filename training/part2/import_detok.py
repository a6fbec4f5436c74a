"""Turn a detokenizer returned by a device-machine run (gpu_detok.sh: EMA weights, float32 or float16) into a
checkpoint the CPU tools read: training/runs/part2/<run>/last.pt with float32 weights and no optimizer state
(export_part2.py, evaluate_part2.py; train_detok.py --init continues from it with a fresh optimizer).

usage: /usr/bin/python3 training/part2/import_detok.py FILE.pt [--run detok_gpu]
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import RUNS2  # noqa: E402
from dit import DiT, DiTConfig  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--run", default="detok_gpu")
    a = ap.parse_args()
    ck = torch.load(a.file, map_location="cpu")
    sd = {k: v.float() if v.is_floating_point() else v for k, v in ck["model"].items()}
    DiT(DiTConfig(**ck["cfg"])).load_state_dict(sd)          # fails loudly on a config/weights mismatch
    out = os.path.join(RUNS2, a.run, "last.pt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    torch.save({"model": sd, "cfg": ck["cfg"], "step": ck.get("step", 0), "elapsed": ck.get("elapsed", 0.0),
                "source": os.path.basename(a.file), "device": ck.get("device")}, out)
    print(f"{out}: step {ck.get('step')} ({ck.get('dtype', 'float32')} weights from {ck.get('device')})")


if __name__ == "__main__":
    main()
