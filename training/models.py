"""Streaming semantic tokenizer (encoder + VQ) and the dual-head (Kimi-Audio layout) decoder.

Both models have a "whole sequence" path (training) and an incremental path with explicit caches
(used for ONNX export). The incremental paths must reproduce the whole-sequence outputs.
"""
import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

CHARS = ["<blank>", " "] + [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["'"]
CHAR_ID = {c: i for i, c in enumerate(CHARS)}


def text_to_chars(text):
    return [CHAR_ID[c] for c in text.lower() if c in CHAR_ID and c != "<blank>"]


def ctc_greedy(ids):
    out, prev = [], 0
    for i in ids:
        if i != prev and i != 0:
            out.append(CHARS[i])
        prev = i
    return "".join(out)


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_cos_sin(positions, head_dim, theta):
    """positions: float [T] -> cos, sin [T, head_dim] (rotate-half layout)."""
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    ang = positions.to(torch.float32)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    # x [B, H, T, D]; cos/sin [T, D]
    d = x.shape[-1] // 2
    rot = torch.cat([-x[..., d:], x[..., :d]], dim=-1)
    return x * cos + rot * sin


# ================================================================================================
# Encoder (semantic tokenizer)
# ================================================================================================
@dataclass
class EncoderConfig:
    n_mels: int = 80
    stack: int = 4              # mel frames stacked -> 25 Hz
    chunk_mel: int = 8          # mel frames per streaming step (80 ms)
    d_model: int = 192
    n_layers: int = 4
    n_heads: int = 4
    d_ff: int = 768
    feat_dim: int = 256         # continuous 12.5 Hz feature (pre-quantisation)
    n_codes: int = 512
    code_dim: int = 32
    n_chars: int = len(CHARS)
    rope_theta: float = 10000.0
    frontend: str = "linear"    # "linear": frame stacking; "conv": 2-D conv subsampling inside each 80 ms chunk
    conv_channels: int = 32

    @property
    def head_dim(self):
        return self.d_model // self.n_heads

    @property
    def frames_per_chunk(self):
        return self.chunk_mel // self.stack    # 2 frames at 25 Hz


class EncLayer(nn.Module):
    def __init__(self, c: EncoderConfig):
        super().__init__()
        self.c = c
        self.n1 = RMSNorm(c.d_model)
        self.qkv = nn.Linear(c.d_model, 3 * c.d_model)
        self.o = nn.Linear(c.d_model, c.d_model)
        self.n2 = RMSNorm(c.d_model)
        self.ff1 = nn.Linear(c.d_model, c.d_ff)
        self.ff2 = nn.Linear(c.d_ff, c.d_model)

    def _qkv(self, x, cos, sin):
        B, T, _ = x.shape
        H, D = self.c.n_heads, self.c.head_dim
        q, k, v = self.qkv(self.n1(x)).view(B, T, 3, H, D).permute(2, 0, 3, 1, 4)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def _out(self, x, att):
        B, H, T, D = att.shape
        x = x + self.o(att.transpose(1, 2).reshape(B, T, H * D))
        return x + self.ff2(F.gelu(self.ff1(self.n2(x))))

    def forward(self, x, cos, sin, mask):
        q, k, v = self._qkv(x, cos, sin)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.c.head_dim)
        s = s.masked_fill(~mask, -1e9)
        return self._out(x, torch.softmax(s, dim=-1) @ v)

    def step(self, x, cos, sin, pk, pv):
        q, k, v = self._qkv(x, cos, sin)
        k = torch.cat([pk, k[0]], dim=1)
        v = torch.cat([pv, v[0]], dim=1)
        s = (q @ k.unsqueeze(0).transpose(-1, -2)) / math.sqrt(self.c.head_dim)   # no mask inside a chunk
        return self._out(x, torch.softmax(s, dim=-1) @ v.unsqueeze(0)), k, v


class VectorQuantizer(nn.Module):
    """Cosine-similarity codebook in a low-dimensional projected space, straight-through gradients,
    commitment loss and dead-code restarts."""

    def __init__(self, in_dim, n_codes, code_dim):
        super().__init__()
        self.proj = nn.Linear(in_dim, code_dim)
        self.codebook = nn.Parameter(torch.randn(n_codes, code_dim))
        self.register_buffer("usage", torch.ones(n_codes))

    def forward(self, x, hidden=None):
        z = F.normalize(self.proj(x), dim=-1)
        cb = F.normalize(self.codebook, dim=-1)
        idx = torch.argmax(z @ cb.t(), dim=-1)
        q = cb[idx]
        loss = F.mse_loss(q, z.detach()) + 0.25 * F.mse_loss(z, q.detach())
        return idx, z + (q - z).detach(), loss, z

    @torch.no_grad()
    def update_usage(self, idx, z_flat):
        counts = torch.bincount(idx.flatten(), minlength=self.usage.numel()).float()
        self.usage.mul_(0.99).add_(counts, alpha=0.01)
        dead = (self.usage < 1e-3).nonzero().flatten()
        if len(dead) > 0 and len(z_flat) > 0:
            pick = z_flat[torch.randint(0, len(z_flat), (len(dead),))]
            self.codebook.data[dead] = pick + 0.01 * torch.randn_like(pick)
            self.usage[dead] = 1.0
        return len(dead)


class KMeansQuantizer(nn.Module):
    """Nearest-centroid (Euclidean) quantiser over the continuous 12.5 Hz feature: HuBERT-style k-means units.

    Replaces the learned cosine VQ after training, because that codebook collapsed to 2-4 live codes (the CTC on
    the quantised stream never left its plateau). The centroids come from k-means over the trained encoder's
    features (training/part2/tokenize_data.py --kmeans); argmin ||x - c||^2 = argmin(||c||^2 - 2 x.c), so the
    exported graph needs one MatMul and one ArgMin and keeps the encoder step contract unchanged."""

    def __init__(self, centroids):
        super().__init__()
        self.register_buffer("centroids", centroids.float().clone())
        self.register_buffer("half_norm", 0.5 * (self.centroids ** 2).sum(-1))

    def forward(self, x, hidden=None):
        idx = torch.argmin(self.half_norm - x @ self.centroids.t(), dim=-1)
        return idx, None, torch.zeros(()), x


class ReconstructionQuantizer(nn.Module):
    """The demo pack's semantic tokens: a unit inventory learned for reconstruction over [final 12.5 Hz feature ;
    hidden states of an earlier encoder layer] (learned by training/part2/probe_units.py --save-vq, folded and
    installed by training/part2/tokenize_data.py --units).

    k-means of the CTC-trained feature kept the words for part 1 but not what the mel needs (resynthesis WER ~100 %,
    training/REPORT-part2.md §0b); layer 1 is more acoustic, and a codebook trained with a mel regressor through a
    straight-through bottleneck keeps far more of it at one token per 80 ms. The standardisation of both parts is
    folded into the projection, so the graph is Concat -> MatMul -> nearest code (one MatMul and one ArgMin).
    Every quantiser takes (feature, hidden); only this one reads the hidden states (of layer `self.layer`)."""

    def __init__(self, weight, bias, codebook, layer):
        super().__init__()
        self.layer = int(layer)
        self.register_buffer("weight", weight.float().clone())      # [code_dim, feat_dim + 2 * d_model]
        self.register_buffer("bias", bias.float().clone())
        self.register_buffer("codebook", codebook.float().clone())  # [n_codes, code_dim]
        self.register_buffer("half_norm", 0.5 * (self.codebook ** 2).sum(-1))

    @staticmethod
    def fold(feat_mean, feat_std, hidden_mean, hidden_std, proj_weight, proj_bias):
        """W ((x - m) / s) + b == (W / s) x + (b - W (m / s))."""
        m, s = torch.cat([feat_mean, hidden_mean]), torch.cat([feat_std, hidden_std])
        w = proj_weight / s[None, :]
        return w, proj_bias - w @ m

    def forward(self, x, hidden=None):
        z = torch.cat([x, hidden], dim=-1) @ self.weight.t() + self.bias
        idx = torch.argmin(self.half_norm - z @ self.codebook.t(), dim=-1)
        return idx, None, torch.zeros(()), x


class StreamingEncoder(nn.Module):
    def __init__(self, c: EncoderConfig):
        super().__init__()
        self.c = c
        if c.frontend == "conv":
            # Conv2d subsampling over (time, mel) of ONE chunk at a time (zero padding at the chunk edges), so
            # streaming needs no extra cache: 8 x 80 -> 4 x 40 -> 2 x 20 (x channels) -> Linear -> d_model.
            ch = c.conv_channels
            self.conv = nn.Sequential(nn.Conv2d(1, ch, 3, stride=2, padding=1), nn.GELU(),
                                      nn.Conv2d(ch, ch, 3, stride=2, padding=1), nn.GELU())
            self.inp = nn.Sequential(nn.Linear(ch * (c.n_mels // 4), c.d_model), nn.GELU(),
                                     nn.Linear(c.d_model, c.d_model))
        else:
            self.inp = nn.Sequential(nn.Linear(c.n_mels * c.stack, c.d_model), nn.GELU(),
                                     nn.Linear(c.d_model, c.d_model))
        self.layers = nn.ModuleList([EncLayer(c) for _ in range(c.n_layers)])
        self.norm = RMSNorm(c.d_model)
        self.ctc = nn.Linear(c.d_model, c.n_chars)
        self.pool = nn.Linear(2 * c.d_model, c.feat_dim)
        self.vq = VectorQuantizer(c.feat_dim, c.n_codes, c.code_dim)
        self.q_ctc = nn.Linear(c.code_dim, 2 * c.n_chars)     # CTC on the quantised 12.5 Hz stream

    def install_codebook(self, centroids):
        """Switch token assignment to k-means units (see KMeansQuantizer); continuous features are unchanged."""
        self.vq = KMeansQuantizer(centroids)
        self.c = replace(self.c, n_codes=int(centroids.shape[0]))
        return self

    def install_units(self, weight, bias, codebook, layer):
        """Switch token assignment to the reconstruction-trained units (see ReconstructionQuantizer)."""
        self.vq = ReconstructionQuantizer(weight, bias, codebook, layer)
        self.c = replace(self.c, n_codes=int(codebook.shape[0]))
        return self

    def _unit_input(self, x):
        """Hidden states [B, T25, D] of the layer the units read -> [B, T12, 2D] (two 25 Hz frames per token)."""
        B, T, D = x.shape
        return x.reshape(B, T // 2, 2 * D)

    def _front(self, mel):
        B, T, M = mel.shape
        c = self.c
        if c.frontend == "conv":
            n = T // c.chunk_mel
            x = self.conv(mel.reshape(B * n, 1, c.chunk_mel, M))            # [B*n, ch, 2, M/4]
            x = x.permute(0, 2, 1, 3).reshape(B, n * c.frames_per_chunk, -1)   # [B, T/4, ch*M/4]
            return self.inp(x)
        return self.inp(mel.reshape(B, T // c.stack, M * c.stack))

    def _heads(self, h):
        B, T, D = h.shape
        hn = self.norm(h)
        ctc_logits = self.ctc(hn)
        feat = self.pool(hn.reshape(B, T // 2, 2 * D))
        return hn, ctc_logits, feat

    def forward(self, mel):
        """mel [B, T100, 80] (T100 multiple of 8) -> dict of whole-utterance outputs."""
        x = self._front(mel)
        T = x.shape[1]
        pos = torch.arange(T)
        cos, sin = rope_cos_sin(pos, self.c.head_dim, self.c.rope_theta)
        blk = pos // self.c.frames_per_chunk
        mask = (blk[None, :] <= blk[:, None])[None, None]
        unit_layer = getattr(self.vq, "layer", None)
        hidden = None
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask)
            if i == unit_layer:
                hidden = self._unit_input(x)
        _, ctc_logits, feat = self._heads(x)
        idx, q, vq_loss, z = self.vq(feat, hidden)
        q_ctc = None
        if q is not None:
            B, T12, _ = q.shape
            q_ctc = self.q_ctc(q).reshape(B, T12 * 2, self.c.n_chars)
        return {"ctc_logits": ctc_logits, "feat": feat, "tokens": idx, "q_ctc_logits": q_ctc,
                "vq_loss": vq_loss, "z": z}

    def step(self, mel, cache_k, cache_v):
        """One 80 ms chunk. mel [1, 8, 80]; cache_k/v [L, H, P, Dh] -> token [1], feature [1, F],
        ctc_ids [2], new caches [L, H, P+2, Dh]."""
        x = self._front(mel)
        P = cache_k.shape[2]
        pos = torch.arange(x.shape[1]) + P
        cos, sin = rope_cos_sin(pos, self.c.head_dim, self.c.rope_theta)
        ks, vs = [], []
        unit_layer = getattr(self.vq, "layer", None)
        hidden = None
        for i, layer in enumerate(self.layers):
            x, k, v = layer.step(x, cos, sin, cache_k[i], cache_v[i])
            ks.append(k)
            vs.append(v)
            if i == unit_layer:
                hidden = self._unit_input(x)
        _, ctc_logits, feat = self._heads(x)
        idx, _, _, _ = self.vq(feat, hidden)
        return idx[0], feat[0], torch.argmax(ctc_logits[0], dim=-1), torch.stack(ks), torch.stack(vs)


# ================================================================================================
# Dual-head decoder
# ================================================================================================
@dataclass
class DecoderConfig:
    vocab_size: int = 1024
    hidden: int = 256
    n_layers: int = 4            # shared + text layers
    audio_branch_layer_index: int = 2   # output of this layer feeds the audio layers
    n_audio_layers: int = 2
    n_heads: int = 4
    n_kv_heads: int = 2
    d_ff: int = 512
    feat_dim: int = 256
    rope_theta: float = 10000.0
    max_positions: int = 2048

    @property
    def head_dim(self):
        return self.hidden // self.n_heads


class DecLayer(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.c = c
        H, KV, D = c.n_heads, c.n_kv_heads, c.head_dim
        self.n1 = RMSNorm(c.hidden)
        self.q = nn.Linear(c.hidden, H * D, bias=True)
        self.k = nn.Linear(c.hidden, KV * D, bias=True)
        self.v = nn.Linear(c.hidden, KV * D, bias=True)
        self.o = nn.Linear(H * D, c.hidden, bias=False)
        self.n2 = RMSNorm(c.hidden)
        self.gate = nn.Linear(c.hidden, c.d_ff, bias=False)
        self.up = nn.Linear(c.hidden, c.d_ff, bias=False)
        self.down = nn.Linear(c.d_ff, c.hidden, bias=False)

    def forward(self, x, cos, sin, mask, pk=None, pv=None):
        """x [B,T,H]; pk/pv [B, KV, P, D] or None; mask [T, P+T] bool -> x, k_all, v_all."""
        B, T, _ = x.shape
        c = self.c
        H, KV, D = c.n_heads, c.n_kv_heads, c.head_dim
        h = self.n1(x)
        q = apply_rope(self.q(h).view(B, T, H, D).transpose(1, 2), cos, sin)
        k = apply_rope(self.k(h).view(B, T, KV, D).transpose(1, 2), cos, sin)
        v = self.v(h).view(B, T, KV, D).transpose(1, 2)
        if pk is not None:
            k = torch.cat([pk, k], dim=2)
            v = torch.cat([pv, v], dim=2)
        S = k.shape[2]
        rep = H // KV
        kk = k[:, :, None].expand(B, KV, rep, S, D).reshape(B, H, S, D)
        vv = v[:, :, None].expand(B, KV, rep, S, D).reshape(B, H, S, D)
        s = (q @ kk.transpose(-1, -2)) / math.sqrt(D)
        s = s.masked_fill(~mask, -1e9)
        att = (torch.softmax(s, dim=-1) @ vv).transpose(1, 2).reshape(B, T, H * D)
        x = x + self.o(att)
        h = self.n2(x)
        x = x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x, k, v


class DualHeadDecoder(nn.Module):
    def __init__(self, c: DecoderConfig):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c.vocab_size, c.hidden)
        self.adaptor = nn.Sequential(nn.Linear(c.feat_dim, c.hidden), nn.SiLU(), nn.Linear(c.hidden, c.hidden),
                                     nn.LayerNorm(c.hidden))
        self.layers = nn.ModuleList([DecLayer(c) for _ in range(c.n_layers)])
        self.audio_layers = nn.ModuleList([DecLayer(c) for _ in range(c.n_audio_layers)])
        self.norm = RMSNorm(c.hidden)
        self.audio_norm = RMSNorm(c.hidden)
        self.text_head = nn.Linear(c.hidden, c.vocab_size, bias=False)
        self.audio_head = nn.Linear(c.hidden, c.vocab_size, bias=False)
        nn.init.normal_(self.embed.weight, std=0.02)

    @property
    def n_cache(self):
        return self.c.n_layers + self.c.n_audio_layers

    def embed_inputs(self, text_ids, audio_ids, features, feature_mask):
        ea = self.embed(audio_ids)
        cont = (ea + self.adaptor(features)) * math.sqrt(2.0)
        m = feature_mask.unsqueeze(-1)
        return self.embed(text_ids) + ea + m * (cont - ea)

    def forward(self, text_ids, audio_ids, features, feature_mask, past=None, all_logits=False):
        """text_ids/audio_ids [B,T] int64, features [B,T,F], feature_mask [B,T] float,
        past: list of (k, v) per cache layer (len n_cache) or None.
        Returns text_logits, audio_logits ([B,T,V] if all_logits else [B,V] of the last position), presents."""
        x = self.embed_inputs(text_ids, audio_ids, features, feature_mask)
        T = x.shape[1]
        P = 0 if past is None else past[0][0].shape[2]
        qpos = torch.arange(T) + P
        kpos = torch.arange(T + P)
        mask = kpos[None, :] <= qpos[:, None]
        cos, sin = rope_cos_sin(qpos, self.c.head_dim, self.c.rope_theta)
        presents = []
        branch = None
        for i, layer in enumerate(self.layers):
            pk, pv = (None, None) if past is None else past[i]
            x, k, v = layer(x, cos, sin, mask, pk, pv)
            presents.append((k, v))
            if i == self.c.audio_branch_layer_index:
                branch = x
        a = branch
        for j, layer in enumerate(self.audio_layers):
            pk, pv = (None, None) if past is None else past[self.c.n_layers + j]
            a, k, v = layer(a, cos, sin, mask, pk, pv)
            presents.append((k, v))
        if not all_logits:
            x = x[:, -1]
            a = a[:, -1]
        return self.text_head(self.norm(x)), self.audio_head(self.audio_norm(a)), presents


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def cfg_dict(c):
    return asdict(c)
