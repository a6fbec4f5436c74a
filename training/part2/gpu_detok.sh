#!/bin/sh
# Train detokenizer variants side by side on a device machine's GPU (one call, MINUTES of training each), from
# the compact pack of pack_detok_data.py (carried as training/work/part2/gpu). Writes the EMA weights
# (float32 when they fit a 16 MB returned file, else float16) and the logs to $OUT.
#   usage (on the device machine): sh training/part2/gpu_detok.sh MINUTES
# Back here, `import_detok.py` turns a returned file into training/runs/part2/<run>/last.pt.
set -e
MIN=${1:-8}
G=training/work/part2/gpu
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(0))"
common="--device cuda --data-pack $G/detok_data.xz --minutes $MIN --bs 96 --lr 1e-3 --ema 0.999 --time-schedule \
 --eval-every 2 --save-every 500 --threads 4"
python3 training/part2/train_detok.py $common --run /tmp/runA --init $G/init.pt > "$OUT/detokA.log" 2>&1 &
python3 training/part2/train_detok.py $common --run /tmp/runB --cfg d_model=256,n_layers=8,d_ff=1024 \
    > "$OUT/detokB.log" 2>&1 &
wait
for r in A B; do
python3 - "$r" <<'EOF'
import os, sys, torch
r = sys.argv[1]
ck = torch.load(f"/tmp/run{r}/last.pt", map_location="cpu")
n = sum(v.numel() for v in ck["model"].values())
half = n * 4 > 15e6
sd = {k: (v.half() if half and v.is_floating_point() else v) for k, v in ck["model"].items()}
torch.save({"model": sd, "cfg": ck["cfg"], "step": ck["step"], "elapsed": ck["elapsed"],
            "device": torch.cuda.get_device_name(0), "dtype": "float16" if half else "float32"},
           os.path.join(os.environ.get("OUT", "/tmp/out"), f"detok{r}.pt"))
print(r, "params", n, "step", ck["step"], "float16" if half else "float32")
EOF
done
tail -n 3 "$OUT"/detok*.log
