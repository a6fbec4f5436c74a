"""Check part 2's graphs with the real ONNX Runtime C library (ctypes, via training/ort_check.py's Ort class):
golden single calls, the noise generator, and the whole streaming golden (codes -> chunks -> mel -> stitched
audio) re-run with ORT sessions; prints max abs diffs and per-call timings.
usage: /usr/bin/python3 training/part2/ort_check_part2.py [--threads 1]
"""
import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import PACK, TRAINING, dec_tensor, noise_frames  # noqa: E402
from stream import Stitcher, crossfade_weights, detokenize  # noqa: E402
sys.path.insert(0, TRAINING)
from ort_check import Ort, find_lib  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    lib = find_lib()
    if not lib:
        print("ONNX Runtime library not found (set ORT_LIB); skipping")
        return 0
    ort = Ort(lib, threads=a.threads)
    man = json.load(open(os.path.join(PACK, "manifest.part2.json")))
    G = man["graphs"]
    g = lambda n: json.load(open(os.path.join(PACK, "golden", n)))  # noqa: E731
    ds = ort.session(os.path.join(PACK, G["detokenizer_step"]["file"]))
    vs = ort.session(os.path.join(PACK, G["vocoder"]["file"]))
    dout = [o["name"] for o in G["detokenizer_step"]["outputs"]]
    worst = {}

    def upd(k, x, y):
        worst[k] = max(worst.get(k, 0.0), float(np.abs(np.asarray(x) - np.asarray(y)).max()))

    gs = g("detok_steps.json")
    for c in gs["cases"]:
        r = ort.run(ds, {k: dec_tensor(v) for k, v in c["inputs"].items()}, dout)
        for k, v in c["outputs"].items():
            upd("detok_steps." + k, r[k], dec_tensor(v))
    for nc in gs["noise_check"]:
        upd("noise", noise_frames(nc["seed"], nc["first_frame"], nc["n_frames"]), dec_tensor(nc["noise"]))
    gv = g("vocoder.json")
    for c in gv["cases"]:
        r = ort.run(vs, {"mel": dec_tensor(c["inputs"]["mel"])}, ["audio"])
        upd("vocoder.audio", r["audio"], dec_tensor(c["outputs"]["audio"]))
    upd("crossfade", crossfade_weights(8), dec_tensor(gv["crossfade_check"]))

    tim = {"dit": [], "voc": []}

    def dit_step(x, tok, t, start, ck, cv):
        t0 = time.perf_counter()
        r = ort.run(ds, {"x_t": x, "tokens": tok, "t": t, "start_frame": start, "cache_k": ck, "cache_v": cv}, dout)
        tim["dit"].append((x.shape[1], ck.shape[2], time.perf_counter() - t0))
        return r["velocity"], r["k_chunk"], r["v_chunk"]

    def vocode(mel):
        t0 = time.perf_counter()
        r = ort.run(vs, {"mel": np.ascontiguousarray(mel, dtype=np.float32)}, ["audio"])["audio"]
        tim["voc"].append((mel.shape[1], time.perf_counter() - t0))
        return r

    st = g("detok_stream.json")
    det = man["detokenizer"]
    codes = dec_tensor(st["codes"])
    trace = []
    mels = detokenize(dit_step, codes, (det["num_layers"], det["num_heads"], det["head_dim"]), st["seed"],
                      st["schedule"], trace)
    for k, (ch, tr) in enumerate(zip(st["chunks"], trace)):
        upd("stream.noise", tr["euler"][0]["x_t"], dec_tensor(ch["noise"]))
        upd("stream.chunk_mel", tr["mel"], dec_tensor(ch["mel"]))
    stt = Stitcher(vocode, st["schedule"])
    audio = np.concatenate([stt.push(m, i == len(mels) - 1) for i, m in enumerate(mels)])
    upd("stream.stitched_audio", audio, dec_tensor(st["stitched_audio"]))
    dur = len(audio) / 16000
    t_dit = sum(x[2] for x in tim["dit"])
    t_voc = sum(x[1] for x in tim["voc"])
    print(json.dumps({"max_abs_diff": worst, "ort_threads": a.threads, "audio_s": dur,
                      "dit_calls": len(tim["dit"]), "dit_s": round(t_dit, 4), "vocoder_s": round(t_voc, 4),
                      "rtf_ort": round((t_dit + t_voc) / dur, 4)}, indent=1))
    tol = man["golden"]["tolerance"]
    bad = [k for k, v in worst.items() if v > (tol["audio_abs"] if "audio" in k else tol["float_abs"])]
    print("FAIL" if bad else "OK", bad)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
