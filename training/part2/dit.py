"""Flow-matching detokenizer: a small DiT (adaLN-Zero timestep conditioning, RoPE self-attention) that predicts
the velocity of the rectified-flow path x_t = (1 - t) * noise + t * mel, conditioned on 50 Hz semantic tokens
(12.5 Hz codes repeated x4). Kimi-Audio's DiTPrefix design in small.

Two paths:
* forward_train: one sequence [prefix | window]. Prefix frames are CLEAN mel at t = 0.999 with a block-causal
  mask over their emitted segments (exactly what the streaming cache-writing calls compute); window frames are
  noisy x_t at the sampled t and attend to the whole prefix and the whole window.
* step: the exported graph. x_t [1, T, 80], tokens [1, T], t [1], start_frame [1], cache_k/cache_v
  [layers, heads, P, head_dim] -> velocity [1, T, 80], k_chunk/v_chunk [layers, heads, T, head_dim] (this call's
  own keys (RoPE applied) and values; the caller appends them to the cache only on the t = 0.999 call).
"""
import math
import os
import sys
from dataclasses import dataclass, asdict

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tokens import CODEBOOK_SIZE  # noqa: E402

T_CLEAN = 0.999


@dataclass
class DiTConfig:
    n_mels: int = 80
    n_codes: int = CODEBOOK_SIZE
    d_model: int = 192
    n_layers: int = 6
    n_heads: int = 4
    d_ff: int = 512
    d_cond: int = 64          # timestep conditioning width fed to every adaLN modulation
    t_freq: int = 256
    rope_theta: float = 10000.0

    @property
    def head_dim(self):
        return self.d_model // self.n_heads


def rope_cos_sin(pos, dim, theta):
    """pos float [T] -> cos, sin [T, dim] (rotate-half layout)."""
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float32, device=pos.device) / dim))
    ang = pos.to(torch.float32)[:, None] * inv[None, :]
    ang = torch.cat([ang, ang], dim=-1)
    return torch.cos(ang), torch.sin(ang)


def apply_rope(x, cos, sin):
    d = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., d:], x[..., :d]], dim=-1) * sin


def timestep_embedding(t, dim):
    """t [N] in [0,1] -> [N, dim] sinusoid of 1000 t (half cos, half sin)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    a = (t.to(torch.float32) * 1000.0)[:, None] * freqs[None, :]
    return torch.cat([torch.cos(a), torch.sin(a)], dim=-1)


def layer_norm(x, eps=1e-6):
    """LayerNorm without affine parameters (written out: the torch 1.13 exporter mishandles weight-less LN)."""
    xc = x - x.mean(-1, keepdim=True)
    return xc * torch.rsqrt((xc * xc).mean(-1, keepdim=True) + eps)


def modulate(x, shift, scale):
    return x * (1 + scale) + shift


class DiTBlock(nn.Module):
    def __init__(self, c: DiTConfig):
        super().__init__()
        self.c = c
        D = c.d_model
        self.qkv = nn.Linear(D, 3 * D)
        self.o = nn.Linear(D, D)
        self.ff1 = nn.Linear(D, c.d_ff)
        self.ff2 = nn.Linear(c.d_ff, D)
        self.ada = nn.Linear(c.d_cond, 6 * D)
        nn.init.zeros_(self.ada.weight)
        nn.init.zeros_(self.ada.bias)

    def mods(self, cond):
        return self.ada(F.silu(cond)).chunk(6, dim=-1)

    def qkv_of(self, h, cos, sin):
        B, T, D = h.shape
        H, hd = self.c.n_heads, self.c.head_dim
        q, k, v = self.qkv(h).view(B, T, 3, H, hd).permute(2, 0, 3, 1, 4)
        return apply_rope(q, cos, sin), apply_rope(k, cos, sin), v

    def finish(self, x, att, gate1, shift2, scale2, gate2):
        B, H, T, hd = att.shape
        x = x + gate1 * self.o(att.transpose(1, 2).reshape(B, T, H * hd))
        h = modulate(layer_norm(x), shift2, scale2)
        return x + gate2 * self.ff2(F.gelu(self.ff1(h), approximate="tanh"))

    def forward(self, x, mods, cos, sin, mask):
        shift1, scale1, gate1, shift2, scale2, gate2 = mods
        h = modulate(layer_norm(x), shift1, scale1)
        q, k, v = self.qkv_of(h, cos, sin)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(self.c.head_dim)
        s = s.masked_fill(~mask[:, None], -1e9)
        return self.finish(x, torch.softmax(s, dim=-1) @ v, gate1, shift2, scale2, gate2)

    def step(self, x, mods, cos, sin, ck, cv):
        shift1, scale1, gate1, shift2, scale2, gate2 = mods
        h = modulate(layer_norm(x), shift1, scale1)
        q, k, v = self.qkv_of(h, cos, sin)                      # [1, H, T, hd]
        kk = torch.cat([ck.unsqueeze(0), k], dim=2)
        vv = torch.cat([cv.unsqueeze(0), v], dim=2)
        s = (q @ kk.transpose(-1, -2)) / math.sqrt(self.c.head_dim)
        return self.finish(x, torch.softmax(s, dim=-1) @ vv, gate1, shift2, scale2, gate2), k[0], v[0]


class DiT(nn.Module):
    def __init__(self, c: DiTConfig):
        super().__init__()
        self.c = c
        D = c.d_model
        self.inp = nn.Linear(c.n_mels, D)
        self.tok = nn.Embedding(c.n_codes, D)
        nn.init.normal_(self.tok.weight, std=0.02)
        self.t_mlp = nn.Sequential(nn.Linear(c.t_freq, D), nn.SiLU(), nn.Linear(D, c.d_cond))
        self.blocks = nn.ModuleList([DiTBlock(c) for _ in range(c.n_layers)])
        self.final_ada = nn.Linear(c.d_cond, 2 * D)
        self.out = nn.Linear(D, c.n_mels)
        for m in (self.final_ada, self.out):
            nn.init.zeros_(m.weight)
            nn.init.zeros_(m.bias)

    def cond(self, t):
        return self.t_mlp(timestep_embedding(t, self.c.t_freq))

    def head(self, x, cond):
        shift, scale = self.final_ada(F.silu(cond)).chunk(2, dim=-1)
        return self.out(modulate(layer_norm(x), shift, scale))

    def forward_train(self, x, tokens, pos, is_prefix, t, mask):
        """x [B,T,80] (prefix clean, window noisy), tokens [B,T] (50 Hz), pos [T] absolute frame positions (same
        for the batch: every item starts at frame 0), is_prefix [B,T] bool, t [B] window timestep,
        mask [B,T,T] bool (query, key). Returns velocity [B,T,80]."""
        B = x.shape[0]
        c_w = self.cond(t)[:, None, :]                                        # [B,1,dc]
        c_p = self.cond(torch.full((1,), T_CLEAN, device=x.device))[:, None, :]          # [1,1,dc]
        sel = is_prefix.unsqueeze(-1).to(x.dtype)
        cos, sin = rope_cos_sin(pos, self.c.head_dim, self.c.rope_theta)
        h = self.inp(x) + self.tok(tokens)
        for blk in self.blocks:
            mw, mp = blk.mods(c_w), blk.mods(c_p)
            mods = [a + sel * (b - a) for a, b in zip(mw, mp)]
            h = blk(h, mods, cos, sin, mask)
        fw = self.final_ada(F.silu(c_w)).chunk(2, dim=-1)
        fp = self.final_ada(F.silu(c_p)).chunk(2, dim=-1)
        shift, scale = [a + sel * (b - a) for a, b in zip(fw, fp)]
        return self.out(modulate(layer_norm(h), shift, scale))

    def step(self, x_t, tokens, t, start_frame, cache_k, cache_v):
        """Streaming step (exported). See module doc."""
        T = x_t.shape[1]
        pos = torch.arange(T, dtype=torch.float32) + start_frame.to(torch.float32)
        cos, sin = rope_cos_sin(pos, self.c.head_dim, self.c.rope_theta)
        cond = self.cond(t)[:, None, :]                                       # [1,1,dc]
        h = self.inp(x_t) + self.tok(tokens)
        ks, vs = [], []
        for i, blk in enumerate(self.blocks):
            h, k, v = blk.step(h, blk.mods(cond), cos, sin, cache_k[i], cache_v[i])
            ks.append(k)
            vs.append(v)
        return self.head(h, cond), torch.stack(ks), torch.stack(vs)


class CodebookEmbedding(nn.Module):
    """Token embedding computed from the semantic codebook's own 64-d code vectors through a small MLP (training only).

    A plain table learns each of the 4,096 rows from that id's occurrences alone, so ids that are rare in the slt
    corpus keep weak rows, and unseen sentences are full of them. Here every row is a function of its code vector,
    so what is learned from frequent ids carries over to their neighbours in code space (the probe regressor reads
    code vectors the same way, REPORT-part2.md §0k). `bake` turns it back into the plain table the exported graph
    and every other tool use: same graph, same contract."""

    def __init__(self, codebook, d_model, hidden=256):
        super().__init__()
        self.register_buffer("codebook", codebook.float().clone())
        self.mlp = nn.Sequential(nn.Linear(codebook.shape[1], hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def forward(self, ids):
        return self.mlp(self.codebook[ids])

    @torch.no_grad()
    def bake(self):
        return self.mlp(self.codebook)


def baked_state(state):
    """A state dict with CodebookEmbedding entries ("tok.codebook", "tok.mlp.*") -> the plain DiT's ("tok.weight")."""
    if "tok.codebook" not in state:
        return state
    mlp = nn.Sequential(nn.Linear(state["tok.codebook"].shape[1], state["tok.mlp.0.weight"].shape[0]), nn.GELU(),
                        nn.Linear(state["tok.mlp.0.weight"].shape[0], state["tok.mlp.2.weight"].shape[0]))
    mlp.load_state_dict({k[len("tok.mlp."):]: v.float() for k, v in state.items() if k.startswith("tok.mlp.")})
    out = {k: v for k, v in state.items() if not k.startswith("tok.")}
    with torch.no_grad():
        out["tok.weight"] = mlp(state["tok.codebook"].float())
    return out


def count_params(m):
    return sum(p.numel() for p in m.parameters())


def cfg_dict(c):
    return asdict(c)
