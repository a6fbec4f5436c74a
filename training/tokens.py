"""Decoder token layout (one shared id space, Kimi-style) and dialogue sequence construction.

ids 0..15            special tokens
ids 16..16+W-1       text words (case-sensitive, punctuation attached: "Hello," "Bank.")
ids A..A+C-1         audio (semantic) codes, A = audio_token_offset, C = codebook size
"""
import math

from corpus_text import REPLIES

SPECIALS = ["<|msg_end|>", "<|user_msg_start|>", "<|assistant_msg_start|>", "<|media_begin|>", "<|media_end|>",
            "<|text_blank|>", "<|text_eos|>", "<|speech_ct|>", "<|speech_ctd|>", "<|pad|>", "<|unk|>"]
SPECIALS += [f"<|reserved_{i}|>" for i in range(16 - len(SPECIALS))]
SP = {s: i for i, s in enumerate(SPECIALS)}
MSG_END, USER_START, ASSIST_START = SP["<|msg_end|>"], SP["<|user_msg_start|>"], SP["<|assistant_msg_start|>"]
MEDIA_BEGIN, MEDIA_END = SP["<|media_begin|>"], SP["<|media_end|>"]
BLANK, TEXT_EOS, CT, CTD, PAD, UNK = (SP["<|text_blank|>"], SP["<|text_eos|>"], SP["<|speech_ct|>"],
                                      SP["<|speech_ctd|>"], SP["<|pad|>"], SP["<|unk|>"])
DELAY = 3   # audio stream lags the text stream by 3 positions (240 ms at 12.5 Hz)
# Semantic codebook of the shipped tokenizer (models.ReconstructionQuantizer since session 6; k-means 512 before;
# 1,024 learned codes in sessions 6-15, 4,096 since session 16: training/REPORT-part2.md §0l).
CODEBOOK_SIZE = 4096


class Vocab:
    def __init__(self, n_codes=CODEBOOK_SIZE):
        words = set()
        for r in REPLIES.values():
            words.update(r.split())
        # Only the agent's words: the demo decoder never reads user text (user turns are audio), which keeps
        # the embedding and both heads small.
        self.words = sorted(words)
        self.word_id = {w: 16 + i for i, w in enumerate(self.words)}
        self.audio_offset = int(math.ceil((16 + len(self.words)) / 16.0) * 16)
        self.n_codes = n_codes
        self.size = self.audio_offset + n_codes

    def encode_text(self, text):
        return [self.word_id.get(w, UNK) for w in text.split()]

    def decode_text(self, ids):
        inv = {v: k for k, v in self.word_id.items()}
        return " ".join(inv[i] for i in ids if i in inv)

    def token_table(self):
        t = {i: s for i, s in enumerate(SPECIALS)}
        t.update({v: k for k, v in self.word_id.items()})
        return t


def user_turn(vocab, codes, mode_ctd, first_turn=True):
    """Positions of one user audio turn + the assistant start. Returns lists text, audio, featmask(bool),
    feature_index (index into the user's 12.5 Hz features, or -1)."""
    text, audio, fidx = [], [], []

    def put(t, a, f=-1):
        text.append(t)
        audio.append(a)
        fidx.append(f)

    put(BLANK, USER_START)
    put(BLANK, MEDIA_BEGIN)
    for i, c in enumerate(codes):
        put(BLANK, vocab.audio_offset + int(c), i)
    put(BLANK, MEDIA_END)
    put(BLANK, CTD if mode_ctd else CT)
    put(BLANK, MSG_END)
    put(BLANK, ASSIST_START)
    return text, audio, fidx


def assistant_turn(vocab, reply_text, reply_codes, mode_ctd):
    """Positions generated after <|assistant_msg_start|> (which is the last prompt position).
    text: words, text_eos, then blanks; audio (ctd): D blanks, codes, msg_end; (ct): blanks, last = msg_end."""
    words = vocab.encode_text(reply_text)
    n_text = len(words) + 1
    if mode_ctd:
        audio = [BLANK] * DELAY + [vocab.audio_offset + int(c) for c in reply_codes] + [MSG_END]
    else:
        audio = [BLANK] * n_text + [MSG_END]
    L = max(len(audio), n_text + 1)
    text = words + [TEXT_EOS] + [BLANK] * (L - n_text)
    audio = audio + [BLANK] * (L - len(audio))   # (never needed in practice)
    if audio[-1] != MSG_END:
        # audio finished earlier than text: keep msg_end at the very end
        audio = [a if a != MSG_END else BLANK for a in audio[:-1]] + [MSG_END]
    return text, audio
