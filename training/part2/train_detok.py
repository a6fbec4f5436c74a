"""Train the flow-matching DiT detokenizer (conditional flow matching, rectified-flow path) WITH the streaming
attention pattern: every training item is [clean prefix split into random emitted segments (t = 0.999,
block-causal) | one noisy window (random emitted size + random look-ahead, t ~ U(0,1)) attending to the whole
prefix and itself]; loss = MSE(velocity) on the window frames (--x1-l1 W: + W x L1 of the clean mel the velocity
implies; the log's fm_loss is then that sum).
--t-grid N puts most window times on the inference Euler grid (k / N); --reply-p draws that share of the items from
the 13 replies' clips (the agent only ever speaks those codes; the held-out sentences measure generalisation).
Resumable: training/runs/part2/detok/last.pt.
usage (log: work/part2/logs/detok.log under training/):
  nohup /usr/bin/python3 training/part2/train_detok.py --minutes 40 --threads 1 > LOG 2>&1 &
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import (DATA2, RUNS2, TRAINING, UPSAMPLE, WORK2, carried_history, ensure_dirs,  # noqa: E402
                     load_json, mel_stats, warm_start_history)
from dit import CodebookEmbedding, DiT, DiTConfig, T_CLEAN, baked_state, cfg_dict, count_params  # noqa: E402
sys.path.insert(0, TRAINING)
from corpus_text import REPLIES  # noqa: E402


class DetokData:
    def __init__(self, split="train"):
        z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
        mean, std = mel_stats()
        mel, moff = z["mel"], z["mel_offsets"]
        tk = torch.load(os.path.join(WORK2, f"tokens_{split}.pt"))
        self.info = tk["info"]
        self.mels, self.toks = [], []
        for i, t in enumerate(tk["tokens"]):
            m = (mel[moff[i]:moff[i + 1]] - mean) / std
            assert len(m) == UPSAMPLE * len(t)
            self.mels.append(m.astype(np.float32))
            self.toks.append(t.numpy().astype(np.int64))
        self.n = len(self.mels)
        # the clips of the agent's replies (what the decoder's audio codes always are), for --reply-p
        replies = set(REPLIES.values())
        texts = [m["text"] for m in load_json(os.path.join(DATA2, f"slt_{split}.json"))]
        self.replies = [i for i, t in enumerate(texts) if t in replies]

    def extend(self, other, name):
        """Append another split's clips (e.g. 'broad', make_data.py --broad); the reply clips stay this split's."""
        assert other.info.get("ckpt_sha256") == self.info.get("ckpt_sha256"), "splits tokenised by other encoders"
        self.mels += other.mels
        self.toks += other.toks
        self.n = len(self.mels)
        self.info = dict(self.info, extra_splits=self.info.get("extra_splits", []) + [name])
        return self

    @classmethod
    def from_pack(cls, path, split="train"):
        """Read the compact pack written by pack_detok_data.py (8-bit train mels, float16 eval mels)."""
        import io
        import lzma
        from pack_detok_data import dequantise
        with lzma.open(path, "rb") as f:
            z = np.load(io.BytesIO(f.read()))
        self = cls.__new__(cls)
        lens = z[split + "_tok_len"]
        tok, mel = z[split + "_tok"].astype(np.int64), z[split + "_mel"]
        mel = dequantise(mel) if mel.dtype == np.uint8 else mel.astype(np.float32)
        ends = np.cumsum(lens)
        self.toks = [tok[e - n:e] for e, n in zip(ends, lens)]
        self.mels = [mel[UPSAMPLE * (e - n):UPSAMPLE * e] for e, n in zip(ends, lens)]
        self.info = {"pack": os.path.basename(path)}
        self.replies = z[split + "_replies"].tolist() if split + "_replies" in z.files else []
        self.n = len(self.mels)
        return self


def sample_item(rng, n_tok, max_prefix_tok=60, max_lookahead=4):
    """Returns (start token of the prefix crop-free sequence is always 0) prefix segments [(a,b)...], window (s,e)."""
    if rng.random() < 0.25 or n_tok < 4:
        s = 0
    else:
        s = int(rng.integers(1, n_tok))
    s = min(s, max_prefix_tok)
    E = int(rng.integers(2, 17))
    LA = int(rng.integers(0, max_lookahead + 1))
    e = min(n_tok, s + E + LA)
    if e <= s:
        s = max(0, n_tok - 2)
        e = n_tok
    segs, a = [], 0
    first = True
    while a < s:
        b = min(s, a + (int(rng.integers(2, 6)) if first else int(rng.integers(4, 13))))
        segs.append((a, b))
        a, first = b, False
    return segs, (s, e)


def make_batch(data, rng, bs, reply_p=0.0, max_lookahead=4):
    items = []
    for _ in range(bs):
        if reply_p > 0 and data.replies and rng.random() < reply_p:
            i = int(data.replies[int(rng.integers(len(data.replies)))])
        else:
            i = int(rng.integers(data.n))
        segs, (s, e) = sample_item(rng, len(data.toks[i]), max_lookahead=max_lookahead)
        items.append((i, segs, s, e))
    T = max(UPSAMPLE * e for _, _, _, e in items)
    x1 = np.zeros((bs, T, 80), np.float32)
    tok = np.zeros((bs, T), np.int64)
    segid = np.full((bs, T), -1, np.int64)
    is_pre = np.zeros((bs, T), bool)
    win = np.zeros((bs, T), bool)
    for b, (i, segs, s, e) in enumerate(items):
        n = UPSAMPLE * e
        x1[b, :n] = data.mels[i][:n]
        tok[b, :n] = np.repeat(data.toks[i][:e], UPSAMPLE)
        for k, (p, q) in enumerate(segs):
            segid[b, UPSAMPLE * p:UPSAMPLE * q] = k
        is_pre[b, :UPSAMPLE * s] = True
        segid[b, UPSAMPLE * s:n] = 1000
        win[b, UPSAMPLE * s:n] = True
    seg = torch.from_numpy(segid)
    return (torch.from_numpy(x1), torch.from_numpy(tok), torch.from_numpy(is_pre), torch.from_numpy(win),
            block_mask(seg), seg)


def block_mask(seg):
    """seg [B,T]: prefix segment index k >= 0 of each frame, 1000 for the window, -1 for padding -> attention mask
    [B,T(query),T(key)]: a frame sees its own and earlier segments (the window sees every prefix segment and the
    whole window); padding queries see themselves only."""
    valid_k = seg >= 0
    mask = (seg[:, None, :] <= seg[:, :, None]) & valid_k[:, None, :]
    eye = torch.eye(seg.shape[1], dtype=torch.bool, device=seg.device)[None]
    return mask | (eye & ~valid_k[:, :, None])


def sample_t(B, rng_t, device, grid_steps=0, grid_p=0.0):
    """t ~ U(0, 1); with grid_steps > 0, a fraction grid_p of the items instead take one of the Euler grid's times
    k / grid_steps. With N = 2 inference the DiT is only ever asked at t = 0 and t = 0.5, so spending most of the
    training there buys quality where it is used (the uniform remainder keeps other N usable)."""
    t = torch.rand(B, generator=rng_t, device=device)
    if grid_steps > 0 and grid_p > 0:
        k = torch.randint(0, grid_steps, (B,), generator=rng_t, device=device).float() / grid_steps
        on_grid = torch.rand(B, generator=rng_t, device=device) < grid_p
        t = torch.where(on_grid, k, t)
    return t


def euler_whole(model, x, tok, mask, n_steps):
    """Euler sampling of whole sequences (no prefix): x is the start noise [B,T,80], mask [B,T,T]."""
    T = x.shape[1]
    pos = torch.arange(T, device=x.device)
    none = torch.zeros(x.shape[:2], dtype=torch.bool, device=x.device)
    for k in range(n_steps):
        t = torch.full((x.shape[0],), k / n_steps, device=x.device)
        x = x + model.forward_train(x, tok, pos, none, t, mask).float() / n_steps
    return x


def own_prefix(model, x1, tok, is_pre, win, rng_t, p):
    """Streaming inference writes the cache from the DiT's OWN N-step output, which is smoother than the clean mel
    training puts in the prefix; the model never saw that, so on unseen text a chunk can follow its own past off
    course (session 14: decoding every chunk without its past cut the 20-sentence WER 52 -> 45 %). For a share p
    of the items, the prefix becomes the model's own prediction (no gradient; whole sequence at once, a cheap
    stand-in for the chunk-by-chunk loop)."""
    pick = (torch.rand(x1.shape[0], generator=rng_t, device=x1.device) < p)[:, None, None] & is_pre[..., None]
    if not bool(pick.any()):
        return x1
    valid = is_pre | win
    full = valid[:, None, :] | torch.eye(x1.shape[1], dtype=torch.bool, device=x1.device)[None]
    with torch.no_grad():
        x = euler_whole(model, torch.randn(x1.shape, generator=rng_t, device=x1.device), tok, full, 1)
    return torch.where(pick, x, x1)


@torch.no_grad()
def own_prefix_chunked(model, x1, tok, seg, is_pre, rng_t, lookahead=3):
    """The prefix as streaming inference writes it (stream.py): chunk by chunk, each prefix segment k is decoded with
    one Euler step (t = 0, fresh noise) over its frames plus `lookahead` tokens of look-ahead, attending to segments
    < k written clean (t = T_CLEAN) from the model's OWN earlier outputs, not from the true mel. Training the window
    on such a prefix teaches it to continue its own smooth past (exposure bias; session 14 measured the cache of own
    output costing the 20 sentences 7 points while helping the replies 14). Costs about one forward pass per two
    prefix segments; every item of the batch is decoded together, segment index by segment index."""
    B, T, _ = x1.shape
    own = x1.clone()
    known = (seg >= 0).sum(1)                             # frames of each item that exist (prefix + window)
    pos = torch.arange(T, device=x1.device)
    n_seg = int(torch.where(seg < 1000, seg, -1).max()) + 1
    for k in range(n_seg):
        in_k = seg == k
        has = in_k.any(1)
        if not bool(has.any()):
            break
        start = torch.where(in_k, pos, T).min(1).values
        end = torch.where(in_k, pos + 1, 0).max(1).values
        wend = torch.minimum(end + UPSAMPLE * lookahead, known)
        win_k = (pos[None] >= start[:, None]) & (pos[None] < wend[:, None]) & has[:, None]
        pre_k = (seg >= 0) & (seg < k)
        seg_k = torch.where(pre_k, seg, torch.where(win_k, torch.full_like(seg, 1000), torch.full_like(seg, -1)))
        Tk = int(wend.max())
        noise = torch.randn(x1.shape, generator=rng_t, device=x1.device)
        x = torch.where(pre_k[..., None], own, noise)[:, :Tk]
        t = torch.zeros(B, device=x1.device)
        out = x + model.forward_train(x, tok[:, :Tk], pos[:Tk], pre_k[:, :Tk], t, block_mask(seg_k[:, :Tk])).float()
        own[:, :Tk] = torch.where(in_k[:, :Tk, None], out, own[:, :Tk])
    return torch.where(is_pre[..., None], own, x1)


def fm_loss(model, batch, rng_t, device="cpu", amp=False, grid_steps=0, grid_p=0.0, self_prefix_p=0.0, x1_l1=0.0,
            chunked_p=0.0):
    """x1_l1 > 0 adds that weight times the L1 error of the clean mel the velocity implies, x1_hat = x_t + (1 - t) v.
    At t = 0 that is exactly what N = 1 inference outputs; the velocity's MSE alone makes it the conditional mean,
    and the probe regressor, trained with L1 + MSE, reads better from the same tokens (session 19: 68.9 against the
    DiT's 75.5 % on fresh sets l+m), so the same mix is asked of the DiT's one-step output. On the rectified-flow
    path x1_hat - x1 = (1 - t) (v - (x1 - x0)), so both terms read the one velocity residual."""
    x1, tok, is_pre, win, mask, seg = [b.to(device, non_blocking=True) for b in batch]
    B, T, _ = x1.shape
    t = sample_t(B, rng_t, device, grid_steps, grid_p)
    x0 = torch.randn(x1.shape, generator=rng_t, device=device)
    xt = (1 - t[:, None, None]) * x0 + t[:, None, None] * x1
    pre_in = own_prefix(model, x1, tok, is_pre, win, rng_t, self_prefix_p) if self_prefix_p > 0 else x1
    if chunked_p > 0 and float(torch.rand((), generator=rng_t, device=device)) < chunked_p and bool(is_pre.any()):
        pre_in = own_prefix_chunked(model, x1, tok, seg, is_pre, rng_t)
    x = torch.where(is_pre[..., None], pre_in, xt)
    if amp:
        with torch.autocast("cuda", dtype=torch.bfloat16):
            v = model.forward_train(x, tok, torch.arange(T, device=device), is_pre, t, mask)
        v = v.float()
    else:
        v = model.forward_train(x, tok, torch.arange(T, device=device), is_pre, t, mask)
    res = v - (x1 - x0)
    err = (res ** 2).mean(-1)
    if x1_l1 > 0:
        err = err + x1_l1 * (1 - t[:, None]) * res.abs().mean(-1)
    w = win.float()
    return (err * w).sum() / w.sum()


@torch.no_grad()
def eval_l1(model, data, device="cpu", n_steps=6, seed=1234):
    """Whole-utterance Euler sampling (no prefix, N steps) on every clip of `data`, fixed start noise -> mean |mel
    error| per frame and bin. A cheap stand-in for evaluate_part2.py's streaming L1, for choosing between runs."""
    g = torch.Generator(device=device).manual_seed(seed)
    tot, n = 0.0, 0
    for mel, tok in zip(data.mels, data.toks):
        x1 = torch.from_numpy(mel)[None].to(device)
        tk = torch.from_numpy(np.repeat(tok, UPSAMPLE))[None].to(device)
        T = x1.shape[1]
        mask = torch.ones(1, T, T, dtype=torch.bool, device=device)
        x = euler_whole(model, torch.randn(x1.shape, generator=g, device=device), tk, mask, n_steps)
        tot += (x - x1).abs().sum().item()
        n += x1.numel()
    return tot / n


def batches(data, rng, bs, reply_p=0.0, depth=4, max_lookahead=4):
    """Build batches on a background thread (numpy and mask building overlap the GPU step)."""
    import queue
    import threading
    q = queue.Queue(maxsize=depth)

    def work():
        while True:
            q.put(make_batch(data, rng, bs, reply_p, max_lookahead))
    threading.Thread(target=work, daemon=True).start()
    while True:
        yield q.get()


def fit_codebook_embedding(table, units_path, data, hidden, steps=3000, seed=0):
    """A CodebookEmbedding whose baked table starts close to `table` (the warm start's rows), so the rest of the
    DiT keeps working on the first step. Rows are weighted by sqrt(count) of their id in the training tokens: the
    rows of frequent ids are the well-trained ones; rare ids get what the MLP says their code vector means."""
    u = torch.load(units_path, map_location="cpu")
    cb = u["codebook"].float()
    assert cb.shape[0] == table.shape[0], f"{units_path}: {cb.shape[0]} codes, the DiT has {table.shape[0]}"
    assert u.get("info", {}).get("ckpt_sha256") in (None, data.info.get("ckpt_sha256")), "units of another encoder"
    counts = np.bincount(np.concatenate(data.toks), minlength=cb.shape[0]).astype(np.float32)
    w = torch.from_numpy(np.sqrt(counts))
    w = w / w.sum()
    torch.manual_seed(seed)
    emb = CodebookEmbedding(cb, table.shape[1], hidden)
    opt = torch.optim.Adam(emb.mlp.parameters(), lr=3e-3)
    for i in range(steps):
        for g in opt.param_groups:
            g["lr"] = 3e-3 * 0.5 * (1 + math.cos(math.pi * i / steps))
        err = ((emb.mlp(cb) - table.float()) ** 2).sum(1)
        loss = (err * w).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    rel = float((err * w).sum() / ((table.float() ** 2).sum(1) * w).sum())
    print(f"codebook embedding fitted to the initial table: weighted relative error {rel:.3f} "
          f"({int((counts > 0).sum())} ids seen)", flush=True)
    return emb


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=40)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--bs", type=int, default=12)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--total-steps", type=int, default=8000)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--run", default=os.path.join(RUNS2, "detok"))
    ap.add_argument("--device", default="cpu", help="cpu, or cuda on a device machine (bfloat16 autocast)")
    ap.add_argument("--data-pack", default="", help="compact data from pack_detok_data.py instead of training/data")
    ap.add_argument("--init", default="", help="start from these weights (fresh optimizer and schedule)")
    ap.add_argument("--cfg", default="", help="DiTConfig overrides, e.g. d_model=256,n_layers=8,d_ff=1024")
    ap.add_argument("--ema", type=float, default=0.0, help="keep an EMA of the weights; saved as 'model'")
    ap.add_argument("--schedule-minutes", type=float, default=0,
                    help="with --time-schedule: one cosine over this many minutes of the run's whole training time, "
                         "counted across resumes (a run split into legs, e.g. a new thread count, keeps one schedule)")
    ap.add_argument("--time-schedule", action="store_true",
                    help="cosine learning rate over the --minutes budget instead of --total-steps")
    ap.add_argument("--t-grid", type=int, default=0,
                    help="Euler steps of the inference schedule whose times get --t-grid-p of the items (0: off)")
    ap.add_argument("--t-grid-p", type=float, default=0.8)
    ap.add_argument("--reply-p", type=float, default=0.0,
                    help="fraction of items drawn from the 13 replies' clips (the only audio the agent speaks)")
    ap.add_argument("--eval-every", type=float, default=0, help="minutes between eval_l1 measurements (0: off)")
    ap.add_argument("--self-prefix", type=float, default=0.0,
                    help="share of items whose prefix is the model's own N = 1 prediction instead of the clean mel")
    ap.add_argument("--self-prefix-chunked", type=float, default=0.0,
                    help="share of batches whose prefix is decoded by the model itself chunk by chunk, as streaming "
                         "inference writes its cache (own_prefix_chunked)")
    ap.add_argument("--x1-l1", type=float, default=0.0,
                    help="weight of an L1 loss on the clean mel implied by the velocity (the N = 1 output at t = 0)")
    ap.add_argument("--max-lookahead", type=int, default=4,
                    help="training windows carry 0..this many look-ahead tokens (>= the schedule's lookahead_tokens)")
    ap.add_argument("--extra-splits", default="",
                    help="more tokenised slt splits to train on, e.g. 'broad' (make_data.py --broad, then "
                         "tokenize_data.py --splits broad)")
    ap.add_argument("--tok-codebook", default="",
                    help="a units file (work/part2/units.pt under training/): compute the token embedding from its "
                         "code vectors through an MLP, fitted first to the initial table (dit.CodebookEmbedding)")
    ap.add_argument("--tok-hidden", type=int, default=256)
    a = ap.parse_args()
    ensure_dirs()
    torch.set_num_threads(a.threads)
    os.makedirs(a.run, exist_ok=True)
    dev = torch.device(a.device)
    amp = dev.type == "cuda"
    if a.data_pack:
        data, ev = DetokData.from_pack(a.data_pack, "train"), DetokData.from_pack(a.data_pack, "eval")
    else:
        data = DetokData("train")
        for name in filter(None, a.extra_splits.split(",")):
            data.extend(DetokData(name), name)
        ev = DetokData("eval") if a.eval_every else None
    if a.reply_p and not data.replies:
        sys.exit("--reply-p needs to know the reply clips: repack with pack_detok_data.py or train from training/data")
    print("tokens from", data.info, "clips", data.n, "reply clips", len(data.replies), flush=True)
    cfg = DiTConfig()
    for kv in filter(None, a.cfg.split(",")):
        k, v = kv.split("=")
        setattr(cfg, k, type(getattr(cfg, k))(v))
    step, elapsed = 0, 0.0
    init_record = {}
    last = os.path.join(a.run, "last.pt")
    ck = torch.load(last, map_location="cpu") if os.path.exists(last) else None
    if ck is not None:
        cfg = DiTConfig(**ck["cfg"])
    model = DiT(cfg).to(dev)
    ema = None
    if ck is not None:
        if "tok.codebook" in ck.get("raw", ck["model"]):          # a run with the codebook-factorised embedding
            raw = ck.get("raw", ck["model"])
            model.tok = CodebookEmbedding(raw["tok.codebook"], cfg.d_model, raw["tok.mlp.0.weight"].shape[0]).to(dev)
        model.load_state_dict(ck.get("raw", ck["model"]))
        init_record = carried_history(ck)
        step, elapsed = ck["step"], ck["elapsed"]
        print(f"resumed at step {step} ({elapsed / 60:.1f} min)", flush=True)
    elif a.init:
        ini = torch.load(a.init, map_location="cpu")
        assert DiTConfig(**ini["cfg"]) == cfg, "init weights have another config"
        model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in ini["model"].items()})
        print(f"initialised from {a.init} (step {ini.get('step')})", flush=True)
        # the warm start's history, for the manifest (a recovered or remapped file carries the pack's record)
        init_record = warm_start_history(ini, a.init)
    if a.tok_codebook and not isinstance(model.tok, CodebookEmbedding):
        if ck is not None:
            sys.exit(f"{last} was trained with a plain token table: --tok-codebook applies to a new run (--init)")
        model.tok = fit_codebook_embedding(model.tok.weight.detach(), a.tok_codebook, data, a.tok_hidden).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.01)
    if ck is not None:
        opt.load_state_dict(ck["opt"])
    if a.ema:
        ema = [p.detach().clone() for p in model.parameters()]
        if ck is not None and "raw" in ck:
            src = ck.get("ema_full", ck["model"])
            ema = [src[n].to(dev).clone() for n, _ in model.named_parameters()]
    print("dit params", count_params(model), "config", cfg_dict(cfg), flush=True)
    rng = np.random.default_rng(step + 17)
    rng_t = torch.Generator(device=dev).manual_seed(step + 5)
    t0, start_elapsed = time.time(), elapsed
    agg, nagg = 0.0, 0
    source = (batches(data, rng, a.bs, a.reply_p, max_lookahead=a.max_lookahead) if amp else
              (make_batch(data, rng, a.bs, a.reply_p, a.max_lookahead) for _ in iter(int, 1)))

    def ema_state():
        sd = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        if ema is not None:
            for (n, _), e in zip(model.named_parameters(), ema):
                sd[n] = e.detach().cpu().clone()
        return sd

    recipe = {"lr": a.lr, "bs": a.bs, "ema": a.ema, "t_grid": a.t_grid, "t_grid_p": a.t_grid_p if a.t_grid else 0.0,
              "self_prefix": a.self_prefix, "reply_p": a.reply_p, "max_lookahead": a.max_lookahead}
    if a.x1_l1:
        recipe["x1_l1"] = a.x1_l1
    if a.self_prefix_chunked:
        recipe["self_prefix_chunked"] = a.self_prefix_chunked
    if a.schedule_minutes:
        recipe["schedule_minutes"] = a.schedule_minutes
    if a.extra_splits:
        recipe["extra_splits"] = a.extra_splits
    if isinstance(model.tok, CodebookEmbedding):
        recipe["tok_embedding"] = f"codebook MLP 64-{model.tok.mlp[0].out_features}-{cfg.d_model} (dit.CodebookEmbedding)"

    def save():
        full = ema_state()
        # "model" is always the plain DiT (a factorised embedding baked into its table) for every other tool;
        # "ema_full" keeps the factorised form for resuming
        state = {"model": baked_state(full), "opt": opt.state_dict(), "step": step, "elapsed": elapsed,
                 "cfg": cfg_dict(cfg), "tokens_info": data.info, "recipe": recipe, **init_record}
        if full is not state["model"]:
            state["ema_full"] = full
        if ema is not None:
            state["raw"] = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        torch.save(state, last + ".tmp")
        os.replace(last + ".tmp", last)

    def evaluate():
        if ema is None:
            return eval_l1(model, ev, dev)
        m = DiT(cfg).to(dev)
        m.load_state_dict(baked_state(ema_state()))
        return eval_l1(m.eval(), ev, dev)

    t_eval = time.time()
    budget = a.minutes * 60
    # the time schedule's clock: this leg alone, or with --schedule-minutes the run's whole training time (and a leg
    # never runs past the end of the schedule it belongs to)
    origin, span = 0.0, budget
    if a.schedule_minutes:
        origin, span = start_elapsed, a.schedule_minutes * 60
        budget = min(budget, span - origin)
    while time.time() - t0 < budget:
        frac = min(1.0, (origin + time.time() - t0) / span) if a.time_schedule else min(1.0, step / a.total_steps)
        lr = a.lr * min(1.0, (step + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))
        for g in opt.param_groups:
            g["lr"] = lr
        loss = fm_loss(model, next(source), rng_t, dev, amp, a.t_grid, a.t_grid_p, a.self_prefix, a.x1_l1,
                       a.self_prefix_chunked)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema, model.parameters()):
                    e.lerp_(p.detach(), 1 - a.ema)
        step += 1
        elapsed = start_elapsed + time.time() - t0
        agg += loss.item()
        nagg += 1
        if step % 25 == 0:
            print(f"step {step} {elapsed / 60:.1f}min lr {lr:.2e} fm_loss {agg / nagg:.4f}", flush=True)
            agg, nagg = 0.0, 0
        if step % a.save_every == 0:
            save()
        if a.eval_every and time.time() - t_eval > a.eval_every * 60:
            print(f"step {step} eval_l1(N=6, whole) {evaluate():.4f}", flush=True)
            t_eval = time.time()
    save()
    if ev is not None:
        print(f"final step {step} eval_l1(N=6, whole) {evaluate():.4f}", flush=True)
    print(f"done step {step} elapsed {elapsed / 60:.1f} min", flush=True)


if __name__ == "__main__":
    main()
