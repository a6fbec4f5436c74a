"""How much of slt's speech can a 12.5 Hz representation carry? Same small regressor, different inputs.

The detokenizer's resynthesis is unintelligible (WER ~100 %) although the vocoder alone is not (copy-synthesis
29.5 / 11.4 %). This probe separates "the units lack the information" from "the DiT has not learned to use it":
a deterministic regressor (12.5 Hz input -> conv stack -> x4 upsampling -> 50 Hz normalised mel, L1 + MSE) is
trained for the same few minutes on each candidate input, and its mels are vocoded by the pack's vocoder and
recognised by pocketsphinx. A regressor predicts the conditional mean (over-smoothed, like the DiT at N = 1), so
its WER is a pessimistic bound on what a generative detokenizer could do with the same input; what matters here
is the ranking of the inputs.

Inputs (all from the pack's encoder on the slt corpus of make_data.py):
  units       the pack's current semantic tokens (units512: the name of this row while they were k-means 512 of
              the final 256-d feature)
  units4096   k-means 4096 of the same feature (a larger codebook, as Kimi's 16384)
  feat        the continuous 256-d feature itself (no quantisation: the upper bound of this encoder's last layer)
  feat+l1     the feature plus layer 1's hidden states (2 x 192, pooled to 12.5 Hz): an earlier, more acoustic layer
  unitsL1_4096 k-means 4096 of [feature ; layer-1 hidden], each part standardised (a joint unit inventory)
  vq1024, vq4096  a learned single-codebook VQ bottleneck on the feature, trained jointly with the regressor for
              reconstruction (straight-through, commitment 0.25, dead codes restarted from the batch): one token per
              80 ms as in the contract, but chosen to keep what the mel needs instead of k-means clusters
  vqL1_1024, vqL1_2048, vqL1_4096  the same learned VQ over [feature ; layer-1 hidden] (any vqL1_<ids>, e.g.
              vqL1_16384, Kimi-Audio's codebook size; vqL1_<ids>d<dim>: code vectors of <dim> instead of 64)
  fsqL1_8x8x8x8  the same input through finite scalar quantisation (4 dimensions of 8 levels: 4,096 ids; any
              fsqL1_<L>x<L>...)
  linL1_64       the same input through the VQ's linear projection to 64 (or any <dim>) dimensions, not quantised
  pvqL1_64x64    the same input through product quantisation: two 32-d slices of 64 codes each (4,096 ids)
  vq25L1_4096    one learned id per 40 ms half instead of per 80 ms (25 Hz; a contract change, measured)
  rvqL1_4096x2   the same input through a two-stage residual VQ (two ids per 80 ms: a contract change, measured)
  mlpL1_1024     the same codebook behind a per-token MLP (2 x 512 GELU) instead of one linear projection
  mlpMelL1_1024  that MLP over [the step's own 8 input mel frames ; feature ; layer-1 hidden]: the encoder is
              voice-invariant by training, so the acoustic detail a detokenizer needs is read from the mel itself;
              still one token per 80 ms with no context beyond the step graph's own inputs (no new cache)
  evqL1_4096     the learned VQ with codes moved by moving averages (EmaVQ: k-means start, restarts only early);
              evqcL1_4096 the same on the unit sphere
  <input>@ctc<w> that input, its code vectors also trained to spell the clip (CTC on characters, weight w)
With --extra-sets l,m the regressor is also measured on fresh sentence sets of fresh_sentences.py (~320 words each).

usage: /usr/bin/python3 training/part2/probe_units.py [--minutes 6] [--threads 1] [--inputs units512,feat,...]
       [--seed 0] [--broad] [--more-splits broad2]
Writes work/part2/eval/probe_units.json under training/.
"""
import argparse
import os
import re
import sys
import tempfile
import time
from collections import deque
from functools import partial

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common2 import DATA2, TRAINING, WORK2, load_json, mel_stats, save_json, vmel_np  # noqa: E402
from evaluate_part2 import OUT, recognize, wer  # noqa: E402
from fresh_sentences import fresh_waves  # noqa: E402
from tokenize_data import assign, kmeans, length_batches  # noqa: E402
from vocoder import Vocoder, VocoderConfig  # noqa: E402
sys.path.insert(0, TRAINING)
from infer import load_encoder  # noqa: E402
from models import CHARS, text_to_chars  # noqa: E402

N_REPLIES = 13
LAYER = 1
N_CHARS = len(CHARS)
N_EVAL = 33             # the evaluation split: 13 replies, then the 20 sentences


def clips(split):
    z = np.load(os.path.join(DATA2, f"slt_{split}.npz"))
    a, o, mel, mo = z["audio"], z["offsets"], z["mel"], z["mel_offsets"]
    return ([a[o[i]:o[i + 1]] for i in range(len(o) - 1)], [mel[mo[i]:mo[i + 1]] for i in range(len(mo) - 1)])


@torch.no_grad()
def encode(enc, waves, bs=32, keep_mel=False):
    """-> per clip: tokens [n], feature [n, 256], layer-LAYER hidden pooled to 12.5 Hz [n, 384], and with keep_mel the
    encoder's own input mel of each token's 80 ms step [n, 8 * 80] (what the step graph receives; else None)."""
    grab = {}
    hook = enc.layers[LAYER].register_forward_hook(lambda m, i, o: grab.__setitem__("h", o))
    out = [None] * len(waves)
    for idx, mel, _ in length_batches(waves, bs):
        r = enc(mel)
        h = grab["h"]
        for b, j in enumerate(idx):
            n = len(waves[j]) // 1280
            out[j] = (r["tokens"][b, :n].long(), r["feat"][b, :n].float(),
                      h[b, :2 * n].reshape(n, -1).float(),
                      mel[b, :8 * n].reshape(n, -1).float().clone() if keep_mel else None)
    hook.remove()
    return out


class LearnedVQ(nn.Module):
    """Euclidean VQ over a projection of the input; returns (quantised, ids, loss)."""

    def __init__(self, d_in, n_codes, dim=64, hidden=0):
        super().__init__()
        # hidden > 0: a per-token MLP instead of one linear map (still no context across tokens, so it fits the
        # encoder step graph without a new cache)
        self.proj = (nn.Sequential(nn.Linear(d_in, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                   nn.Linear(hidden, dim)) if hidden else nn.Linear(d_in, dim))
        self.dim = dim
        self.codebook = nn.Parameter(torch.randn(n_codes, dim) * 0.1)
        self.register_buffer("usage", torch.ones(n_codes))
        self.started = False

    def forward(self, x):
        z = self.proj(x)
        flat = z.reshape(-1, z.shape[-1])
        if self.training and not self.started:     # start from data points, not from noise
            with torch.no_grad():
                self.codebook.data.copy_(flat[torch.randint(0, len(flat), (len(self.codebook),))])
            self.started = True
        d = (flat * flat).sum(1, keepdim=True) - 2 * flat @ self.codebook.T + (self.codebook ** 2).sum(1)[None]
        ids = d.argmin(1)
        q = self.codebook[ids].view_as(z)
        loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        if self.training:
            with torch.no_grad():
                self.usage.mul_(0.99).index_add_(0, ids, torch.ones_like(ids, dtype=torch.float))
                dead = (self.usage < 0.03).nonzero().flatten()     # unused for ~350 steps
                if len(dead):
                    pick = torch.randint(0, len(flat), (len(dead),))
                    self.codebook.data[dead] = flat[pick].detach()
                    self.usage[dead] = 1.0
        return z + (q - z).detach(), ids.view(z.shape[:-1]), loss

    @classmethod
    def on_projected(cls, dim, n_codes):
        """A codebook over vectors already projected by its owner (a residual stage, a product slice)."""
        vq = cls(dim, n_codes, dim)
        vq.proj = nn.Identity()
        return vq


class EmaVQ(nn.Module):
    """A codebook learned by running k-means statistics instead of gradients, started from the trained projection.

    The gradient-learned LearnedVQ restarts dead codes from the batch all through training, and longer training made
    it worse (rule s18c): its codes keep moving under the regressor. Here (van den Oord et al. 2017's EMA variant):
      - for the first `warm` of the time the projection trains unquantised (as linL1_64) while a bank of its recent
        outputs is kept; then k-means of that bank starts the codebook, so the codes begin where the data is;
      - each code then moves to the exponential moving average of the vectors assigned to it (no optimiser step, no
        weight decay on the codes); only the projection feels the commitment loss;
      - codes unused for ~400 steps are restarted from the batch only until `restart_until`, so the end of training
        sees a fixed inventory the regressor can settle on.
    cosine=True: projections and codes on the unit sphere (the nearest code is the most similar direction)."""

    def __init__(self, d_in, n_codes, dim=64, warm=0.2, restart_until=0.5, decay=0.99, cosine=False, bank=100):
        super().__init__()
        self.proj = nn.Linear(d_in, dim)
        self.dim, self.n_codes, self.warm, self.restart_until = dim, n_codes, warm, restart_until
        self.decay, self.cosine = decay, cosine
        self.register_buffer("codebook", torch.zeros(n_codes, dim))
        self.register_buffer("ema_count", torch.zeros(n_codes))
        self.register_buffer("ema_sum", torch.zeros(n_codes, dim))
        # progress: the fraction of the training time spent, set by train_eval before each step
        self.progress, self.started, self.bank = 0.0, False, deque(maxlen=bank)

    def _start(self, per_batch):
        x = torch.cat(list(self.bank))
        self.bank.clear()
        c = kmeans(x, k=self.n_codes, iters=10)
        if self.cosine:
            c = F.normalize(c, dim=-1)
        self.codebook.copy_(c)
        self.ema_count.fill_(per_batch / self.n_codes)
        self.ema_sum.copy_(c * self.ema_count[:, None])
        self.started = True
        print(f"EmaVQ: k-means start from {len(x)} projections", flush=True)

    def forward(self, x):
        z = self.proj(x)
        if self.cosine:
            z = F.normalize(z, dim=-1)
        flat = z.reshape(-1, self.dim)
        if not self.started:
            if not self.training:
                raise RuntimeError("EmaVQ evaluated before its codebook was started")
            if self.progress < self.warm:                     # continuous phase: the regressor learns on z itself
                self.bank.append(flat.detach().clone())
                return z, torch.zeros(z.shape[:-1], dtype=torch.long), torch.zeros(())
            with torch.no_grad():
                self._start(len(flat))
        ids = assign(flat.detach(), self.codebook)
        q = self.codebook[ids].view_as(z)
        if self.training:
            with torch.no_grad():
                cnt = torch.bincount(ids, minlength=self.n_codes).float()
                s = torch.zeros_like(self.ema_sum).index_add_(0, ids, flat.detach())
                self.ema_count.mul_(self.decay).add_(cnt, alpha=1 - self.decay)
                self.ema_sum.mul_(self.decay).add_(s, alpha=1 - self.decay)
                n = self.ema_count.sum()
                smoothed = (self.ema_count + 1e-5) / (n + self.n_codes * 1e-5) * n    # Laplace: no division by 0
                c = self.ema_sum / smoothed[:, None]
                self.codebook.copy_(F.normalize(c, dim=-1) if self.cosine else c)
                if self.progress < self.restart_until:
                    # expected count per step is len(flat) / n_codes; 0.99^400 ~ 0.018 of it: unused ~400 steps
                    dead = (self.ema_count < 0.02 * len(flat) / self.n_codes).nonzero().flatten()
                    if len(dead):
                        pick = flat[torch.randint(0, len(flat), (len(dead),))].detach()
                        self.codebook[dead] = pick
                        self.ema_count[dead] = len(flat) / self.n_codes
                        self.ema_sum[dead] = pick * self.ema_count[dead, None]
        loss = 0.25 * F.mse_loss(z, q.detach())
        return z + (q - z).detach(), ids.view(z.shape[:-1]), loss


class ResidualVQ(nn.Module):
    """`stages` ids per 80 ms: each stage quantises what the earlier ones left (residual VQ, as in Moshi's Mimi or
    CosyVoice's acoustic codecs); the regressor reads the sum of the chosen code vectors. Measures what two ids per
    frame would carry; one combined id per token is reported (id1 * n_codes + id2)."""

    def __init__(self, d_in, n_codes, stages=2, dim=64):
        super().__init__()
        self.n_codes, self.dim = n_codes, dim
        self.proj = nn.Linear(d_in, dim)
        self.stages = nn.ModuleList([LearnedVQ.on_projected(dim, n_codes) for _ in range(stages)])

    def forward(self, x):
        z = self.proj(x)
        r, total, loss, ids = z, torch.zeros_like(z), torch.zeros(()), torch.zeros(z.shape[:-1], dtype=torch.long)
        for st in self.stages:
            q, i, l = st(r)
            q = q.detach()                      # its value is the chosen code vector
            total, r, loss, ids = total + q, r - q, loss + l, ids * self.n_codes + i
        return z + (total - z).detach(), ids, loss


class ProductVQ(nn.Module):
    """Product quantisation (as wav2vec 2.0's grouped codebooks): the 64-d projection is cut into `parts` slices, each
    quantised by its own small learned codebook (the shipped recipe, LearnedVQ); the id is the mixed-radix number of
    the slice ids, so 2 slices of 64 codes are still 4,096 ids, one per 80 ms (the contract unchanged). Each small
    codebook sees every token, so no code starves as one of 4,096 can."""

    def __init__(self, d_in, n_codes, parts=2, dim=64):
        super().__init__()
        self.n_codes, self.dim = n_codes, dim
        self.proj = nn.Linear(d_in, dim)
        self.parts = nn.ModuleList([LearnedVQ.on_projected(dim // parts, n_codes) for _ in range(parts)])

    def forward(self, x):
        z = self.proj(x)
        qs, ids, loss = [], torch.zeros(z.shape[:-1], dtype=torch.long), torch.zeros(())
        for p, zp in zip(self.parts, z.chunk(len(self.parts), -1)):
            q, i, lp = p(zp)
            qs, ids, loss = qs + [q], ids * self.n_codes + i, loss + lp
        return torch.cat(qs, -1), ids, loss


class HalfTokenVQ(nn.Module):
    """Two ids per 80 ms, one per 40 ms half (25 Hz, as CosyVoice's and Moshi's token rates): each half's input is
    [feature ; that half's layer-1 hidden state] (the encoder's layer 1 runs at 25 Hz), quantised by one shared
    learned codebook (the shipped recipe); the regressor reads both code vectors. A contract change (the decoder would
    emit two audio ids per step), measured to know what the token rate is worth."""

    def __init__(self, d_in, n_codes, d_feat, dim=64):
        super().__init__()
        self.d_feat, self.n_codes, self.dim = d_feat, n_codes, 2 * dim
        self.vq = LearnedVQ(d_feat + (d_in - d_feat) // 2, n_codes, dim)

    def forward(self, x):
        f, h = x[..., :self.d_feat], x[..., self.d_feat:]
        h1, h2 = h.chunk(2, -1)
        (q1, i1, l1), (q2, i2, l2) = self.vq(torch.cat([f, h1], -1)), self.vq(torch.cat([f, h2], -1))
        return torch.cat([q1, q2], -1), i1 * self.n_codes + i2, l1 + l2


class ScalarQuantizer(nn.Module):
    """Finite scalar quantisation (FSQ, Mentzer et al. 2023): a linear map to len(levels) dimensions, each squashed
    into its range and rounded to one of its L levels (straight-through); the id is the mixed-radix number of the
    rounded levels. There is no codebook to learn, so no code can die and no nearest-neighbour search is needed."""

    def __init__(self, d_in, levels):
        super().__init__()
        self.dim = len(levels)
        self.proj = nn.Linear(d_in, len(levels))
        lv = torch.tensor(levels, dtype=torch.float)
        self.register_buffer("levels", lv)
        self.register_buffer("basis", torch.cumprod(torch.tensor([1] + list(levels[:-1])), 0))
        # even L: levels at -L/2 .. L/2 - 1 (the squashed range is shifted by half a level so both ends round in)
        self.register_buffer("offset", (1 - lv % 2) * 0.5)

    def forward(self, x):
        z = self.proj(x)
        half = (self.levels - 1) / 2
        b = torch.tanh(z + torch.atanh(self.offset / half)) * half - self.offset
        q = b + (torch.round(b) - b).detach()
        ids = ((torch.round(b) + torch.div(self.levels, 2, rounding_mode="floor")).long() * self.basis).sum(-1)
        return q / torch.div(self.levels, 2, rounding_mode="floor"), ids, torch.zeros(())


class LinearBottleneck(nn.Module):
    """The VQ's projection without its quantiser: what the linear map to the code dimension alone lets through."""

    def __init__(self, d_in, dim):
        super().__init__()
        self.dim = dim
        self.proj = nn.Linear(d_in, dim)

    def forward(self, x):
        z = self.proj(x)
        return z, torch.zeros(z.shape[:-1], dtype=torch.long), torch.zeros(())


class Regressor(nn.Module):
    def __init__(self, d_in, n_codes=0, width=256, right_context=-1, bottleneck=None):
        super().__init__()
        # right_context >= 0: the 12.5 Hz stack sees only that many tokens ahead (causal convolutions on an input
        # shifted by right_context), like a streaming detokenizer with that much look-ahead; -1: +-16 tokens.
        self.right_context = right_context
        # bottleneck: d_in -> a quantiser (or LinearBottleneck) of output width .dim; built first, right after the
        # seed, so every input's regressor starts from the same draws
        self.vq = bottleneck(d_in) if bottleneck is not None else None
        if self.vq is not None:
            d_in = self.vq.dim
        self.emb = nn.Embedding(n_codes, width) if n_codes else None
        self.inp = nn.Linear(width if n_codes else d_in, width)
        self.low_dil = (1, 2, 4, 1)
        self.low = nn.ModuleList([nn.Conv1d(width, width, 5, dilation=d) for d in self.low_dil])
        self.up = nn.ConvTranspose1d(width, width, 4, stride=4)
        self.high = nn.ModuleList([nn.Conv1d(width, width, 5, padding=2) for _ in range(2)])
        self.out = nn.Conv1d(width, 80, 1)

    def forward(self, x):                       # x [B, T] ids or [B, T, d_in] -> [B, 4T, 80]
        self.vq_loss = torch.zeros(())
        if self.vq is not None:
            x, self.ids, self.vq_loss = self.vq(x)
            self.q = x                          # the (quantised) code vectors, for an auxiliary head
        h = self.inp(self.emb(x) if self.emb is not None else x).transpose(1, 2)
        R, T = self.right_context, h.shape[-1]
        if R > 0:
            h = F.pad(h, (0, R), mode="replicate")
        for c, d in zip(self.low, self.low_dil):          # zero padding: centred, or all on the left when causal
            h = h + c(F.pad(F.gelu(h), (4 * d, 0) if R >= 0 else (2 * d, 2 * d)))
        h = h[..., max(R, 0):max(R, 0) + T]
        h = self.up(F.gelu(h))
        for c in self.high:
            h = h + c(F.gelu(h))
        return self.out(F.gelu(h)).transpose(1, 2)


def train_eval(name, x_tr, x_ev, y_tr, y_ev, n_codes, minutes, seed=0, right_context=-1, bottleneck=None,
               chars_tr=None, ctc_weight=0.0):
    """ctc_weight > 0: the chosen code vectors must also spell the clip (CTC on characters, two slots per 80 ms, one
    linear map per token as in the encoder's own q_ctc head), so the codes keep what tells words apart and not only
    what lowers the mel's L1. chars_tr: per training clip, its character ids."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    d_in = 0 if n_codes else x_tr[0].shape[-1]
    model = Regressor(d_in, n_codes, right_context=right_context, bottleneck=bottleneck)
    ctc_head = nn.Linear(model.vq.dim, 2 * N_CHARS) if ctc_weight else None
    opt = torch.optim.AdamW(list(model.parameters()) + (list(ctc_head.parameters()) if ctc_head else []),
                            lr=2e-3, weight_decay=0.01)
    crop, bs, step, t0 = 48, 16, 0, time.time()
    while time.time() - t0 < minutes * 60:
        frac = (time.time() - t0) / (minutes * 60)
        for g in opt.param_groups:
            g["lr"] = 2e-3 * min(1.0, (step + 1) / 100) * 0.5 * (1 + np.cos(np.pi * frac))
        if isinstance(model.vq, EmaVQ):
            model.vq.progress = frac
        xb, yb, whole = [], [], []
        for j in rng.integers(0, len(x_tr), bs):
            n = len(x_tr[j])
            s = int(rng.integers(0, max(1, n - crop + 1)))
            e = min(n, s + crop)
            xx, yy = x_tr[j][s:e], y_tr[j][4 * s:4 * e]
            pad = crop - (e - s)
            if pad:
                xx = torch.cat([xx, xx[-1:].repeat(pad, *([1] * (xx.dim() - 1)))])
                yy = torch.cat([yy, yy[-1:].repeat(4 * pad, 1)])
            xb.append(xx)
            yb.append(yy)
            if n <= crop:                       # the CTC needs the clip's whole text: (batch row, tokens, clip)
                whole.append((len(xb) - 1, n, int(j)))
        pred = model(torch.stack(xb))
        y = torch.stack(yb)
        loss = (pred - y).abs().mean() + F.mse_loss(pred, y) + model.vq_loss
        if ctc_head is not None and whole:
            b_idx = torch.tensor([w[0] for w in whole])
            logits = ctc_head(model.q[b_idx]).reshape(len(whole), 2 * crop, N_CHARS)
            tgt = [chars_tr[w[2]] for w in whole]
            loss = loss + ctc_weight * F.ctc_loss(
                F.log_softmax(logits, -1).transpose(0, 1), torch.cat(tgt), torch.tensor([2 * w[1] for w in whole]),
                torch.tensor([len(t) for t in tgt]), zero_infinity=True)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
    model.eval()
    used = None
    with torch.no_grad():
        preds = [model(x[None])[0].numpy() for x in x_ev]
        if model.vq is not None and not isinstance(model.vq, LinearBottleneck):
            used = len(set(torch.cat([model.vq(x)[1] for x in x_tr]).tolist()))
    print(f"{name}: {step} steps, last loss {loss.item():.3f}" + (f", codes used {used}" if used else ""), flush=True)
    return preds, step, model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=6)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--inputs", default="units512,units4096,feat,feat+l1,unitsL1_4096,vq4096,vqL1_4096")
    ap.add_argument("--out", default="probe_units.json")
    ap.add_argument("--broad", action="store_true", help="train on the broad slt split too (make_data.py --broad)")
    ap.add_argument("--more-splits", default="",
                    help="further slt splits to train on after train (+ broad), e.g. broad2 "
                         "(make_data.py --broad-extra 2)")
    ap.add_argument("--save-vq", action="store_true",
                    help="keep each learned [feature ; layer-1] codebook (work/part2/units_<input>.pt under training/)")
    ap.add_argument("--extra-sets", default="",
                    help="fresh sentence sets of fresh_sentences.py (e.g. l,m) measured too: flite slt's audio of "
                         "sentences in no training split, ~320 words each against the 20 sentences' 167")
    ap.add_argument("--right-context", type=int, default=-1,
                    help="tokens of look-ahead the regressor may use (causal stack; -1: +-16 tokens, the default)")
    ap.add_argument("--seed", type=int, default=0,
                    help="the regressor's and bottleneck's draws (0: every earlier probe's); another seed prices the "
                         "run-to-run spread of one recipe")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(OUT, exist_ok=True)
    mean, std = mel_stats()
    more = list(filter(None, a.more_splits.split(",")))
    train_splits = ["train"] + (["broad"] if a.broad else []) + more
    w_tr, m_tr = [], []
    for split in train_splits:
        w_b, m_b = clips(split)
        w_tr, m_tr = w_tr + w_b, m_tr + m_b
    w_ev, m_ev = clips("eval")
    chars_tr = [torch.tensor(text_to_chars(m["text"]), dtype=torch.long)
                for split in train_splits for m in load_json(os.path.join(DATA2, f"slt_{split}.json"))]
    assert len(chars_tr) == len(w_tr)
    texts = [m["text"] for m in load_json(os.path.join(DATA2, "slt_eval.json"))]
    assert len(texts) == N_EVAL
    sets = {}       # name -> (first index in w_ev, count): the extra sets ride behind the 33 evaluation clips
    for name in filter(None, a.extra_sets.split(",")):
        sentences, waves = fresh_waves(name)
        sets[name] = (len(w_ev), len(waves))
        w_ev, m_ev, texts = (w_ev + waves, m_ev + [vmel_np(w.astype(np.float32) / 32768.0) for w in waves],
                             texts + list(sentences))
    enc = load_encoder()
    inputs = a.inputs.split(",")
    keep_mel = any(n.startswith("mlpMelL1_") for n in inputs)     # 2.5 KB per token: only when an input reads it
    t0 = time.time()
    e_tr, e_ev = encode(enc, w_tr, keep_mel=keep_mel), encode(enc, w_ev, keep_mel=keep_mel)
    print(f"encoded {len(w_tr)} + {len(w_ev)} clips in {time.time() - t0:.0f}s", flush=True)
    y_tr = [torch.from_numpy((m - mean) / std) for m in m_tr]
    y_ev = [torch.from_numpy((m - mean) / std) for m in m_ev]
    ck = torch.load(os.path.join(TRAINING, "runs", "part2", "vocoder", "recovered.pt"))
    voc = Vocoder(VocoderConfig(**ck["cfg"]))
    voc.load_state_dict(ck["model"])
    voc.eval()

    def vocode(mel_norm):
        with torch.no_grad():
            return voc(torch.from_numpy(mel_norm.astype(np.float32)).T[None])[0].numpy()

    # standardised layer-1 and feature parts for the joint inventory
    f_all = torch.cat([e[1] for e in e_tr])
    h_all = torch.cat([e[2] for e in e_tr])
    fm, fs, hm, hs = f_all.mean(0), f_all.std(0) + 1e-5, h_all.mean(0), h_all.std(0) + 1e-5

    def token_ids(e):
        return e[0]

    def feature(e):
        return e[1]

    def joint(e):
        return torch.cat([(e[1] - fm) / fs, (e[2] - hm) / hs], -1)

    if keep_mel:      # statistics from the first 3,000 clips (~10^5 tokens) spare a second copy of all the mels
        m_all = torch.cat([e[3] for e in e_tr[:3000]])
        mm, ms = m_all.mean(0), m_all.std(0) + 1e-5
        del m_all

    def with_mel(e):
        return torch.cat([(e[3] - mm) / ms, joint(e)], -1)

    res = {"minutes_per_input": a.minutes, "layer": LAYER, "rows": {}}
    with tempfile.TemporaryDirectory() as td:
        ref_copy = [recognize(vocode((m - mean) / std), td) for m in m_ev]
        res["rows"]["copy-synthesis (true mel)"] = {
            "wer_replies": wer(texts[:N_REPLIES], ref_copy[:N_REPLIES]),
            "wer_sentences": wer(texts[N_REPLIES:N_EVAL], ref_copy[N_REPLIES:N_EVAL]),
            **{f"wer_set_{k}": wer(texts[i:i + n], ref_copy[i:i + n]) for k, (i, n) in sets.items()},
            **({"wer_extra_sets": wer(texts[N_EVAL:], ref_copy[N_EVAL:])} if sets else {})}
        print(res["rows"], flush=True)
        for full_name in inputs:
            # <input>@ctc<weight>, e.g. vqL1_4096@ctc0.5: the same input, its codes also trained to spell the clip
            name, _, ctc = full_name.partition("@ctc")
            ctc_weight = float(ctc) if ctc else 0.0
            n_codes, kmeans_codes, bottleneck, src = 0, 0, None, joint   # most inputs read [feature ; layer-1]
            if name.startswith("mlpL1_") or name.startswith("mlpMelL1_"):
                src = joint if name.startswith("mlpL1_") else with_mel
                bottleneck = partial(LearnedVQ, n_codes=int(name.split("_")[1]), hidden=512)
            elif name.startswith("rvqL1_"):          # rvqL1_<ids>x<stages>, e.g. rvqL1_4096x2: two ids per 80 ms
                codes, stages = (int(v) for v in name[6:].split("x"))
                bottleneck = partial(ResidualVQ, n_codes=codes, stages=stages)
            elif name in ("vq1024", "vq4096"):
                src, bottleneck = feature, partial(LearnedVQ, n_codes=int(name[2:]))
            elif name.startswith("vqL1_") and re.fullmatch(r"\d+(d\d+)?", name[5:]):   # vqL1_<ids>[d<code dim>]
                codes, _, dim = name[5:].partition("d")
                bottleneck = partial(LearnedVQ, n_codes=int(codes), dim=int(dim or 64))
            elif re.fullmatch(r"evqc?L1_\d+", name):     # evqL1_<ids>: EMA codebook; evqcL1_: on the sphere
                bottleneck = partial(EmaVQ, n_codes=int(name.split("_")[1]), cosine=name.startswith("evqc"))
            elif re.fullmatch(r"pvqL1_\d+(x\d+)+", name):     # pvqL1_64x64: two slices of 64 codes = 4,096 ids
                sizes = [int(v) for v in name[6:].split("x")]
                assert len(set(sizes)) == 1, "product slices of one size"
                bottleneck = partial(ProductVQ, n_codes=sizes[0], parts=len(sizes))
            elif re.fullmatch(r"vq25L1_\d+", name):       # two ids per 80 ms, one per 40 ms half
                bottleneck = partial(HalfTokenVQ, n_codes=int(name[7:]), d_feat=len(fm))
            elif name.startswith("fsqL1_") and re.fullmatch(r"\d+(x\d+)*", name[6:]):   # fsqL1_8x8x8x8
                bottleneck = partial(ScalarQuantizer, levels=tuple(int(v) for v in name[6:].split("x")))
            elif name.startswith("linL1_") and name[6:].isdigit():    # the projection alone, not quantised
                bottleneck = partial(LinearBottleneck, dim=int(name[6:]))
            elif name in ("units", "units512"):        # the shipped tokens (k-means 512 before session 6)
                src, n_codes = token_ids, enc.c.n_codes
            elif name == "feat":
                src = feature
            elif name in ("units4096", "unitsL1_4096"):
                src, kmeans_codes = (feature if name == "units4096" else joint), 4096
            elif name != "feat+l1":
                raise SystemExit(f"unknown input {name}")
            if ctc_weight and bottleneck is None:
                raise SystemExit(f"{full_name}: @ctc needs an input with a bottleneck (vqL1_, evqL1_, linL1_ ...)")
            x_tr, x_ev = [src(e) for e in e_tr], [src(e) for e in e_ev]
            if kmeans_codes:
                t1 = time.time()
                c = kmeans(torch.cat(x_tr), k=kmeans_codes, iters=15)
                x_tr, x_ev, n_codes = [assign(x, c) for x in x_tr], [assign(x, c) for x in x_ev], kmeans_codes
                print(f"{name}: k-means in {time.time() - t1:.0f}s, codes used "
                      f"{len(set(torch.cat(x_tr).tolist()))}", flush=True)
            preds, steps, model = train_eval(full_name, x_tr, x_ev, y_tr, y_ev, n_codes, a.minutes,
                                             seed=a.seed, right_context=a.right_context, bottleneck=bottleneck,
                                             chars_tr=chars_tr, ctc_weight=ctc_weight)
            if a.save_vq and name.startswith(("vqL1_", "evqL1_", "evqcL1_")):
                # the learned unit inventory itself: models.ReconstructionQuantizer installs it in the encoder
                torch.save({"input": name, "layer": LAYER, "feat_mean": fm, "feat_std": fs, "hidden_mean": hm,
                            "hidden_std": hs, "proj_weight": model.vq.proj.weight.detach().clone(),
                            "proj_bias": model.vq.proj.bias.detach().clone(),
                            "codebook": model.vq.codebook.detach().clone(), "steps": steps,
                            "minutes": a.minutes, "ctc_weight": ctc_weight},
                           os.path.join(WORK2, f"units_{full_name}{f'_seed{a.seed}' if a.seed else ''}"
                                               f"{''.join('+' + m for m in more)}.pt"))
            hyps = [recognize(vocode(p), td) for p in preds]
            l1 = [float(np.abs((p * std + mean) - m).mean()) for p, m in zip(preds, m_ev)]
            row = {"steps": steps, "seed": a.seed, "right_context": a.right_context, "train_clips": len(x_tr),
                   "mel_l1_replies": float(np.mean(l1[:N_REPLIES])),
                   "mel_l1_sentences": float(np.mean(l1[N_REPLIES:N_EVAL])),
                   **({"mel_l1_extra_sets": float(np.mean(l1[N_EVAL:]))} if sets else {}),
                   "wer_replies": wer(texts[:N_REPLIES], hyps[:N_REPLIES]),
                   "wer_sentences": wer(texts[N_REPLIES:N_EVAL], hyps[N_REPLIES:N_EVAL]),
                   **{f"wer_set_{k}": wer(texts[i:i + n], hyps[i:i + n]) for k, (i, n) in sets.items()},
                   **({"wer_extra_sets": wer(texts[N_EVAL:], hyps[N_EVAL:])} if sets else {}),
                   "example": {"ref": texts[1], "hyp": hyps[1]}}
            res["rows"][full_name] = row
            print(full_name, row, flush=True)
            save_json(os.path.join(OUT, a.out), res)


if __name__ == "__main__":
    main()
