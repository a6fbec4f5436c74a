"""Greedy dual-stream generation with a KV cache (reference for the C# engine) + model loading."""
import hashlib
import os

import numpy as np
import torch

from common import RUNS, WORK
from models import DecoderConfig, DualHeadDecoder, EncoderConfig, StreamingEncoder
from tokens import BLANK, CTD, DELAY, MSG_END, TEXT_EOS, Vocab, user_turn


CODEBOOK = os.path.join(WORK, "part2", "kmeans.pt")
UNITS = os.path.join(WORK, "part2", "units.pt")     # reconstruction-trained units; preferred over k-means


def file_sha256(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def load_encoder(path=None, codebook=True, units=None):
    """Trained encoder with its semantic-token inventory, both fitted on THIS checkpoint (each file records the
    checkpoint's SHA-256, so a retrained encoder never silently pairs with a stale codebook):
    the reconstruction-trained units (work/part2/units.pt under training/, tokenize_data.py --units) when that
    file exists, else the k-means units (work/part2/kmeans.pt, tokenize_data.py --kmeans); `units_info` keeps the
    file's record. codebook=False keeps the training-time quantiser (tokens meaningless; features and CTC only).
    units: another unit file than the installed one (to measure a candidate codebook beside the installed pack)."""
    path = path or os.path.join(RUNS, "encoder", "final.pt")
    if not os.path.exists(path):
        path = os.path.join(RUNS, "encoder", "last.pt")
    ck = torch.load(path)
    m = StreamingEncoder(EncoderConfig(**ck["cfg"]))
    m.load_state_dict(ck["model"])
    if not codebook:
        return m.eval()
    units = units or (UNITS if os.path.exists(UNITS) else None)
    use_units = units is not None
    src, fix = (units, "--units") if use_units else (CODEBOOK, "--kmeans")
    if not os.path.exists(src):
        raise SystemExit(f"{os.path.relpath(src)} is missing: run training/part2/tokenize_data.py {fix}")
    cb = torch.load(src)
    if cb["info"]["ckpt_sha256"] != file_sha256(path):
        raise SystemExit(f"{os.path.relpath(src)} was fitted on another encoder checkpoint; re-run "
                         f"training/part2/tokenize_data.py {fix}")
    if use_units:
        m.install_units(cb["weight"], cb["bias"], cb["codebook"], cb["layer"])
    else:
        m.install_codebook(cb["centroids"])
    m.units_info = cb["info"]
    return m.eval()


def load_decoder(path=None):
    """Trained decoder; `checkpoint_info` keeps the checkpoint's record without the weights (e.g. the intent clip
    counts that prior.decoder_bias turns into the manifest's text logit bias)."""
    path = path or os.path.join(RUNS, "decoder", "final.pt")
    if not os.path.exists(path):
        path = os.path.join(RUNS, "decoder", "last.pt")
    ck = torch.load(path)
    m = DualHeadDecoder(DecoderConfig(**ck["cfg"]))
    m.load_state_dict(ck["model"])
    m.checkpoint_info = {k: v for k, v in ck.items() if k not in ("model", "opt", "probe")}
    return m.eval()


def build_prompt(vocab, codes, feats, mode_ctd, feat_dim):
    text, audio, fidx = user_turn(vocab, codes, mode_ctd)
    F_ = np.zeros((len(text), feat_dim), np.float32)
    m = np.zeros(len(text), np.float32)
    for p, i in enumerate(fidx):
        if i >= 0:
            F_[p] = feats[i]
            m[p] = 1.0
    return (torch.tensor([text]), torch.tensor([audio]), torch.from_numpy(F_)[None], torch.from_numpy(m)[None])


@torch.no_grad()
def generate(dec, vocab, prompt, mode_ctd, past=None, max_new=160, trace=None, text_bias=None):
    """prompt: (text_ids, audio_ids, features, feature_mask) tensors [1,T,...] (may start with the previous
    turn's closing position). Returns text ids (without eos), audio code ids (without offset), the full list of
    generated (text, audio) positions (the last one, the closing position (text_blank, msg_end), is NOT in the
    returned past: it starts the next turn's prefill) and the new past. text_bias {token id: value} is added to the
    text logits before every choice (the manifest's sampling.text_logit_bias)."""
    t_ids, a_ids, feats, fmask = prompt
    tl, al, past = dec(t_ids, a_ids, feats, fmask, past=past)
    if trace is not None:
        trace.append(("prefill", (t_ids, a_ids, feats, fmask), tl, al))
    text_out, audio_out, gen = [], [], []
    text_done = False
    zero_f = torch.zeros(1, 1, feats.shape[-1])
    zero_m = torch.zeros(1, 1)
    bias = None
    if text_bias:
        bias = torch.zeros(tl.shape[-1])
        for k, v in text_bias.items():
            bias[k] = v
    for step in range(max_new):
        t = int(torch.argmax(tl[0] if bias is None else tl[0] + bias))
        a = int(torch.argmax(al[0]))
        if text_done:
            t = BLANK
        if not mode_ctd:
            a = BLANK
        elif step < DELAY:
            a = BLANK
        if t == TEXT_EOS:
            text_done = True
        elif not text_done and t != BLANK:
            text_out.append(t)
        if mode_ctd and a == MSG_END:
            gen.append((BLANK, MSG_END))
            break
        if not mode_ctd and t == TEXT_EOS:
            gen.append((t, a))               # fed (its logits are not needed) ...
            tl, al, past = dec(torch.tensor([[t]]), torch.tensor([[a]]), zero_f, zero_m, past=past)
            if trace is not None:
                trace.append(("step", (t, a), tl, al))
            gen.append((BLANK, MSG_END))     # ... then the closing position, fed with the next prompt
            break
        if mode_ctd and a >= vocab.audio_offset:
            audio_out.append(a - vocab.audio_offset)
        gen.append((t, a))
        tl, al, past = dec(torch.tensor([[t]]), torch.tensor([[a]]), zero_f, zero_m, past=past)
        if trace is not None:
            trace.append(("step", (t, a), tl, al))
    return text_out, audio_out, gen, past
