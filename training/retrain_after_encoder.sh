#!/bin/sh
# After the encoder changed (runs/encoder/final.pt rewritten): refit the codebook, re-encode the corpus, then train
# the decoder (from scratch) and the detokenizer (warm-started from the previous units' weights) on the new units,
# one thread each, side by side. Each step resumes from its checkpoint when re-run. The previous runs are kept
# (runs/decoder_v2, runs/part2/detok_v2, work/encoded_v2, work/part2/v2_*.pt) until the new pack beats the committed one.
# usage: sh training/retrain_after_encoder.sh [decoder-minutes] [detok-minutes]
cd "$(dirname "$0")/.."
W=training/work   # generated data, logs and tokens (git-ignored)
DEC_MIN=${1:-90}
DETOK_MIN=${2:-85}
test -f training/runs/encoder/final.pt || { echo "training/runs/encoder/final.pt is missing: train the encoder first"; exit 1; }
mkdir -p $W/logs
[ -d training/runs/decoder_v2 ] || { [ -d training/runs/decoder ] && mv training/runs/decoder training/runs/decoder_v2; }
for f in units.pt tokens_train.pt tokens_eval.pt; do
  [ -f $W/part2/v2_$f ] || { [ -f $W/part2/$f ] && cp $W/part2/$f $W/part2/v2_$f; }
done
[ -d "$W/encoded_v2" ] || { [ -d "$W/encoded" ] && cp -r "$W/encoded" "$W/encoded_v2"; }
if /usr/bin/python3 -c "import sys; sys.path.insert(0, 'training'); import build_pack; sys.exit(0 if build_pack.codebook_fresh() else 1)"; then
  echo "== codebook already fitted on this encoder"
else
  echo "== codebook $(date +%T)"   # learned units (REPORT-part2 §0c, §0i); the decoder/DiT then need a fresh start or remap_codebook.py
  /usr/bin/python3 training/build_pack.py --codebook-only || exit 1
fi
if [ $W/encoded/train.pt -nt $W/part2/units.pt ]; then
  echo "== corpus already encoded with this codebook"
else
  echo "== encode $(date +%T)"
  /usr/bin/python3 training/encode_corpus.py || exit 1
fi
echo "== decoder + detokenizer $(date +%T)"
# The detokenizer is warm-started from the previous units' weights (kept in runs/part2/detok_v2).
[ -d training/runs/part2/detok_v2 ] || cp -r training/runs/part2/detok training/runs/part2/detok_v2
/usr/bin/python3 training/part2/train_detok.py --run training/runs/part2/detok --minutes "$DETOK_MIN" --threads 1 \
  >> $W/logs/detok_s3.log 2>&1 &
/usr/bin/python3 training/train_decoder.py --minutes "$DEC_MIN" --probe-epochs 12 --threads 1 >> $W/logs/decoder_s3.log 2>&1
wait
echo "done $(date +%T)"
