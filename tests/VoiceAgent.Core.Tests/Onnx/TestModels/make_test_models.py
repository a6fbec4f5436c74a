#!/usr/bin/env python3
"""Regenerates the tiny ONNX models the Onnx binding tests load.

Run from anywhere with the Debian `onnx` module (python3-onnx); no torch and no onnxruntime are needed:

    python3 tests/VoiceAgent.Core.Tests/Onnx/TestModels/make_test_models.py

The outputs are committed next to this script so the tests never need Python. IR version 8 / opset 17 keep the
files loadable by any ONNX Runtime from 1.14 on.
"""
import os

import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 17)]


def save(graph, name):
    model = helper.make_model(graph, opset_imports=OPSET, producer_name="voiceagent-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    path = os.path.join(HERE, name)
    onnx.save(model, path)
    print(f"{name}: {os.path.getsize(path)} bytes")


def add_one(elem_type, suffix):
    """y = x + 1 for a tensor of any shape; proves a dtype goes in and comes out intact."""
    one = helper.make_tensor("one", elem_type, [], [1])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["y"])],
        f"add_one_{suffix}",
        [helper.make_tensor_value_info("x", elem_type, ["n"])],
        [helper.make_tensor_value_info("y", elem_type, ["n"])],
        initializer=[one],
    )
    save(graph, f"add_one_{suffix}.onnx")


def not_bool():
    """y = !x: Add is not defined for bool, so bool tensors get their own round-trip model."""
    graph = helper.make_graph(
        [helper.make_node("Not", ["x"], ["y"])],
        "not_bool",
        [helper.make_tensor_value_info("x", TensorProto.BOOL, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.BOOL, ["n"])],
    )
    save(graph, "not_bool.onnx")


def slow_loop():
    """Loops `iterations` times over a 128x128 MatMul+Tanh, so a Run lasts as long as the caller asks.

    Used to prove that RunOptions terminate aborts a Run that is already executing.
    """
    body = helper.make_graph(
        [
            helper.make_node("MatMul", ["acc_in", "acc_in"], ["prod"]),
            helper.make_node("Tanh", ["prod"], ["acc_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("iter", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, [128, 128]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, [128, 128]),
        ],
    )
    cond = helper.make_tensor("cond", TensorProto.BOOL, [], [True])
    graph = helper.make_graph(
        [helper.make_node("Loop", ["iterations", "cond", "x"], ["y"], body=body)],
        "slow_loop",
        [
            helper.make_tensor_value_info("iterations", TensorProto.INT64, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [128, 128]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [128, 128])],
        initializer=[cond],
    )
    save(graph, "slow_loop.onnx")


if __name__ == "__main__":
    add_one(TensorProto.FLOAT16, "f16")
    add_one(TensorProto.INT64, "i64")
    add_one(TensorProto.INT32, "i32")
    not_bool()
    slow_loop()
