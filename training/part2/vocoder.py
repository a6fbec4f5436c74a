"""Small BigVGAN-style vocoder: normalised 50 Hz mel [B, 80, T] -> 16 kHz waveform [B, T*320].

conv_pre -> 4 x (ConvTranspose upsample, AMP block) -> anti-aliased Snake -> conv_post -> tanh.
AMP block (anti-aliased multi-periodicity): for each dilation d:
    x = x + conv_1(act2(conv_d(act1(x))))
with act = (2x upsample with a Kaiser-windowed sinc FIR) -> Snake -> (low-pass FIR, 2x downsample).
Snake: x + 1/alpha * sin^2(alpha x), alpha per channel (stored as log alpha).
Every conv is 'same' padded and non-causal; the receptive field is small (measured in stream tests), so chunked
vocoding needs only a few frames of overlap.
"""
import math
from dataclasses import dataclass, asdict, field

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def kaiser_sinc(ratio=2, kernel=12):
    """Low-pass FIR for 2x resampling: cutoff 0.5/ratio, transition half-width 0.6/ratio (cycles/sample)."""
    cutoff, half_width = 0.5 / ratio, 0.6 / ratio
    half = kernel // 2
    att = 2.285 * (half - 1) * math.pi * 4 * half_width + 7.95
    if att > 50.0:
        beta = 0.1102 * (att - 8.7)
    elif att >= 21.0:
        beta = 0.5842 * (att - 21) ** 0.4 + 0.07886 * (att - 21.0)
    else:
        beta = 0.0
    win = np.kaiser(kernel, beta)
    tm = np.arange(-half, half) + 0.5 if kernel % 2 == 0 else np.arange(kernel) - half
    h = 2 * cutoff * win * np.sinc(2 * cutoff * tm)
    return (h / h.sum()).astype(np.float32)


class Snake(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.log_alpha = nn.Parameter(torch.zeros(1, ch, 1))

    def forward(self, x):
        a = torch.exp(self.log_alpha)
        return x + torch.sin(a * x) ** 2 / (a + 1e-9)


class AAAct(nn.Module):
    """Anti-aliased Snake: up 2x (zero-stuffing + FIR, replicate padded), Snake, FIR + down 2x."""

    def __init__(self, ch, kernel=12):
        super().__init__()
        self.ch, self.k = ch, kernel
        self.register_buffer("fir", torch.from_numpy(kaiser_sinc(2, kernel)).view(1, 1, -1).repeat(ch, 1, 1),
                             persistent=False)
        h = kaiser_sinc(2, kernel)
        assert kernel == 12
        poly = np.zeros((2, 7), np.float32)
        poly[0, :6] = 2.0 * h[11::-2]                                      # even outputs: h[11], h[9], ... h[1]
        poly[1, 1:] = 2.0 * h[10::-2]                                      # odd outputs: h[10], h[8], ... h[0]
        self.register_buffer("poly", torch.from_numpy(poly).repeat(ch, 1).view(2 * ch, 1, 7), persistent=False)
        self.act = Snake(ch)

    def up_reference(self, x):
        """2x upsampling written as in the description (transposed conv); forward uses the polyphase equivalent."""
        k, C = self.k, self.ch
        pad = k // 2 - 1                                                   # 5
        y = F.pad(x, (pad, pad), mode="replicate")
        y = 2.0 * F.conv_transpose1d(y, self.fir, stride=2, groups=C)      # len 2(N+10-1)+12 = 2N+30
        crop = pad * 2 + (k - 2) // 2                                      # 15
        return y[..., crop:y.shape[-1] - crop]                             # 2N

    def up(self, x):
        """Polyphase form of up_reference (identical output, cheaper in ONNX Runtime): y[2i] = 2 sum_j
        x[i-3+j] h[11-2j], y[2i+1] = 2 sum_j x[i-2+j] h[10-2j] (j = 0..5, x replicate-padded)."""
        B, C, N = x.shape
        xp = F.pad(x, (3, 3), mode="replicate")
        y = F.conv1d(xp, self.poly, groups=C)                              # [B, 2C, N]: (c even, c odd) pairs
        return y.view(B, C, 2, N).transpose(2, 3).reshape(B, C, 2 * N)

    def forward(self, x):
        k, C = self.k, self.ch
        y = self.act(self.up(x))
        y = F.pad(y, (k // 2 - 1, k // 2), mode="replicate")
        return F.conv1d(y, self.fir, stride=2, groups=C)                   # N


class AMPBlock(nn.Module):
    def __init__(self, ch, kernel=3, dilations=(1, 3, 5)):
        super().__init__()
        self.c1 = nn.ModuleList([nn.Conv1d(ch, ch, kernel, dilation=d, padding=d * (kernel - 1) // 2)
                                 for d in dilations])
        self.c2 = nn.ModuleList([nn.Conv1d(ch, ch, kernel, padding=(kernel - 1) // 2) for _ in dilations])
        self.a1 = nn.ModuleList([AAAct(ch) for _ in dilations])
        self.a2 = nn.ModuleList([AAAct(ch) for _ in dilations])

    def forward(self, x):
        for c1, c2, a1, a2 in zip(self.c1, self.c2, self.a1, self.a2):
            x = x + c2(a2(c1(a1(x))))
        return x


@dataclass
class VocoderConfig:
    n_mels: int = 80
    ch0: int = 160
    rates: list = field(default_factory=lambda: [8, 5, 4, 2])
    kernels: list = field(default_factory=lambda: [16, 11, 8, 4])
    dilations: list = field(default_factory=lambda: [[1, 3, 5], [1, 3, 5], [1, 3], [1, 3]])


class Vocoder(nn.Module):
    def __init__(self, c: VocoderConfig):
        super().__init__()
        self.c = c
        self.pre = nn.Conv1d(c.n_mels, c.ch0, 7, padding=3)
        self.ups, self.blocks = nn.ModuleList(), nn.ModuleList()
        ch = c.ch0
        for r, k, dl in zip(c.rates, c.kernels, c.dilations):
            assert (k - r) % 2 == 0
            self.ups.append(nn.ConvTranspose1d(ch, ch // 2, k, stride=r, padding=(k - r) // 2))
            ch //= 2
            self.blocks.append(AMPBlock(ch, 3, tuple(dl)))
        self.act_post = AAAct(ch)
        self.post = nn.Conv1d(ch, 1, 7, padding=3)
        self.hop = int(np.prod(c.rates))

    def forward(self, mel):
        """mel [B, 80, T] (normalised) -> audio [B, T*hop]."""
        x = self.pre(mel)
        for up, blk in zip(self.ups, self.blocks):
            x = blk(up(x))
        x = self.post(self.act_post(x))
        return torch.tanh(x).squeeze(1)


def cfg_dict(c):
    return asdict(c)
