"""Rebuild the demo model pack from scratch (fixed seed). Every stage is resumable: re-running the command skips
finished stages and resumes training from the last checkpoint.

usage: /usr/bin/python3 training/build_pack.py [--enc-minutes 110] [--dec-minutes 90] [--extra-copies 0] [--from STAGE]
stages: synth, encoder, codebook (learned units; needs the part-2 slt corpus), encode, decoder, export (+ merge_manifest.py for part 2), check, evaluate

Generated data goes to training/data, training/work, training/runs (git-ignored); the pack to models/demo.
"""
import argparse
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from tokens import CODEBOOK_SIZE  # noqa: E402
REPO = os.path.dirname(HERE)
PY = sys.executable
STAGES = ["synth", "encoder", "codebook", "encode", "decoder", "export", "check", "evaluate"]


def codebook_fresh():
    """units.pt (the semantic-token inventory) exists and was fitted on the current encoder checkpoint."""
    cb, ck = here("work/part2/units.pt"), here("runs/encoder/final.pt")
    if not (os.path.exists(cb) and os.path.exists(ck)):
        return False
    import torch  # noqa: E402 (only this check needs torch)
    from infer import file_sha256
    return torch.load(cb)["info"]["ckpt_sha256"] == file_sha256(ck)


def learn_codebook():
    """The semantic tokens are a codebook over [feature ; layer-1 hidden] learned for mel reconstruction on the agent
    voice (slt); the part-2 detokenizer is trained on exactly these ids, so both sides of the pack share one codebook
    (training/REPORT-part2.md §0b). Since session 13 (§0i) it is learned with the broad slt text too (25 min): unseen
    sentences through the same probe regressor 38 % WER against 50 % for the train-split-only codebook.
    The one recipe: run_part2.sh and retrain_after_encoder.sh call it through --codebook-only."""
    if not done("data/part2/mel_stats.json"):
        run([PY, here("part2/make_data.py")])
    if not done("data/part2/slt_broad.npz"):
        run([PY, here("part2/make_data.py"), "--broad", "--procs", "2"])
    n = CODEBOOK_SIZE   # 4,096 since session 16 (REPORT-part2 §0l): 1,024 ids lost 23 points of WER on unseen text
    run([PY, here("part2/probe_units.py"), "--inputs", f"vqL1_{n}", "--broad", "--minutes", "25", "--save-vq",
         "--out", f"probe_units_vqL1_{n}.json"])
    run([PY, here("part2/tokenize_data.py"), "--units", here(f"work/part2/units_vqL1_{n}.pt"),
         "--splits", "eval,train,broad", "--threads", "2"])


def here(path):
    return os.path.join(HERE, path)


def done(path):
    return os.path.exists(here(path))


def run(args):
    print("+", " ".join(os.path.relpath(a, REPO) if a.startswith(REPO) else a for a in args), flush=True)
    subprocess.run(args, check=True, cwd=REPO)


def main():
    ap = argparse.ArgumentParser()
    # The committed pack: encoder 110 min of step time (45 + 65 in two runs), decoder 90 min with the intent probe
    # pre-trained 12 epochs, on the training corpus alone (training/REPORT.md). --extra-copies 1 is the session-4
    # experiment (a second acoustic copy of the training corpus), not yet better on held-out voices.
    ap.add_argument("--enc-minutes", type=float, default=110)
    ap.add_argument("--dec-minutes", type=float, default=90)
    ap.add_argument("--probe-epochs", type=int, default=12)
    ap.add_argument("--extra-copies", type=int, default=0,
                    help="extra acoustic copies of the training corpus for the decoder (splits train2, train3, ...)")
    ap.add_argument("--from", dest="start", choices=STAGES, default="synth",
                    help="force re-running this stage and the ones after it")
    ap.add_argument("--codebook-only", action="store_true",
                    help="only (re)learn the semantic-token codebook and tokenise the slt splits with it")
    a = ap.parse_args()
    if a.codebook_only:
        return learn_codebook()
    force = set(STAGES[STAGES.index(a.start):]) if a.start != "synth" else set()
    if not done("data/corpus/DONE.json"):
        run([PY, here("synth.py"), "--scale", "1.0", "--procs", "2"])
    extra = [f"train{k}" for k in range(2, 2 + a.extra_copies)]
    for k, name in enumerate(extra, start=2):
        if not done(f"data/corpus/DONE_{name}.json"):
            run([PY, here("synth.py"), "--extra", str(k), "--procs", "2"])
    if "encoder" in force or not done("runs/encoder/final.pt"):
        run([PY, here("train_encoder.py"), "--minutes", str(a.enc_minutes)])
    if "codebook" in force or not codebook_fresh():
        learn_codebook()
        force.update({"encode", "decoder"})
    if "encode" in force or not done("work/encoded/train.pt"):
        run([PY, here("encode_corpus.py")])
    missing = [n for n in extra if "encode" in force or not done(f"work/encoded/{n}.pt")]
    if missing:
        run([PY, here("encode_corpus.py"), "--splits", ",".join(missing)])
    if "decoder" in force or not done("runs/decoder/final.pt"):
        run([PY, here("train_decoder.py"), "--minutes", str(a.dec_minutes), "--probe-epochs", str(a.probe_epochs),
             "--threads", "1"] + (["--extra-train", ",".join(extra)] if extra else []))
        # float16 values before anything measures it: export.py then stores the large matrices as float16
        # (the 4,224-id decoder would be ~28 MB in float32; fp16_storage.py)
        run([PY, here("fp16_storage.py"), "round", here("runs/decoder/final.pt")])
    run([PY, here("export.py")])
    if os.path.exists(here("merge_manifest.py")):      # re-adds the part-2 (detokenizer/vocoder) manifest sections
        run([PY, here("merge_manifest.py")])
    run([PY, here("validate_manifest.py")])
    run([PY, here("ort_check.py")])
    run([PY, here("evaluate.py")])


if __name__ == "__main__":
    main()
