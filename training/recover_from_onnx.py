"""Recover PyTorch checkpoints from the committed ONNX graphs of models/demo/.

Why: training checkpoints (training/runs/) are git-ignored and a fresh machine has none, but the committed pack holds
every trained weight the graphs use. Warm-starting, re-encoding the corpus or evaluating on a new machine therefore
starts here instead of from random weights.

How: a fresh model with random (hence pairwise distinct) weights is exported with the very export code of the pack
(training/export.py, training/part2/export_part2.py). Each initializer of that throw-away graph is matched to the
state_dict entry it came from, by name where the exporter kept it and otherwise by value (torch stores Linear
weights transposed under onnx::MatMul_* names). The same initializer names in the committed graph then give the
trained values. Check: the recovered model is exported again and every initializer must equal the committed one
bit for bit, so nothing is guessed.

usage: /usr/bin/python3 training/recover_from_onnx.py [--only encoder,decoder,detok,vocoder]
writes (under training/) runs/{encoder,decoder}/final.pt, work/part2/units.pt (or kmeans.pt for a k-means pack),
       runs/part2/{detok,vocoder}/recovered.pt   (existing files are kept unless --force)
Parameters the graphs do not contain (the encoder's training-only quantised-stream CTC head and learned VQ) keep
random values; they are listed in the output.
"""
import argparse
import functools
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "part2"))
from common import PACK, RUNS, WORK  # noqa: E402
from fp16_storage import MIN_ELEMENTS, SUFFIX, float32_initializers  # noqa: E402


def initializers(path):
    """float32 values the graph computes with (matrices stored as float16 + Cast are read through the Cast)."""
    return float32_initializers(path)


def fp16_marker(path):
    """{"weights_rounded_fp16": n} when the committed graph stores float16 matrices, so a re-export of the recovered
    checkpoint stores them the same way (export.py, export_part2.py); {} otherwise."""
    stored = any(i.name.endswith(SUFFIX) for i in onnx.load(path).graph.initializer)
    return {"weights_rounded_fp16": MIN_ELEMENTS} if stored else {}


def randomise(model, seed=0):
    """Distinct values everywhere, so that value matching is unambiguous (ones/zeros inits would collide)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for t in list(model.parameters()) + list(model.buffers()):
            if t.is_floating_point():
                t.copy_(torch.randn(t.shape, generator=g))


def name_map(model, export_fn):
    """{initializer name: (state_dict key, transposed)} for the graph export_fn writes for this model."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items() if v.is_floating_point()}
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "fresh.onnx")
        export_fn(model, p)
        inits = initializers(p)
    out, unmatched = {}, []
    for name, arr in inits.items():
        if not np.issubdtype(arr.dtype, np.floating):
            continue          # shape constants
        if name in sd and sd[name].shape == arr.shape and np.array_equal(sd[name], arr):
            out[name] = (name, False)
            continue
        hit = [(k, False) for k, v in sd.items() if v.shape == arr.shape and np.array_equal(v, arr)]
        hit += [(k, True) for k, v in sd.items() if v.ndim == 2 and v.T.shape == arr.shape and np.array_equal(v.T, arr)]
        if len(hit) == 1:
            out[name] = hit[0]
        elif arr.size < 2 and not hit:
            continue          # a scalar constant of the graph (e.g. 0.5, sqrt 2), not a parameter
        else:
            unmatched.append((name, arr.shape, len(hit)))
    if unmatched:
        raise SystemExit(f"initializers with no unique state_dict source: {unmatched[:5]}")
    return out


def recover(model, export_fn, onnx_path, fixup=None):
    randomise(model)
    if fixup:
        fixup(model)
    m = name_map(model, export_fn)
    trained = initializers(onnx_path)
    missing = [n for n in m if n not in trained]
    if missing:
        raise SystemExit(f"{onnx_path}: initializers {missing[:5]} not in the committed graph (export code changed?)")
    sd = model.state_dict()
    for name, (key, tr) in m.items():
        v = torch.from_numpy(np.ascontiguousarray(trained[name].T if tr else trained[name]).copy())
        assert sd[key].shape == v.shape, (key, sd[key].shape, v.shape)
        sd[key] = v
    model.load_state_dict(sd)
    covered = {k for k, _ in m.values()}
    absent = [k for k, v in sd.items() if v.is_floating_point() and k not in covered]
    # proof: re-export and compare every initializer with the committed graph
    with tempfile.TemporaryDirectory() as td:
        p = os.path.join(td, "again.onnx")
        export_fn(model, p)
        again = initializers(p)
    # every float initializer, not only the matched ones: a parameter the matching missed (the vocoder's one-element
    # output bias once was) keeps its random value and shows up here
    worst = 0.0
    for name, b in trained.items():
        if np.issubdtype(b.dtype, np.floating):
            if name not in again or again[name].shape != b.shape:
                raise SystemExit(f"{onnx_path}: initializer {name} is not reproduced by the re-export")
            worst = max(worst, float(np.abs(again[name].astype(np.float64) - b).max()))
    return model, absent, worst


def file_sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def pack_manifest():
    with open(os.path.join(PACK, "manifest.json")) as f:
        return json.load(f)


def pack_training(kind):
    """train_minutes / steps the committed manifest records for this model (so a re-export keeps them)."""
    t = pack_manifest().get("training", {}).get(kind, {})
    return {k: t[k] for k in ("train_minutes", "steps") if k in t}


def save(obj, path, force):
    if os.path.exists(path) and not force:
        print(f"  keep existing {os.path.relpath(path, HERE)} (--force overwrites)")
        return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.save(obj, path)
    print(f"  wrote {os.path.relpath(path, HERE)}")
    return True


def do_encoder(force):
    import export
    from models import EncoderConfig, StreamingEncoder, cfg_dict
    cfg = EncoderConfig()
    tok = pack_manifest()["tokenizer"]
    units = tok.get("units", {"kind": "kmeans"})
    n_codes = tok["codebook_size"]
    enc = StreamingEncoder(cfg)
    if units["kind"] == "learned_reconstruction":
        enc.install_units(torch.zeros(units["code_dim"], cfg.feat_dim + 2 * cfg.d_model), torch.zeros(units["code_dim"]),
                          torch.zeros(n_codes, units["code_dim"]), units["layer"])
    else:
        enc.install_codebook(torch.zeros(n_codes, cfg.feat_dim))
    enc, absent, worst = recover(enc.eval(), lambda m, p: export.export_encoder(m, p),
                                 os.path.join(PACK, "encoder_step.onnx"))
    print(f"encoder: re-export max |diff| {worst:.3g}; not in the graph: {absent}")
    assert worst == 0.0
    # the training checkpoint format carries the learned VQ; it is replaced by the k-means units on loading
    plain = StreamingEncoder(cfg)
    sd = plain.state_dict()
    for k, v in enc.state_dict().items():
        if k in sd and not k.startswith("vq."):
            sd[k] = v
    plain.load_state_dict(sd)
    ck = os.path.join(RUNS, "encoder", "final.pt")
    save({"model": plain.state_dict(), "cfg": cfg_dict(cfg), "recovered_from": "models/demo/encoder_step.onnx",
          **pack_training("encoder")}, ck, force)
    info = {"ckpt": os.path.relpath(ck, HERE), "ckpt_sha256": file_sha256(ck),
            "codes": f"{units['kind']} units ({n_codes}) recovered from models/demo/encoder_step.onnx"}
    if units["kind"] == "learned_reconstruction":
        q = enc.vq
        save({"weight": q.weight.clone(), "bias": q.bias.clone(), "codebook": q.codebook.clone(), "layer": q.layer,
              "info": info}, os.path.join(WORK, "part2", "units.pt"), True)
    else:
        save({"centroids": enc.vq.centroids.clone(), "info": info}, os.path.join(WORK, "part2", "kmeans.pt"), True)


def do_decoder(force):
    import export
    from models import DecoderConfig, DualHeadDecoder, cfg_dict
    from tokens import Vocab
    cfg = DecoderConfig(vocab_size=Vocab().size)
    dec, absent, worst = recover(DualHeadDecoder(cfg).eval(), lambda m, p: export.export_decoder(m, p),
                                 os.path.join(PACK, "decoder.onnx"))
    print(f"decoder: re-export max |diff| {worst:.3g}; not in the graph: {absent}")
    assert worst == 0.0
    save({"model": dec.state_dict(), "cfg": cfg_dict(cfg), "recovered_from": "models/demo/decoder.onnx",
          **pack_training("decoder"), **fp16_marker(os.path.join(PACK, "decoder.onnx"))},
         os.path.join(RUNS, "decoder", "final.pt"), force)


def do_part2(which, force):
    import export_part2 as ex2
    from common2 import RUNS2
    if which == "detok":
        from dit import DiT, DiTConfig, cfg_dict
        model, fn, graph = DiT(DiTConfig()), ex2.export_dit, "detokenizer_step.onnx"
    else:
        from vocoder import Vocoder, VocoderConfig, cfg_dict
        model, fn, graph = Vocoder(VocoderConfig()), ex2.export_vocoder, "vocoder.onnx"
    model, absent, worst = recover(model.eval(), lambda m, p: fn(m, p), os.path.join(PACK, graph))
    print(f"{which}: re-export max |diff| {worst:.3g}; not in the graph: {absent}")
    assert worst == 0.0
    rec = pack_manifest().get("training", {}).get("part2", {}).get("detokenizer" if which == "detok" else which, {})
    # step/elapsed 0: a fresh start for train_*.py; the training the pack recorded rides along as its history
    save({"model": model.state_dict(), "cfg": cfg_dict(model.c), "step": 0, "elapsed": 0.0,
          "recovered_from": f"models/demo/{graph}", "init_step": rec.get("step", 0) + rec.get("init_step", 0),
          "init_train_minutes": round(rec.get("train_minutes", 0.0) + rec.get("init_train_minutes", 0.0), 1),
          **fp16_marker(os.path.join(PACK, graph))},
         os.path.join(RUNS2, which, "recovered.pt"), force)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="encoder,decoder,detok,vocoder")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    torch.manual_seed(0)
    for part in a.only.split(","):
        if part == "encoder":
            do_encoder(a.force)
        elif part == "decoder":
            do_decoder(a.force)
        elif part in ("detok", "vocoder"):
            do_part2(part, a.force)
        else:
            raise SystemExit(f"unknown part {part!r}")


if __name__ == "__main__":
    main()
