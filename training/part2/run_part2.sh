#!/bin/sh
# Part 2 pipeline (detokenizer + vocoder), every stage resumable. Run from the repository root:
#   sh training/part2/run_part2.sh [DETOK_MINUTES] [VOCODER_MINUTES] [THREADS]
# Stages: slt data (skipped if present) -> tokens from part 1's encoder (training/runs/encoder/final.pt)
#         -> vocoder training -> detokenizer training -> export + golden -> ORT check -> evaluation.
# Training resumes from training/runs/part2/{detok,vocoder}/last.pt; the minutes are ADDITIONAL minutes.
set -e
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
W=training/work   # generated data, logs and tokens (git-ignored)
DM=${1:-30}
VM=${2:-20}
TH=${3:-1}
mkdir -p $W/part2/logs
[ -f training/data/part2/mel_stats.json ] || $PY training/part2/make_data.py --procs 2
# broad text (broad_text.py, ~5 h of slt): the detokenizer's unseen-sentence intelligibility (REPORT-part2 §0h)
[ -f training/data/part2/slt_broad.npz ] || $PY training/part2/make_data.py --broad --procs 2
# The semantic tokens: a codebook over [feature ; layer-1 hidden] learned for mel reconstruction on the train and
# broad slt text (REPORT-part2 §0c, §0i), shared with part 1's decoder. Learned once per encoder checkpoint (the one
# recipe: build_pack.py --codebook-only).
if [ -f $W/part2/units.pt ]; then
  $PY training/part2/tokenize_data.py --splits eval,train,broad --threads "$TH"
else
  $PY training/build_pack.py --codebook-only
fi
$PY training/part2/train_vocoder.py --minutes "$VM" --threads "$TH"
$PY training/part2/train_detok.py --minutes "$DM" --extra-splits broad --threads "$TH"
# float16 values before anything measures it; export_part2.py then stores the large matrices as float16
$PY training/fp16_storage.py round runs/part2/detok/last.pt
$PY training/part2/export_part2.py --threads "$TH"
$PY training/part2/ort_check_part2.py --threads "$TH"
$PY training/part2/evaluate_part2.py --threads "$TH"
