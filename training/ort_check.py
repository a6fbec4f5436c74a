"""Run the exported graphs with the real ONNX Runtime C library (through ctypes; the onnxruntime Python wheel is
not installed here) against the golden vectors, and time them.

The library is looked up in $ORT_LIB, then <repo>/.cache/native/libonnxruntime.so.1 (created by the C# setup).
usage: python3 training/ort_check.py
OrtApi slot indices follow the ONNX Runtime C API header (OrtApi is a struct of function pointers).
"""
import base64
import ctypes as C
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import PACK, REPO  # noqa: E402

VP = C.c_void_p
SLOT = {"GetErrorMessage": 2, "CreateEnv": 3, "CreateSession": 7, "Run": 9, "CreateSessionOptions": 10,
        "SetSessionGraphOptimizationLevel": 23, "SetIntraOpNumThreads": 24,
        "CreateTensorWithDataAsOrtValue": 49, "GetTensorMutableData": 51, "GetTensorElementType": 60,
        "GetDimensionsCount": 61, "GetDimensions": 62, "GetTensorTypeAndShape": 65, "CreateCpuMemoryInfo": 69,
        "ReleaseValue": 96, "ReleaseTensorTypeAndShapeInfo": 99}
SIGS = {
    "GetErrorMessage": (C.c_char_p, [VP]),
    "CreateEnv": (VP, [C.c_int, C.c_char_p, C.POINTER(VP)]),
    "CreateSession": (VP, [VP, C.c_char_p, VP, C.POINTER(VP)]),
    "Run": (VP, [VP, VP, C.POINTER(C.c_char_p), C.POINTER(VP), C.c_size_t, C.POINTER(C.c_char_p), C.c_size_t,
                 C.POINTER(VP)]),
    "CreateSessionOptions": (VP, [C.POINTER(VP)]),
    "SetSessionGraphOptimizationLevel": (VP, [VP, C.c_int]),
    "SetIntraOpNumThreads": (VP, [VP, C.c_int]),
    "CreateTensorWithDataAsOrtValue": (VP, [VP, VP, C.c_size_t, C.POINTER(C.c_int64), C.c_size_t, C.c_int,
                                            C.POINTER(VP)]),
    "GetTensorMutableData": (VP, [VP, C.POINTER(VP)]),
    "GetTensorElementType": (VP, [VP, C.POINTER(C.c_int)]),
    "GetDimensionsCount": (VP, [VP, C.POINTER(C.c_size_t)]),
    "GetDimensions": (VP, [VP, C.POINTER(C.c_int64), C.c_size_t]),
    "GetTensorTypeAndShape": (VP, [VP, C.POINTER(VP)]),
    "CreateCpuMemoryInfo": (VP, [C.c_int, C.c_int, C.POINTER(VP)]),
    "ReleaseValue": (None, [VP]),
    "ReleaseTensorTypeAndShapeInfo": (None, [VP]),
}
ELEM = {np.dtype(np.float32): 1, np.dtype(np.int64): 7}
ELEM_INV = {1: np.float32, 7: np.int64}


class Ort:
    def __init__(self, lib_path, threads=2):
        lib = C.CDLL(lib_path)
        lib.OrtGetApiBase.restype = VP
        base = C.cast(lib.OrtGetApiBase(), C.POINTER(VP))
        get_api = C.CFUNCTYPE(VP, C.c_uint32)(base[0])
        api = C.cast(get_api(11), C.POINTER(VP))
        self.f = {n: C.CFUNCTYPE(SIGS[n][0], *SIGS[n][1])(api[i]) for n, i in SLOT.items()}
        self.env = VP()
        self.chk(self.f["CreateEnv"](3, b"ortcheck", C.byref(self.env)))
        self.mem = VP()
        self.chk(self.f["CreateCpuMemoryInfo"](1, 0, C.byref(self.mem)))
        self.threads = threads

    def chk(self, st):
        if st:
            raise RuntimeError(self.f["GetErrorMessage"](st).decode())

    def session(self, path):
        so = VP()
        self.chk(self.f["CreateSessionOptions"](C.byref(so)))
        self.chk(self.f["SetIntraOpNumThreads"](so, self.threads))
        self.chk(self.f["SetSessionGraphOptimizationLevel"](so, 99))
        s = VP()
        self.chk(self.f["CreateSession"](self.env, path.encode(), so, C.byref(s)))
        return s

    def run(self, sess, inputs, output_names):
        keep, vals = [], []
        for name, arr in inputs.items():
            arr = np.ascontiguousarray(arr)
            keep.append(arr)
            shape = (C.c_int64 * arr.ndim)(*arr.shape)
            v = VP()
            self.chk(self.f["CreateTensorWithDataAsOrtValue"](self.mem, arr.ctypes.data_as(VP), arr.nbytes, shape,
                                                               arr.ndim, ELEM[arr.dtype], C.byref(v)))
            vals.append(v)
        in_names = (C.c_char_p * len(inputs))(*[n.encode() for n in inputs])
        out_names = (C.c_char_p * len(output_names))(*[n.encode() for n in output_names])
        outs = (VP * len(output_names))()
        in_vals = (VP * len(vals))(*vals)
        self.chk(self.f["Run"](sess, None, in_names, in_vals, len(vals), out_names, len(output_names), outs))
        res = {}
        for name, v in zip(output_names, outs):
            info = VP()
            self.chk(self.f["GetTensorTypeAndShape"](v, C.byref(info)))
            et, nd = C.c_int(), C.c_size_t()
            self.chk(self.f["GetTensorElementType"](info, C.byref(et)))
            self.chk(self.f["GetDimensionsCount"](info, C.byref(nd)))
            dims = (C.c_int64 * nd.value)()
            self.chk(self.f["GetDimensions"](info, dims, nd.value))
            self.f["ReleaseTensorTypeAndShapeInfo"](info)
            ptr = VP()
            self.chk(self.f["GetTensorMutableData"](v, C.byref(ptr)))
            dt = ELEM_INV[et.value]
            n = int(np.prod(list(dims))) if nd.value else 1
            buf = (C.c_byte * (n * np.dtype(dt).itemsize)).from_address(ptr.value) if n else b""
            res[name] = np.frombuffer(bytes(buf), dtype=dt).reshape(list(dims)).copy()
            self.f["ReleaseValue"](v)
        for v in vals:
            self.f["ReleaseValue"](v)
        return res


def dec_tensor(t):
    return np.frombuffer(base64.b64decode(t["data_b64"]), dtype={"float32": "<f4", "int64": "<i8"}[t["dtype"]]) \
        .reshape(t["shape"]).astype({"float32": np.float32, "int64": np.int64}[t["dtype"]])


def find_lib():
    for p in (os.environ.get("ORT_LIB", ""), os.path.join(REPO, ".cache", "native", "libonnxruntime.so.1")):
        if p and os.path.exists(p):
            return p
    return None


def main():
    lib = find_lib()
    if not lib:
        print("ONNX Runtime library not found (set ORT_LIB); skipping")
        return 0
    ort = Ort(lib)
    man = json.load(open(os.path.join(PACK, "manifest.json")))
    g = lambda n: json.load(open(os.path.join(PACK, "golden", n)))  # noqa: E731
    worst = {}
    report = {}

    enc = ort.session(os.path.join(PACK, man["graphs"]["encoder_step"]["file"]))
    enc_out = [o["name"] for o in man["graphs"]["encoder_step"]["outputs"]]
    es = g("encoder_steps.json")
    for st in es["steps"]:
        r = ort.run(enc, {k: dec_tensor(v) for k, v in st["inputs"].items()}, enc_out)
        for k, v in st["outputs"].items():
            worst[f"encoder.{k}"] = max(worst.get(f"encoder.{k}", 0), float(np.abs(r[k] - dec_tensor(v)).max()))
    # whole utterance chunk by chunk through ORT
    mel = dec_tensor(es["mel"])
    c = man["tokenizer"]
    L, H, _, D = man["graphs"]["encoder_step"]["inputs"][1]["dims"]
    ck = np.zeros((L, H, 0, D), np.float32)
    cv = ck.copy()
    toks, feats = [], []
    t0 = time.time()
    for s in range(mel.shape[0] // c["frames_per_step"]):
        r = ort.run(enc, {"mel": mel[None, s * 8:(s + 1) * 8], "cache_k": ck, "cache_v": cv}, enc_out)
        ck, cv = r["cache_k_out"], r["cache_v_out"]
        toks.append(int(r["token"][0]))
        feats.append(r["feature"][0])
    dt = (time.time() - t0) / max(1, len(toks))
    report["encoder_step_ms_ort"] = dt * 1000
    report["encoder_realtime_factor_ort"] = 0.08 / dt
    report["encoder_tokens_match"] = toks == dec_tensor(es["all_tokens"]).tolist()
    worst["encoder.all_features"] = float(np.abs(np.stack(feats) - dec_tensor(es["all_features"])).max())

    dec = ort.session(os.path.join(PACK, man["graphs"]["decoder"]["file"]))
    dec_out = [o["name"] for o in man["graphs"]["decoder"]["outputs"]]
    ds = g("decoder_steps.json")
    r = ort.run(dec, {k: dec_tensor(v) for k, v in ds["prefill"]["inputs"].items()}, dec_out)
    for k, v in ds["prefill"]["outputs"].items():
        worst[f"decoder.prefill.{k.split('_')[0]}"] = max(worst.get(f"decoder.prefill.{k.split('_')[0]}", 0),
                                                          float(np.abs(r[k] - dec_tensor(v)).max()))
    pres = {k: v for k, v in r.items() if k.startswith("present")}
    for st in ds["steps"]:
        inp = {k: dec_tensor(v) for k, v in st["inputs"].items()}
        inp.update({k.replace("present", "past"): v for k, v in pres.items()})
        r = ort.run(dec, inp, dec_out)
        pres = {k: v for k, v in r.items() if k.startswith("present")}
        for k, v in st["outputs"].items():
            worst["decoder.step.logits"] = max(worst.get("decoder.step.logits", 0),
                                               float(np.abs(r[k] - dec_tensor(v)).max()))
    for k, v in ds.get("final_presents", {}).items():
        worst["decoder.final_presents"] = max(worst.get("decoder.final_presents", 0),
                                              float(np.abs(pres[k] - dec_tensor(v)).max()))
    # timing: single decoder steps at a realistic past length
    inp = {k: dec_tensor(v) for k, v in ds["steps"][0]["inputs"].items()}
    past_len = 120
    for k in pres:
        shp = list(pres[k].shape)
        shp[2] = past_len
        inp[k.replace("present", "past")] = np.random.default_rng(0).standard_normal(shp).astype(np.float32) * 0.1
    for _ in range(5):
        ort.run(dec, inp, dec_out)
    n = 50
    t0 = time.time()
    for _ in range(n):
        ort.run(dec, inp, dec_out)
    report["decoder_step_ms_ort_past120"] = (time.time() - t0) / n * 1000
    report["max_abs_diff"] = worst
    print(json.dumps(report, indent=1))
    ok = all(v < 1e-3 for v in worst.values()) and report["encoder_tokens_match"]
    print("ORT PARITY", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
