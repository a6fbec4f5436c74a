"""Reference streaming algorithm of part 2 (what the C# engine implements; see docs/model-pack-part2.md):
semantic codes (12.5 Hz, arriving one by one) -> chunked flow-matching detokenizer with look-ahead and a prefix
KV cache -> normalised 50 Hz mel chunks -> chunked vocoder with overlap and raised-cosine cross-fade -> audio.

The graph calls go through two callables so the same code drives torch modules or ONNX Runtime sessions:
  dit_step(x_t [1,T,80] f32, tokens [1,T] i64, t [1] f32, start_frame [1] i64, cache_k, cache_v)
      -> (velocity [1,T,80], k_chunk [L,H,T,hd], v_chunk [L,H,T,hd])
  vocode(mel [1,T,80] f32) -> audio [1, T*320]
"""
import numpy as np

from common2 import UPSAMPLE, VHOP, noise_frames

SCHEDULE = {
    "first_chunk_tokens": 4,
    "chunk_tokens": 8,
    "lookahead_tokens": 3,
    "euler_steps": 1,      # chosen on 20 fresh sentences in session 7 (REPORT-part2 §0d); 2 in session 6, 6 before
    "t_clean": 0.999,
    "max_cache_frames": 750,
    "vocoder_overlap_frames": 4,
    "vocoder_lookahead_frames": 4,
    "vocoder_left_context_frames": 8,
}


def plan_chunks(n_tokens, sched=SCHEDULE):
    """Chunk plan for a reply of n_tokens codes when ALL codes are known (the live engine produces the same plan
    as codes arrive: a chunk is run as soon as codes up to its window end exist, or the reply has ended).
    Returns [(emit_start, emit_end, window_end)] in tokens."""
    out, s, i = [], 0, 0
    F, C, LA = sched["first_chunk_tokens"], sched["chunk_tokens"], sched["lookahead_tokens"]
    while s < n_tokens:
        size = F if i == 0 else C
        if n_tokens - s < size + LA:
            out.append((s, n_tokens, n_tokens))          # final chunk: emits everything left
            break
        out.append((s, s + size, s + size + LA))
        s, i = s + size, i + 1
    return out


class Detokenizer:
    def __init__(self, dit_step, n_layers, n_heads, head_dim, seed, sched=SCHEDULE, trace=None, noise=noise_frames):
        # noise: (seed, first_frame, n_frames) -> [n_frames, 80]; the engine's splitmix64 frames unless a diagnostic
        # swaps them (diagnose_dit.py noise scales them)
        self.step, self.sched, self.seed, self.noise = dit_step, sched, seed, noise
        self.ck = np.zeros((n_layers, n_heads, 0, head_dim), np.float32)
        self.cv = np.zeros_like(self.ck)
        self.cache_start = 0                  # absolute frame index of cache position 0
        self.trace = trace

    def chunk(self, codes, s, e, w):
        """codes: all codes known so far (token rate). Decodes window tokens [s, w), returns mel of [s, e)."""
        N = self.sched["euler_steps"]
        f0, W, E = UPSAMPLE * s, UPSAMPLE * (w - s), UPSAMPLE * (e - s)
        tok = np.repeat(np.asarray(codes[s:w], np.int64), UPSAMPLE)[None]
        x = self.noise(self.seed, f0, W)[None]
        start = np.array([f0], np.int64)
        calls = []
        for i in range(N):
            t = np.array([i / N], np.float32)
            v, _, _ = self.step(x, tok, t, start, self.ck, self.cv)
            if self.trace is not None:
                calls.append({"x_t": x.copy(), "tokens": tok, "t": t, "start_frame": start, "velocity": v})
            x = (x + v * np.float32(1.0 / N)).astype(np.float32)
        mel = x[:, :E]
        tc = np.array([self.sched["t_clean"]], np.float32)
        v, k, vv = self.step(mel, tok[:, :E], tc, start, self.ck, self.cv)
        if self.trace is not None:
            self.trace.append({"emit": [s, e], "window": [s, w], "cache_frames_in": int(self.ck.shape[2]),
                               "cache_k_in": self.ck.copy(), "cache_v_in": self.cv.copy(), "euler": calls,
                               "cache_write": {"x_t": mel, "tokens": tok[:, :E], "t": tc, "start_frame": start,
                                               "k_chunk": k, "v_chunk": vv},
                               "mel": mel[0]})
        self.ck = np.concatenate([self.ck, k], axis=2)
        self.cv = np.concatenate([self.cv, vv], axis=2)
        over = self.ck.shape[2] - self.sched["max_cache_frames"]
        if over > 0:                            # drop the oldest frames (RoPE keys keep their positions)
            self.ck, self.cv = self.ck[:, :, over:], self.cv[:, :, over:]
            self.cache_start += over
        return mel[0]


def detokenize(dit_step, codes, dims, seed, sched=SCHEDULE, trace=None, noise=noise_frames):
    det = Detokenizer(dit_step, *dims, seed=seed, sched=sched, trace=trace, noise=noise)
    mels = [det.chunk(codes, s, e, w) for s, e, w in plan_chunks(len(codes), sched)]
    return mels


def crossfade_weights(n):
    """Rising raised-cosine of n samples: w[i] = 0.5 - 0.5 cos(pi (i + 0.5) / n); the falling one is 1 - w."""
    i = np.arange(n, dtype=np.float64)
    return (0.5 - 0.5 * np.cos(np.pi * (i + 0.5) / n)).astype(np.float32)


class Stitcher:
    """Chunked vocoding. Each call vocodes [left context L | look-ahead R | overlap O | new frames]. Of a call's
    output, the last R frames are discarded (they lack right context), the O frames before them are held back
    ('tail') and cross-faded with the next call's re-vocoded version of the same frames."""

    def __init__(self, vocode, sched=SCHEDULE, trace=None):
        self.voc = vocode
        self.O, self.R = sched["vocoder_overlap_frames"], sched["vocoder_lookahead_frames"]
        self.L = sched["vocoder_left_context_frames"]
        self.mel = np.zeros((0, 80), np.float32)
        self.tail = None
        self.w = crossfade_weights(self.O * VHOP)
        self.trace = trace

    def push(self, mel_chunk, final):
        a = len(self.mel)
        self.mel = np.concatenate([self.mel, mel_chunk.astype(np.float32)])
        b = len(self.mel)
        O, R, H = self.O, self.R, VHOP
        if self.tail is None:
            lo = 0
            y = self.voc(self.mel[None, lo:b])[0]
            out = y if final else y[:(b - R - O) * H]
            self.tail = None if final else y[(b - R - O) * H:(b - R) * H]
        else:
            lo = max(0, a - R - O - self.L)
            y = self.voc(self.mel[None, lo:b])[0]
            seg = y[(a - R - O - lo) * H:]                       # frames [a - R - O, b)
            faded = self.tail * (1.0 - self.w) + seg[:O * H] * self.w
            if final:
                out = np.concatenate([faded, seg[O * H:]])
                self.tail = None
            else:
                out = np.concatenate([faded, seg[O * H:(b - a) * H]])      # frames [a - R - O, b - R - O)
                self.tail = seg[(b - a) * H:(b - a + O) * H]               # frames [b - R - O, b - R)
        if self.trace is not None:
            self.trace.append({"mel_in_frames": [lo, b], "audio_out": out.copy()})
        return out


def vocode_chunks(vocode, mel_chunks, sched=SCHEDULE, trace=None):
    st = Stitcher(vocode, sched, trace)
    outs = [st.push(m, i == len(mel_chunks) - 1) for i, m in enumerate(mel_chunks)]
    return np.concatenate(outs)


def torch_callables(dit, voc):
    import torch

    @torch.no_grad()
    def dit_step(x, tok, t, start, ck, cv):
        v, k, vv = dit.step(torch.from_numpy(x), torch.from_numpy(tok), torch.from_numpy(t),
                            torch.from_numpy(start), torch.from_numpy(ck), torch.from_numpy(cv))
        return v.numpy(), k.numpy(), vv.numpy()

    @torch.no_grad()
    def vocode(mel):
        return voc(torch.from_numpy(np.ascontiguousarray(mel)).transpose(1, 2)).numpy()

    return dit_step, vocode
