"""Stage 5: export the ONNX graphs (opset 17), models/demo/manifest.json, text_vocab.json and golden vectors.

usage: python3 training/export.py            (uses training/runs/{encoder,decoder}/final.pt or last.pt;
                                               untrained weights when a checkpoint is missing: --allow-random)
"""
import argparse
import base64
import hashlib
import json
import os
import sys
import time

import numpy as np
import onnx
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (CHUNK_FRAMES, DATA, HOP, N_FFT, N_MELS, PACK, RUNS, SEED, SR, logmel_stream_np,  # noqa: E402
                    save_json, num_stream_frames)
from corpus_text import REPLIES  # noqa: E402
from infer import build_prompt, generate, load_encoder  # noqa: E402
from prior import decoder_bias  # noqa: E402
from fp16_storage import GRAPH_NOTE, round_large_, storage_record, store_fp16  # noqa: E402
from models import (CHARS, DecoderConfig, DualHeadDecoder, EncoderConfig, StreamingEncoder,  # noqa: E402
                    count_params, ctc_greedy)
from tokens import DELAY, SPECIALS, Vocab, SP  # noqa: E402

OPSET = 17


# ----------------------------------------------------------------------------------------------
class EncoderStep(torch.nn.Module):
    def __init__(self, enc):
        super().__init__()
        self.enc = enc

    def forward(self, mel, cache_k, cache_v):
        return self.enc.step(mel, cache_k, cache_v)


class DecoderGraph(torch.nn.Module):
    def __init__(self, dec):
        super().__init__()
        self.dec = dec

    def forward(self, text_ids, audio_ids, features, feature_mask, *past_flat):
        past = [(past_flat[2 * i], past_flat[2 * i + 1]) for i in range(len(past_flat) // 2)]
        tl, al, presents = self.dec(text_ids, audio_ids, features, feature_mask, past=past)
        flat = []
        for k, v in presents:
            flat += [k, v]
        return (tl, al, *flat)


def t_spec(name, dtype, dims, desc):
    return {"name": name, "dtype": dtype, "dims": dims, "description": desc}


def encoder_io(c: EncoderConfig):
    cache_dims = [c.n_layers, c.n_heads, "past_frames", c.head_dim]
    out_dims = [c.n_layers, c.n_heads, "past_frames_plus_2", c.head_dim]
    ins = [t_spec("mel", "float32", [1, c.chunk_mel, c.n_mels], "8 streaming log-mel frames (80 ms), see 'mel'"),
           t_spec("cache_k", "float32", cache_dims, "attention keys of all previous 25 Hz frames of this turn "
                  "(past_frames = 2 * steps so far; start with past_frames = 0)"),
           t_spec("cache_v", "float32", cache_dims, "attention values, same layout as cache_k")]
    outs = [t_spec("token", "int64", [1], "semantic token (0..codebook_size-1) of this 80 ms chunk, 12.5 Hz"),
            t_spec("feature", "float32", [1, c.feat_dim], "continuous pre-quantisation feature of this chunk"),
            t_spec("ctc_ids", "int64", [c.frames_per_chunk], "greedy CTC character ids at 25 Hz (0 = blank)"),
            t_spec("cache_k_out", "float32", out_dims, "cache_k with this chunk's 2 frames appended"),
            t_spec("cache_v_out", "float32", out_dims, "cache_v with this chunk's 2 frames appended")]
    return ins, outs


def decoder_io(c: DecoderConfig):
    n = c.n_layers + c.n_audio_layers
    ins = [t_spec("text_ids", "int64", [1, "seq"], "text-stream token ids of the new positions"),
           t_spec("audio_ids", "int64", [1, "seq"], "audio-stream token ids of the new positions"),
           t_spec("features", "float32", [1, "seq", c.feat_dim], "continuous user-audio features (zeros elsewhere)"),
           t_spec("feature_mask", "float32", [1, "seq"], "1.0 where features are added (user audio codes), else 0.0")]
    outs = [t_spec("text_logits", "float32", [1, c.vocab_size], "text head logits of the LAST new position"),
            t_spec("audio_logits", "float32", [1, c.vocab_size], "audio head logits of the LAST new position")]
    for i in range(n):
        kind = "shared/text layer" if i < c.n_layers else "audio layer"
        for kv in ("key", "value"):
            ins.append(t_spec(f"past_{kv}_{i}", "float32", [1, c.n_kv_heads, "past_seq", c.head_dim],
                              f"KV cache {kv}s of {kind} {i} (RoPE already applied to keys)"))
            outs.append(t_spec(f"present_{kv}_{i}", "float32", [1, c.n_kv_heads, "total_seq", c.head_dim],
                               f"past_{kv}_{i} with the new positions appended (total_seq = past_seq + seq)"))
    return ins, outs


def dynamic_axes(specs):
    ax = {}
    for s in specs:
        d = {i: v for i, v in enumerate(s["dims"]) if isinstance(v, str)}
        if d:
            ax[s["name"]] = d
    return ax


def units_descriptor(enc):
    """How the token ids are chosen inside the step graph (informational; training/recover_from_onnx.py reads it)."""
    q = enc.vq
    if hasattr(q, "layer"):
        return {"kind": "learned_reconstruction", "layer": q.layer, "code_dim": int(q.codebook.shape[1]),
                "description": f"nearest of {q.codebook.shape[0]} codes (Euclidean) to a learned projection of "
                               f"[final feature ; layer-{q.layer} hidden states of the token's two 25 Hz frames]; "
                               "codebook trained for mel reconstruction (training/part2/probe_units.py)"}
    return {"kind": "kmeans", "description": "nearest k-means centroid of the final feature"}


def export_encoder(enc, path):
    c = enc.c
    ins, outs = encoder_io(c)
    P = 4
    args = (torch.randn(1, c.chunk_mel, c.n_mels), torch.randn(c.n_layers, c.n_heads, P, c.head_dim),
            torch.randn(c.n_layers, c.n_heads, P, c.head_dim))
    torch.onnx.export(EncoderStep(enc), args, path, opset_version=OPSET, input_names=[s["name"] for s in ins],
                      output_names=[s["name"] for s in outs], dynamic_axes=dynamic_axes(ins + outs),
                      do_constant_folding=True)
    return ins, outs


def export_decoder(dec, path):
    c = dec.c
    ins, outs = decoder_io(c)
    P, T = 5, 3
    n = c.n_layers + c.n_audio_layers
    past = []
    for _ in range(n):
        past += [torch.randn(1, c.n_kv_heads, P, c.head_dim), torch.randn(1, c.n_kv_heads, P, c.head_dim)]
    args = (torch.randint(0, c.vocab_size, (1, T)), torch.randint(0, c.vocab_size, (1, T)),
            torch.randn(1, T, c.feat_dim), torch.ones(1, T), *past)
    torch.onnx.export(DecoderGraph(dec), args, path, opset_version=OPSET, input_names=[s["name"] for s in ins],
                      output_names=[s["name"] for s in outs], dynamic_axes=dynamic_axes(ins + outs),
                      do_constant_folding=True)
    return ins, outs


# ----------------------------------------------------------------------------------------------
def tensor_json(x):
    x = np.ascontiguousarray(x)
    if x.dtype in (np.float64, np.float16):
        x = x.astype(np.float32)
    if x.dtype in (np.int32, np.int16):
        x = x.astype(np.int64)
    dt = {np.dtype(np.float32): "float32", np.dtype(np.int64): "int64"}[x.dtype]
    return {"dtype": dt, "shape": list(x.shape), "data_b64": base64.b64encode(x.astype("<" + x.dtype.str[1:]).tobytes()).decode()}


def tj(t):
    return tensor_json(t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t))


def write_golden(name, obj):
    d = os.path.join(PACK, "golden")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "w") as f:
        json.dump(obj, f, separators=(",", ":"))


def pick_utterances():
    """A few eval clips (held-out voices + paraphrases) for the golden files."""
    import glob
    f = sorted(glob.glob(os.path.join(DATA, "corpus", "eval_both_*.json")))[0]
    meta = json.load(open(f))
    z = np.load(f[:-5] + ".npz")
    chosen = []
    for intent in ("check_balance", "lost_card", "opening_hours"):
        for i, m in enumerate(meta):
            if m["intent"] == intent and m["n"] < SR * 2.6:
                chosen.append((m, z["audio"][z["offsets"][i]:z["offsets"][i + 1]]))
                break
    return chosen


@torch.no_grad()
def goldens(enc, dec, vocab, text_bias):
    ec, dc = enc.c, dec.c
    utts = pick_utterances()
    # ---- mel front end: two signals (one deliberately not a multiple of 160 samples)
    rng = np.random.default_rng(SEED)
    m0, w0 = utts[0]
    pcm_a = w0.astype(np.float32) / 32768.0
    pcm_b = (0.3 * np.sin(2 * np.pi * 440 * np.arange(4321) / SR) + 0.01 * rng.standard_normal(4321)).astype(np.float32)
    write_golden("mel.json", {
        "description": "streaming log-mel front end: pcm (float32, 16 kHz, [-1,1]) -> mel [frames, 80]; frames = "
                       "next multiple of 8 >= ceil(len/160); the running max restarts per case",
        "cases": [{"name": "utterance_first_second", "pcm": tensor_json(pcm_a[:SR]),
                   "mel": tensor_json(logmel_stream_np(pcm_a[:SR]))},
                  {"name": "tone_4321_samples", "pcm": tensor_json(pcm_b), "mel": tensor_json(logmel_stream_np(pcm_b))}]})

    # ---- encoder steps with caches (first 3 steps in full), then token/feature outputs of every step
    def run_encoder(pcm, keep_full=3):
        mel = torch.from_numpy(logmel_stream_np(pcm))[None]
        ck = torch.zeros(ec.n_layers, ec.n_heads, 0, ec.head_dim)
        cv = torch.zeros_like(ck)
        steps, toks, feats, ctc = [], [], [], []
        for s in range(mel.shape[1] // CHUNK_FRAMES):
            chunk = mel[:, s * CHUNK_FRAMES:(s + 1) * CHUNK_FRAMES]
            tok, f, ci, nk, nv = enc.step(chunk, ck, cv)
            if s < keep_full:
                steps.append({"inputs": {"mel": tj(chunk), "cache_k": tj(ck), "cache_v": tj(cv)},
                              "outputs": {"token": tj(tok), "feature": tj(f), "ctc_ids": tj(ci),
                                          "cache_k_out": tj(nk), "cache_v_out": tj(nv)}})
            toks.append(int(tok[0]))
            feats.append(f[0].numpy())
            ctc += ci.tolist()
            ck, cv = nk, nv
        whole = enc(mel)
        diff = float((whole["feat"][0] - torch.from_numpy(np.stack(feats))).abs().max())
        same_tok = whole["tokens"][0].tolist() == toks
        return mel[0].numpy(), steps, toks, np.stack(feats), ctc, diff, same_tok

    mel_a, steps, toks, feats, ctc, diff, same = run_encoder(pcm_a)
    write_golden("encoder_steps.json", {
        "description": "encoder_step.onnx: consecutive chunk steps of one turn starting from empty caches; "
                       "'steps' has full inputs/outputs of the first steps; 'all_tokens'/'all_features' are the "
                       "outputs of every step when the whole 'mel' is fed chunk by chunk",
        "utterance_text": m0["text"], "mel": tensor_json(mel_a), "steps": steps,
        "all_tokens": tensor_json(np.array(toks, np.int64)), "all_features": tensor_json(feats),
        "all_ctc_ids": tensor_json(np.array(ctc, np.int64)), "ctc_transcript": ctc_greedy(ctc),
        "chunked_vs_whole_max_abs_diff": diff, "chunked_tokens_equal_whole": same})
    stats = {"encoder_chunk_vs_whole_max_diff": diff, "encoder_tokens_equal": same}

    # ---- decoder: prefill from empty past + a few steps (inputs chain: past of step k = present of step k-1)
    n_cache = dec.n_cache
    prompt = build_prompt(vocab, np.array(toks), feats, False, dc.feat_dim)
    empty = [(torch.zeros(1, dc.n_kv_heads, 0, dc.head_dim), torch.zeros(1, dc.n_kv_heads, 0, dc.head_dim))
             for _ in range(n_cache)]
    tl, al, pres = dec(*prompt, past=empty)

    def flat(pr, prefix):
        d = {}
        for i, (k, v) in enumerate(pr):
            d[f"{prefix}_key_{i}"] = tj(k)
            d[f"{prefix}_value_{i}"] = tj(v)
        return d

    prefill = {"inputs": {"text_ids": tj(prompt[0]), "audio_ids": tj(prompt[1]), "features": tj(prompt[2]),
                          "feature_mask": tj(prompt[3]), **flat(empty, "past")},
               "outputs": {"text_logits": tj(tl), "audio_logits": tj(al), **flat(pres, "present")}}
    dsteps = []
    past = pres
    feed = [(int(tl[0].argmax()), 5)]   # greedy text token, audio blank (text-only mode)
    for k in range(3):
        t_in, a_in = feed[-1]
        x = (torch.tensor([[t_in]]), torch.tensor([[a_in]]), torch.zeros(1, 1, dc.feat_dim), torch.zeros(1, 1))
        tl2, al2, past = dec(*x, past=past)
        dsteps.append({"inputs": {"text_ids": tj(x[0]), "audio_ids": tj(x[1]), "features": tj(x[2]),
                                  "feature_mask": tj(x[3])},
                       "outputs": {"text_logits": tj(tl2), "audio_logits": tj(al2)}})
        feed.append((int(tl2[0].argmax()), 5))
    write_golden("decoder_steps.json", {
        "description": "decoder.onnx: 'prefill' runs the text-only prompt of the encoder_steps utterance from an "
                       "empty past (past_seq = 0); then 'steps' (seq = 1) each use the previous call's present_* as "
                       "past_* (presents of the steps are not stored, to keep the file small: the step logits check the chain)",
        "prefill": prefill, "steps": dsteps,
        "final_present_shape": list(past[0][0].shape)})

    # ---- end to end greedy replies (one text+audio, one text-only) for other utterances
    e2e = []
    for (m, w), ctd in zip(utts[1:], (True, False)):
        pcm = w.astype(np.float32) / 32768.0
        mel, _, tk, ft, ci, _, _ = run_encoder(pcm, keep_full=0)
        pr = build_prompt(vocab, np.array(tk), ft, ctd, dc.feat_dim)
        txt, aud, gen, _ = generate(dec, vocab, pr, ctd, text_bias=text_bias)
        e2e.append({"user_text": m["text"], "user_intent": m["intent"], "voice": m["voice"],
                    "mode": "speech_ctd" if ctd else "speech_ct", "pcm": tensor_json(pcm), "mel": tensor_json(mel),
                    "encoder_tokens": tensor_json(np.array(tk, np.int64)), "encoder_features": tensor_json(ft),
                    "user_transcript": ctc_greedy(ci),
                    "prompt_text_ids": tj(pr[0][0]), "prompt_audio_ids": tj(pr[1][0]),
                    "prompt_feature_mask": tj(pr[3][0]),
                    "generated_text_ids": tensor_json(np.array([g[0] for g in gen], np.int64)),
                    "generated_audio_ids": tensor_json(np.array([g[1] for g in gen], np.int64)),
                    "reply_text_ids": tensor_json(np.array(txt, np.int64)),
                    "reply_audio_codes": tensor_json(np.array(aud, np.int64)),
                    "reply_text": vocab.decode_text(txt), "expected_reply_text": REPLIES[m["intent"]]})
    write_golden("e2e.json", {"description": "greedy end-to-end replies: pcm -> streaming mel -> encoder steps -> "
                                             "prompt -> decoder prefill + greedy steps (sampling.demo_greedy rules)",
                              "cases": e2e})
    return stats


# ----------------------------------------------------------------------------------------------
def graph_desc(file, ins, outs, desc):
    return {"file": file, "opset": OPSET, "description": desc, "inputs": ins, "outputs": outs,
            "sha256": hashlib.sha256(open(os.path.join(PACK, file), "rb").read()).hexdigest(),
            "bytes": os.path.getsize(os.path.join(PACK, file))}


def manifest(enc, dec, vocab, e_io, d_io, training_info, text_bias):
    ec, dc = enc.c, dec.c
    sp = {s.strip("<|>"): i for i, s in enumerate(SPECIALS) if not s.startswith("<|reserved")}
    return {
        "schema_version": 1,
        "name": "voiceagent-demo-bank",
        "description": "Tiny demo pack trained from scratch on synthetic speech (espeak-ng / flite) for a bank IVR. "
                       "Kimi-Audio layout: streaming semantic tokenizer + dual-head decoder. Part 1 "
                       "(audio in -> reply text + reply semantic tokens); the detokenizer/vocoder is part 2.",
        "license": "generated by training/build_pack.py in this repository",
        "audio": {"input_sample_rate": SR, "input_channels": 1, "input_format": "float32 in [-1, 1]"},
        "mel": {"sample_rate": SR, "n_fft": N_FFT, "hop_length": HOP, "win_length": N_FFT,
                "window": "hann_periodic", "power": 2.0, "n_mels": N_MELS, "fmin": 0.0, "fmax": SR / 2,
                "mel_scale": "slaney", "mel_norm": "slaney", "log": "log10", "log_floor": 1e-10,
                "clamp_below_max": 8.0, "clamp_mode": "running_max", "offset": 4.0, "divisor": 4.0,
                "framing": "streaming", "left_pad": "reflect", "frame_group": CHUNK_FRAMES,
                "description": "frame i covers samples [160 i - 200, 160 i + 200) (x[-k] = x[k], zeros after the "
                               "end of stream); out = (max(log10(max(mel,1e-10)), m_i - 8) + 4) / 4 with m_i the "
                               "running max over all bins of frames 0..i of the current turn; at end of stream "
                               "frames are emitted until their count is a multiple of frame_group"},
        "tokenizer": {"graph": "encoder_step", "mode": "streaming_step", "frames_per_step": ec.chunk_mel,
                      "token_rate_hz": 12.5, "tokens_per_step": 1, "codebook_size": ec.n_codes,
                      "feature_dim": ec.feat_dim, "feature_rate_hz": 12.5,
                      "cache": {"inputs": ["cache_k", "cache_v"], "outputs": ["cache_k_out", "cache_v_out"],
                                "grow_axis": 2, "grow_per_step": ec.frames_per_chunk, "initial_length": 0,
                                "reset": "at the start of every user turn (together with the mel running max)",
                                "max_length": 512},
                      "ctc": {"output": "ctc_ids", "rate_hz": 25.0, "blank_id": 0, "chars": CHARS[1:],
                              "char_id_offset": 1, "decode": "collapse repeats, drop blanks"},
                      "units": units_descriptor(enc)},
        "decoder": {"graph": "decoder", "architecture": "kimi-audio-dual-head", "hidden_size": dc.hidden,
                    "num_layers": dc.n_layers, "num_audio_layers": dc.n_audio_layers,
                    "audio_branch_layer_index": dc.audio_branch_layer_index,
                    "num_attention_heads": dc.n_heads, "num_kv_heads": dc.n_kv_heads, "head_dim": dc.head_dim,
                    "intermediate_size": dc.d_ff, "rope_theta": dc.rope_theta, "norm": "rmsnorm",
                    "max_positions": dc.max_positions, "feature_dim": dc.feat_dim,
                    "logits": "last_position",
                    "kv_cache": {"num_entries": dc.n_layers + dc.n_audio_layers,
                                 "layout": ["batch", "kv_heads", "seq", "head_dim"], "dtype": "float32",
                                 "past_key": "past_key_{i}", "past_value": "past_value_{i}",
                                 "present_key": "present_key_{i}", "present_value": "present_value_{i}",
                                 "order": "entries 0..num_layers-1 = shared/text layers, then the audio layers",
                                 "positions": "position of a new token = past_seq + its index (RoPE)"}},
        "vocab": {"size": vocab.size, "text_vocab_size": vocab.audio_offset, "audio_token_offset": vocab.audio_offset,
                  "audio_vocab_size": vocab.n_codes, "text_tokens": {"type": "word", "file": "text_vocab.json",
                                                                      "join": " "}},
        "special_tokens": sp,
        "stream": {"audio_delay": DELAY, "text_blank": "text_blank", "text_eos": "text_eos",
                   "output_mode_tokens": {"text": "speech_ct", "text_and_audio": "speech_ctd"},
                   "stop_audio_tokens": ["msg_end", "media_end"],
                   "max_new_tokens": 200, "max_reply_audio_tokens": 1500,
                   # earlier turns the decoder should see: the demo's replies do not depend on history, and with it
                   # the replies of later turns go wrong (scripts/eval_conversation.py; training/REPORT.md, session 24)
                   "history_turns": 0},
        "sampling": {"demo_greedy": True,
                     "text": {"temperature": 0.0, "top_k": 5, "repetition_penalty": 1.0, "repetition_window": 16},
                     "audio": {"temperature": 0.0, "top_k": 5, "repetition_penalty": 1.0, "repetition_window": 64},
                     # prior correction of the reply choice (training/prior.py); applied greedy or sampled
                     "text_logit_bias": {str(k): v for k, v in sorted(text_bias.items())}},
        "graphs": {"encoder_step": graph_desc("encoder_step.onnx", *e_io,
                                              "streaming semantic tokenizer, one 80 ms chunk per call"),
                   "decoder": graph_desc("decoder.onnx", *d_io,
                                         "dual-head decoder; prefill (seq > 1) and single steps (seq = 1), "
                                         "past_seq may be 0" + (GRAPH_NOTE if training_info["decoder"].get(
                                             "weight_storage") else ""))},
        "golden": {"dir": "golden", "files": ["mel.json", "encoder_steps.json", "decoder_steps.json", "e2e.json"],
                   "tolerance": {"float_abs": 1e-3, "mel_abs": 1e-4}},
        "training": training_info,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--allow-random", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(SEED)
    os.makedirs(PACK, exist_ok=True)
    vocab = Vocab()
    info = {}
    ckpts = {}

    def load(kind, ctor, cfg_cls, **kw):
        for fn in ("final.pt", "last.pt"):
            p = os.path.join(RUNS, kind, fn)
            if os.path.exists(p):
                ck = torch.load(p)
                ckpts[kind] = ck
                m = ctor(cfg_cls(**ck["cfg"]))
                m.load_state_dict(ck["model"])
                st = ck.get("state", {})
                info[kind] = {"checkpoint": fn, "train_minutes": round(ck.get("train_minutes",
                              st.get("elapsed", 0) / 60), 1), "steps": ck.get("steps", st.get("step", 0))}
                for key in ("init", "init_train_minutes", "init_steps", "extra_train", "recovered_from"):
                    if ck.get(key):
                        info[kind][key] = ck[key]
                return m.eval()
        if not a.allow_random:
            raise SystemExit(f"no {kind} checkpoint (use --allow-random for an untrained pack)")
        info[kind] = {"checkpoint": None, "note": "untrained random weights"}
        return ctor(cfg_cls(**kw)).eval()

    enc = load("encoder", StreamingEncoder, EncoderConfig)
    if info["encoder"].get("checkpoint"):
        # tokens = the unit inventory fitted on this checkpoint (the training-time VQ collapsed; see models.py)
        enc = load_encoder(os.path.join(RUNS, "encoder", info["encoder"]["checkpoint"]))
        info["encoder"]["quantiser"] = units_descriptor(enc)["description"]
    dec = load("decoder", DualHeadDecoder, DecoderConfig, vocab_size=vocab.size, feat_dim=enc.c.feat_dim)
    # The checkpoint decides the storage: one rounded by fp16_storage.py (weights_rounded_fp16) is stored as float16
    # matrices, so the goldens, every torch-side measurement of it and the graph compute with the same values.
    fp16 = bool(ckpts.get("decoder", {}).get("weights_rounded_fp16"))
    if fp16 and round_large_(dec):
        raise SystemExit("the decoder checkpoint is marked weights_rounded_fp16 but holds other values: run "
                         "training/fp16_storage.py round on it")
    info["encoder_params_total"] = count_params(enc)
    info["decoder_params"] = count_params(dec)
    t0 = time.time()
    e_io = export_encoder(enc, os.path.join(PACK, "encoder_step.onnx"))
    d_io = export_decoder(dec, os.path.join(PACK, "decoder.onnx"))
    if fp16:
        info["decoder"]["weight_storage"] = storage_record(*store_fp16(os.path.join(PACK, "decoder.onnx")))
        print("decoder:", info["decoder"]["weight_storage"], flush=True)
    for f in ("encoder_step.onnx", "decoder.onnx"):
        onnx.checker.check_model(onnx.load(os.path.join(PACK, f)))
    print(f"exported in {time.time() - t0:.1f}s", flush=True)
    save_json(os.path.join(PACK, "text_vocab.json"), {str(k): v for k, v in sorted(vocab.token_table().items())})
    text_bias = decoder_bias(vocab, ckpts.get("decoder"))
    table = vocab.token_table()
    info["decoder"]["text_logit_bias"] = {table[k]: v for k, v in text_bias.items()}
    stats = goldens(enc, dec, vocab, text_bias)
    info.update(stats)
    save_json(os.path.join(PACK, "manifest.json"), manifest(enc, dec, vocab, e_io, d_io, info, text_bias))
    for f in sorted(os.listdir(PACK)):
        p = os.path.join(PACK, f)
        print(f"{f:28s} {os.path.getsize(p) if os.path.isfile(p) else '-'}")
    gd = os.path.join(PACK, "golden")
    print("golden total bytes", sum(os.path.getsize(os.path.join(gd, f)) for f in os.listdir(gd)))
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
