#!/bin/sh
# Train detokenizer variants side by side on a device machine's GPU (one call, MINUTES of training each), from
# the compact pack of pack_detok_data.py (work/part2/gpu under training/, carried). Writes the EMA weights
# (float32 when they fit a 16 MB returned file, else float16) and the logs to $OUT.
#   usage (on the device machine): sh training/part2/gpu_detok.sh MINUTES
# Back here, `import_detok.py` turns a returned file into training/runs/part2/<run>/last.pt.
set -e
MIN=${1:-8}
PART2=$(dirname "$0")
WORK="$(dirname "$PART2")/work"
G="$WORK/part2/gpu"
OUT=${OUT:-$(mktemp -d)}       # the device machine sets $OUT (its files come back)
RUNS=$(mktemp -d)              # per-variant checkpoints; only the exported weights below go back
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
common="--device cuda --data-pack $G/detok_data.xz --minutes $MIN --bs 96 --lr 1e-3 --ema 0.999 --time-schedule \
 --eval-every 2 --save-every 500 --threads 4"
# A: the session-7 recipe (training times on the N = 2 Euler grid, replies drawn 30 % of the time) from the pack's weights
python3 "$PART2/train_detok.py" $common --run "$RUNS/A" --init "$G/init.pt" --t-grid 2 --t-grid-p 0.8 --reply-p 0.3 \
    > "$OUT/detokA.log" 2>&1 &
python3 "$PART2/train_detok.py" $common --run "$RUNS/B" --cfg d_model=256,n_layers=8,d_ff=1024 \
    > "$OUT/detokB.log" 2>&1 &
wait
for r in A B; do
python3 - "$r" "$RUNS" "$OUT" <<'EOF'
import os, sys, torch
r, runs, out = sys.argv[1:4]
ck = torch.load(os.path.join(runs, r, "last.pt"), map_location="cpu")
n = sum(v.numel() for v in ck["model"].values())
half = n * 4 > 15e6
sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in ck["model"].items()}
torch.save({"model": sd, "cfg": ck["cfg"], "step": ck["step"], "elapsed": ck["elapsed"],
            "device": torch.cuda.get_device_name(0), "dtype": "float16" if half else "float32"},
           os.path.join(out, f"detok{r}.pt"))
print(r, "params", n, "step", ck["step"], "float16" if half else "float32")
EOF
done
tail -n 3 "$OUT"/detok*.log
