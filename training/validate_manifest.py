"""Validate models/demo/manifest.json and training/kimi_manifest_example.json against
models/demo/manifest.schema.json (uses the `jsonschema` package when installed, else the small built-in
validator below, which covers the keywords the schema uses), plus cross-field checks.

usage: python3 training/validate_manifest.py [--write-kimi-example] [files...]
"""
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SCHEMA = os.path.join(REPO, "models", "demo", "manifest.schema.json")
DEFAULT = [os.path.join(REPO, "models", "demo", "manifest.json"), os.path.join(HERE, "kimi_manifest_example.json")]

TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "number": (int, float), "integer": int}


def _is_type(x, t):
    if t in ("integer", "number") and isinstance(x, bool):
        return False
    return isinstance(x, TYPES[t])


def mini_validate(x, s, root, path="$"):
    errs = []
    if "$ref" in s:
        ref = s["$ref"]
        assert ref.startswith("#/")
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        return mini_validate(x, node, root, path)
    if "const" in s and x != s["const"]:
        errs.append(f"{path}: expected {s['const']!r}")
    if "enum" in s and x not in s["enum"]:
        errs.append(f"{path}: {x!r} not in {s['enum']}")
    if "type" in s:
        ts = s["type"] if isinstance(s["type"], list) else [s["type"]]
        if not any(_is_type(x, t) for t in ts):
            return errs + [f"{path}: expected type {s['type']}, got {type(x).__name__}"]
    if isinstance(x, (int, float)) and not isinstance(x, bool) and "minimum" in s and x < s["minimum"]:
        errs.append(f"{path}: {x} < minimum {s['minimum']}")
    if isinstance(x, str) and "pattern" in s and not re.search(s["pattern"], x):
        errs.append(f"{path}: {x!r} does not match {s['pattern']}")
    if isinstance(x, dict):
        for r in s.get("required", []):
            if r not in x:
                errs.append(f"{path}: missing required '{r}'")
        if "minProperties" in s and len(x) < s["minProperties"]:
            errs.append(f"{path}: fewer than {s['minProperties']} properties")
        props = s.get("properties", {})
        for k, v in x.items():
            if k in props:
                errs += mini_validate(v, props[k], root, f"{path}.{k}")
            elif isinstance(s.get("additionalProperties"), dict):
                errs += mini_validate(v, s["additionalProperties"], root, f"{path}.{k}")
            elif s.get("additionalProperties") is False:
                errs.append(f"{path}: unexpected '{k}'")
    if isinstance(x, list):
        if "minItems" in s and len(x) < s["minItems"]:
            errs.append(f"{path}: fewer than {s['minItems']} items")
        if "items" in s:
            for i, v in enumerate(x):
                errs += mini_validate(v, s["items"], root, f"{path}[{i}]")
    return errs


def schema_errors(doc, schema):
    try:
        import jsonschema  # noqa: F401
        v = jsonschema.Draft7Validator(schema)
        return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in v.iter_errors(doc)]
    except ImportError:
        return mini_validate(doc, schema, schema)


def semantic_errors(doc, base_dir, check_files):
    errs = []
    g = doc["graphs"]
    dec = doc["decoder"]
    for key in (doc["tokenizer"]["graph"], dec["graph"]):
        if key not in g:
            errs.append(f"graph '{key}' referenced but not described")
    if check_files:
        for name, gr in g.items():
            if not os.path.exists(os.path.join(base_dir, gr["file"])):
                errs.append(f"graph file missing: {gr['file']}")
    if dec["graph"] in g:
        gi = {t["name"]: t for t in g[dec["graph"]]["inputs"]}
        go = {t["name"]: t for t in g[dec["graph"]]["outputs"]}
        kv = dec["kv_cache"]
        n_expected = dec["num_layers"] + dec["num_audio_layers"]
        if kv["num_entries"] != n_expected:
            errs.append(f"kv_cache.num_entries {kv['num_entries']} != num_layers + num_audio_layers {n_expected}")
        for i in range(kv["num_entries"]):
            for pat, table in ((kv["past_key"], gi), (kv["past_value"], gi), (kv["present_key"], go),
                               (kv["present_value"], go)):
                n = pat.replace("{i}", str(i))
                if n not in table:
                    errs.append(f"decoder graph lacks {n}")
                elif table[n]["dims"][1] != dec["num_kv_heads"] or table[n]["dims"][3] != dec["head_dim"]:
                    errs.append(f"{n}: dims {table[n]['dims']} do not match num_kv_heads/head_dim")
        for n in ("text_ids", "audio_ids", "features", "feature_mask", "text_logits", "audio_logits"):
            if n not in gi and n not in go:
                errs.append(f"decoder graph lacks {n}")
        if "features" in gi and gi["features"]["dims"][-1] != dec["feature_dim"]:
            errs.append("decoder features width != decoder.feature_dim")
        if not (dec["audio_branch_layer_index"] < dec["num_layers"]):
            errs.append("audio_branch_layer_index must be < num_layers")
    v = doc["vocab"]
    for k, i in doc["special_tokens"].items():
        if i >= v["text_vocab_size"]:
            errs.append(f"special token {k}={i} outside the text id range")
    if v["audio_token_offset"] + v["audio_vocab_size"] > v["size"]:
        errs.append("audio ids exceed vocab.size")
    for n in (doc["stream"]["text_blank"], doc["stream"]["text_eos"], *doc["stream"]["stop_audio_tokens"],
              *doc["stream"]["output_mode_tokens"].values()):
        if n not in doc["special_tokens"]:
            errs.append(f"stream refers to unknown special token {n}")
    h = doc["stream"].get("history_turns")
    if h is not None and (not isinstance(h, int) or isinstance(h, bool) or h < 0):
        errs.append(f"stream.history_turns must be a whole number >= 0, got {h!r}")
    return errs


def kimi_example():
    """A manifest for a (hypothetical) ONNX export of Kimi-Audio-7B-Instruct: 28 shared + 6 audio layers
    branching after layer index 21, hidden 3584, 28 heads / 4 KV heads, 16384 codes, 152064 text vocab, delay 6.
    Special-token ids: base 151648 + the index in Kimi's special_tokens.py (inferred, see
    shared reference notes)."""
    n_layers, n_audio, kvh, hd = 28, 6, 4, 128
    ins = [{"name": "text_ids", "dtype": "int64", "dims": [1, "seq"]},
           {"name": "audio_ids", "dtype": "int64", "dims": [1, "seq"]},
           {"name": "features", "dtype": "float32", "dims": [1, "seq", 5120],
            "description": "Whisper-large-v3 features, 4 x 1280 reshaped to 12.5 Hz"},
           {"name": "feature_mask", "dtype": "float32", "dims": [1, "seq"]}]
    outs = [{"name": "text_logits", "dtype": "float32", "dims": [1, 168448]},
            {"name": "audio_logits", "dtype": "float32", "dims": [1, 168448]}]
    for i in range(n_layers + n_audio):
        for kv in ("key", "value"):
            ins.append({"name": f"past_{kv}_{i}", "dtype": "float16", "dims": [1, kvh, "past_seq", hd]})
            outs.append({"name": f"present_{kv}_{i}", "dtype": "float16", "dims": [1, kvh, "total_seq", hd]})
    base = 151648
    return {
        "schema_version": 1,
        "name": "kimi-audio-7b-instruct-example",
        "description": "Example only: how a Kimi-Audio export would be described (no such files are shipped).",
        "audio": {"input_sample_rate": 16000, "input_channels": 1, "output_sample_rate": 24000},
        "mel": {"sample_rate": 16000, "n_fft": 400, "hop_length": 160, "win_length": 400, "window": "hann_periodic",
                "power": 2.0, "n_mels": 128, "fmin": 0.0, "fmax": 8000.0, "mel_scale": "slaney", "mel_norm": "slaney",
                "log": "log10", "log_floor": 1e-10, "clamp_below_max": 8.0, "clamp_mode": "global_max",
                "offset": 4.0, "divisor": 4.0, "framing": "whisper", "left_pad": "reflect"},
        "tokenizer": {"graph": "glm4_voice_tokenizer", "mode": "whole_utterance", "token_rate_hz": 12.5,
                      "codebook_size": 16384, "feature_dim": 5120, "feature_rate_hz": 12.5,
                      "feature_graph": "whisper_features", "max_input_seconds": 30},
        "decoder": {"graph": "decoder", "architecture": "kimi-audio-dual-head", "hidden_size": 3584,
                    "num_layers": n_layers, "num_audio_layers": n_audio, "audio_branch_layer_index": 21,
                    "num_attention_heads": 28, "num_kv_heads": kvh, "head_dim": hd, "intermediate_size": 18944,
                    "rope_theta": 1000000.0, "norm": "rmsnorm", "max_positions": 8192, "feature_dim": 5120,
                    "logits": "last_position", "dtype": "float16",
                    "kv_cache": {"num_entries": n_layers + n_audio, "layout": ["batch", "kv_heads", "seq", "head_dim"],
                                 "dtype": "float16", "past_key": "past_key_{i}", "past_value": "past_value_{i}",
                                 "present_key": "present_key_{i}", "present_value": "present_value_{i}",
                                 "order": "entries 0..27 = shared/text layers, 28..33 = MIMO audio layers",
                                 "positions": "position of a new token = past_seq + its index (RoPE)"}},
        "vocab": {"size": 168448, "text_vocab_size": 152064, "audio_token_offset": 152064, "audio_vocab_size": 16384,
                  "text_tokens": {"type": "tiktoken", "file": "tiktoken.model"}},
        "special_tokens": {"msg_end": base + 0, "user_msg_start": base + 1, "assistant_msg_start": base + 2,
                           "media_begin": base + 13, "media_end": base + 15, "text_blank": base + 18,
                           "text_eos": base + 19, "kimia_user_msg_start": base + 22,
                           "kimia_assistant_msg_start": base + 23, "speech_ct": base + 27, "speech_ctd": base + 28},
        "stream": {"audio_delay": 6, "text_blank": "text_blank", "text_eos": "text_eos",
                   "output_mode_tokens": {"text": "speech_ct", "text_and_audio": "speech_ctd"},
                   "stop_audio_tokens": ["msg_end", "media_end"], "max_new_tokens": 1500},
        "sampling": {"demo_greedy": False,
                     "text": {"temperature": 0.0, "top_k": 5, "repetition_penalty": 1.0, "repetition_window": 16},
                     "audio": {"temperature": 0.8, "top_k": 10, "repetition_penalty": 1.0, "repetition_window": 64}},
        "graphs": {
            "glm4_voice_tokenizer": {"file": "glm4_voice_tokenizer.onnx", "opset": 17,
                                     "inputs": [{"name": "mel", "dtype": "float32", "dims": [1, 128, "frames"]}],
                                     "outputs": [{"name": "tokens", "dtype": "int64", "dims": [1, "tokens"]}]},
            "whisper_features": {"file": "whisper_features.onnx", "opset": 17,
                                 "inputs": [{"name": "mel", "dtype": "float32", "dims": [1, 128, 3000]}],
                                 "outputs": [{"name": "features", "dtype": "float32", "dims": [1, "tokens", 5120]}]},
            "decoder": {"file": "decoder.onnx", "opset": 17, "inputs": ins, "outputs": outs}},
    }


def main():
    args = sys.argv[1:]
    if "--write-kimi-example" in args:
        args.remove("--write-kimi-example")
        with open(DEFAULT[1], "w") as f:
            json.dump(kimi_example(), f, indent=1)
        print("wrote", os.path.relpath(DEFAULT[1], REPO))
    schema = json.load(open(SCHEMA))
    files = args or DEFAULT
    bad = 0
    for fn in files:
        doc = json.load(open(fn))
        is_example = "example" in os.path.basename(fn)
        errs = schema_errors(doc, schema)
        if not errs:
            errs = semantic_errors(doc, os.path.dirname(fn), check_files=not is_example)
        print(f"{os.path.relpath(fn, REPO)}: {'OK' if not errs else 'INVALID'}")
        for e in errs:
            print("   ", e)
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
