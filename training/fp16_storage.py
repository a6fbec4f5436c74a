"""Float16 storage of large weight matrices in the pack's ONNX graphs (computation stays float32).

Why: the pack must stay well under 50 MB, and a larger semantic-token inventory (4,096 ids, training/REPORT-part2.md
§0k) grows the decoder's embedding and both heads by 4x. Storing a matrix as float16 halves its bytes; a Cast node
in front of it restores float32, and ONNX Runtime folds that Cast into a float32 initializer when it builds the
session (constant folding, on at every optimisation level above "disable all"), so inference speed and the C#
engine's contract (inputs, outputs, dtypes) do not change.

How, without a second source of truth: the weights are rounded to float16 values in PyTorch first (`round_large_`),
so every measurement made in torch, the golden vectors, and the stored graph see the same numbers. Converting an
already-rounded float32 initializer to float16 is then exact, and `store_fp16` converts only initializers that
survive the round trip bit for bit: nothing is approximated in the ONNX step.

usage: /usr/bin/python3 training/fp16_storage.py round CKPT [CKPT ...]   (rounds a checkpoint's "model" in place,
       keeping CKPT.fp32 beside it; paths relative to training/ or absolute)
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import torch

MIN_ELEMENTS = 65_536   # matrices this large (d_model x d_ff and up, embeddings, heads); biases and norms stay float32
SUFFIX = "__fp16"


def round_tensor(t):
    return t.to(torch.float16).to(t.dtype) if t.is_floating_point() and t.numel() >= MIN_ELEMENTS else t


def round_state_dict(sd):
    """A copy of `sd` with every large floating tensor rounded to float16 values; also the count of changed ones."""
    out, changed = {}, 0
    for k, v in sd.items():
        out[k] = round_tensor(v)
        changed += int(out[k] is not v and not torch.equal(out[k], v))
    return out, changed


@torch.no_grad()
def round_large_(model):
    """Round the model's large parameters in place; returns how many were not already float16 values."""
    params = dict(model.named_parameters())
    rounded, changed = round_state_dict({k: p.data for k, p in params.items()})
    for k, p in params.items():
        if rounded[k] is not p.data:
            p.data.copy_(rounded[k])
    return changed


def store_fp16(path):
    """Rewrite the ONNX file at `path`: each float32 initializer of >= MIN_ELEMENTS elements whose values are exactly
    float16 values is stored as float16 (name + SUFFIX) and cast back to float32 under its own name by a Cast node
    at the head of the graph. Returns (converted initializers, bytes saved)."""
    m = onnx.load(path)
    g = m.graph
    if any(i.name.endswith(SUFFIX) for i in g.initializer):
        raise ValueError(f"{path} already stores float16 initializers")
    graph_inputs = {i.name for i in g.input}
    casts, keep, saved = [], [], 0
    for init in g.initializer:
        a = numpy_helper.to_array(init)
        if (init.data_type == TensorProto.FLOAT and a.size >= MIN_ELEMENTS and init.name not in graph_inputs
                and np.array_equal(a.astype(np.float16).astype(np.float32), a)):
            keep.append(numpy_helper.from_array(a.astype(np.float16), init.name + SUFFIX))
            casts.append(helper.make_node("Cast", [init.name + SUFFIX], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "_to_float32"))
            saved += a.size * 2
        else:
            keep.append(init)
    del g.initializer[:]
    g.initializer.extend(keep)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)
    return len(casts), saved


GRAPH_NOTE = ("; large weight matrices are stored as float16 and cast to float32 inside the graph (ONNX Runtime "
              "folds the Cast at load), so all computation and every input and output stay float32")


def storage_record(n, saved):
    """The manifest's training record of a graph stored by store_fp16."""
    return (f"float16 for the {n} matrices of >= {MIN_ELEMENTS} elements (Cast to float32 in the graph; "
            f"{saved} bytes saved)")


def float32_initializers(path):
    """{name: float32 array} of an ONNX file, with each float16-stored matrix under the name its Cast produces
    (what the graph computes with), so readers need not know about the storage."""
    m = onnx.load(path)
    arrays = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Cast" and len(n.input) == 1 and n.input[0].endswith(SUFFIX) and n.input[0] in arrays:
            arrays[n.output[0]] = arrays.pop(n.input[0]).astype(np.float32)
    return arrays


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["round"])
    ap.add_argument("ckpts", nargs="+")
    a = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    for p in a.ckpts:
        p = p if os.path.isabs(p) else os.path.join(here, p)
        ck = torch.load(p, map_location="cpu")
        sd, changed = round_state_dict(ck["model"])
        if not changed:
            print(f"{os.path.relpath(p, here)}: already float16 values")
            continue
        if not os.path.exists(p + ".fp32"):
            torch.save(ck, p + ".fp32")
        ck["model"] = sd
        ck["weights_rounded_fp16"] = MIN_ELEMENTS
        torch.save(ck, p)
        print(f"{os.path.relpath(p, here)}: {changed} tensors rounded to float16 values (original in .fp32)")


if __name__ == "__main__":
    sys.exit(main())
