"""Scale-study packs: the demo pack with decoder.onnx replaced by a RANDOM-WEIGHT dual-head decoder of a larger size.

Same graph contract as models/demo (docs/model-pack.md section 3: same inputs/outputs, per-layer KV cache, vocab and
feature width), only hidden size, layer counts and heads grow, so the engine loads each pack unchanged and the C#
harness (`dotnet perf/VoiceAgent.Perf/... scale`) can time decoder steps through the project's own ONNX binding.
The weights are untrained: the packs measure cost, never quality. Other graphs (encoder, detokenizer, vocoder) and
the vocabulary are copied from the source pack.

usage: /usr/bin/python3 training/scale_packs.py [--sizes h512,h1024,h2048] [--out perf/scale-packs]
       [--source models/demo] [--force]
Output folders are git-ignored (perf/.gitignore). h2048 is about 3.6 GB of float32 weights (ONNX external data).
"""
import argparse
import copy
import hashlib
import json
import os
import shutil
import sys
import time

import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from export import decoder_io, dynamic_axes, DecoderGraph, OPSET  # noqa: E402
from models import DecoderConfig, DualHeadDecoder, count_params  # noqa: E402

# Layer counts and heads grow with width roughly like the open 0.5B-7B decoder families (head_dim 64-128, GQA 4:1,
# SwiGLU ~2.75x); the audio branch leaves the shared stack about 3/4 of the way up, as in Kimi-Audio (21 of 28).
SIZES = {
    "h256": dict(hidden=256, n_layers=4, n_audio_layers=2, audio_branch_layer_index=2, n_heads=4, n_kv_heads=2, d_ff=512),
    "h512": dict(hidden=512, n_layers=8, n_audio_layers=2, audio_branch_layer_index=5, n_heads=8, n_kv_heads=2,
                 d_ff=1408),
    "h1024": dict(hidden=1024, n_layers=12, n_audio_layers=3, audio_branch_layer_index=8, n_heads=16, n_kv_heads=4,
                  d_ff=2816),
    "h2048": dict(hidden=2048, n_layers=16, n_audio_layers=4, audio_branch_layer_index=11, n_heads=16, n_kv_heads=4,
                  d_ff=5632),
}
# A protobuf cannot exceed 2 GB; larger graphs keep their weights in one external data file next to the graph.
EXTERNAL_DATA_ABOVE = 1_500_000_000


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def export(dec, path):
    """torch -> ONNX with the contract's names and symbolic axes (same as export.export_decoder), external data when big."""
    c = dec.c
    ins, outs = decoder_io(c)
    n = c.n_layers + c.n_audio_layers
    P, T = 5, 3
    past = []
    for _ in range(n):
        past += [torch.randn(1, c.n_kv_heads, P, c.head_dim), torch.randn(1, c.n_kv_heads, P, c.head_dim)]
    args = (torch.randint(0, c.vocab_size, (1, T)), torch.randint(0, c.vocab_size, (1, T)),
            torch.randn(1, T, c.feat_dim), torch.ones(1, T), *past)
    # torch writes a graph over 2 GB as one file per tensor; export into a scratch folder and re-save from there.
    scratch = path + ".export"
    shutil.rmtree(scratch, ignore_errors=True)
    os.makedirs(scratch)
    tmp = os.path.join(scratch, "decoder.onnx")
    with torch.no_grad():
        torch.onnx.export(DecoderGraph(dec), args, tmp, opset_version=OPSET, input_names=[s["name"] for s in ins],
                          output_names=[s["name"] for s in outs], dynamic_axes=dynamic_axes(ins + outs),
                          do_constant_folding=True)
    model = onnx.load(tmp, load_external_data=True)
    big = sum(t.ByteSize() for t in model.graph.initializer) > EXTERNAL_DATA_ABOVE
    if big:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data", size_threshold=1024)
    else:
        onnx.save_model(model, path)
    shutil.rmtree(scratch)
    return ins, outs


def build(name, cfg_kw, source, out_root, force):
    out = os.path.join(out_root, name)
    manifest_path = os.path.join(out, "manifest.json")
    if os.path.exists(manifest_path) and not force:
        print(f"{name}: exists ({out}), skipped (--force rebuilds)")
        return
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(source, "manifest.json")) as f:
        m = json.load(f)
    vocab_size = m["vocab"]["size"]
    feat = m["decoder"]["feature_dim"]
    c = DecoderConfig(vocab_size=vocab_size, feat_dim=feat, max_positions=m["decoder"]["max_positions"], **cfg_kw)
    torch.manual_seed(1234)
    dec = DualHeadDecoder(c).eval()
    params = count_params(dec)
    t0 = time.time()
    dec_file = os.path.join(out, "decoder.onnx")
    ins, outs = export(dec, dec_file)
    del dec
    onnx.checker.check_model(dec_file)  # by path: works for external data too
    took = time.time() - t0

    # Everything else is a copy of the source pack's (graphs, vocabulary, schema, golden vectors): copies, not links,
    # so that retraining the source pack later cannot leave these manifests with stale digests.
    for f in os.listdir(source):
        if f in ("decoder.onnx", "manifest.json"):
            continue
        src, dst = os.path.join(source, f), os.path.join(out, f)
        if os.path.isdir(src):
            shutil.rmtree(dst, ignore_errors=True)
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)

    m = copy.deepcopy(m)
    m["name"] = f"{m['name']}-scale-{name}"
    m["description"] = (f"Scale study: {m['name']} with a random-weight {name} decoder ({params / 1e6:.0f} M parameters); "
                        "cost only, not a speaking model.")
    d = m["decoder"]
    d.update(hidden_size=c.hidden, num_layers=c.n_layers, num_audio_layers=c.n_audio_layers,
             audio_branch_layer_index=c.audio_branch_layer_index, num_attention_heads=c.n_heads,
             num_kv_heads=c.n_kv_heads, head_dim=c.head_dim, intermediate_size=c.d_ff)
    d["kv_cache"]["num_entries"] = c.n_layers + c.n_audio_layers
    g = m["graphs"]["decoder"]
    g["inputs"], g["outputs"] = ins, outs
    g["sha256"] = sha256(dec_file)
    g["bytes"] = os.path.getsize(dec_file)
    m.setdefault("training", {})["scale_study"] = {"weights": "random (torch default init, seed 1234)",
                                                  "decoder_params": params, "config": cfg_kw}
    with open(manifest_path, "w") as f:
        json.dump(m, f, indent=1)
    data = dec_file + ".data"
    size = os.path.getsize(dec_file) + (os.path.getsize(data) if os.path.exists(data) else 0)
    print(f"{name}: {params / 1e6:.1f} M params, {size / 1e6:.0f} MB, exported in {took:.0f} s -> {out}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="h512,h1024,h2048", help="comma-separated names from: " + ",".join(SIZES))
    ap.add_argument("--source", default=os.path.join(ROOT, "models", "demo"))
    ap.add_argument("--out", default=os.path.join(ROOT, "perf", "scale-packs"))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    for name in a.sizes.split(","):
        name = name.strip()
        if name not in SIZES:
            raise SystemExit(f"unknown size '{name}'; choose from {', '.join(SIZES)}")
        build(name, SIZES[name], os.path.abspath(a.source), os.path.abspath(a.out), a.force)


if __name__ == "__main__":
    main()
