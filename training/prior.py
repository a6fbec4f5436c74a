"""Prior correction of the reply choice (logit adjustment), written to the manifest as sampling.text_logit_bias.

The decoder learns p(reply | audio) under the training mix of intents, where the out-of-domain class (fallback) has
twice the clips of every other intent (it has to cover everything else people say). Callers of the held-out sets,
and of a real line as far as we know, ask each intent about equally often, so the learned prior over-answers
fallback. The standard correction subtracts the log ratio of training to target prior from the logits of the
choice; here the choice is the reply's first word, so each intent whose first word is its own gets
    bias = -ln(clips of the intent / median clips per intent)
(0 for every intent at the median). Nothing is tuned on evaluation data: the value follows from the clip counts.
"""
import glob
import json
import math
import os

from common import DATA
from corpus_text import REPLIES


def intent_counts(metas):
    """Clips per intent of clip metadata records (the decoder samples turns uniformly over clips)."""
    counts = {}
    for m in metas:
        counts[m["intent"]] = counts.get(m["intent"], 0) + 1
    return counts


def corpus_intent_counts(splits=("train",)):
    """Clips per intent in the synthesized training splits on disk."""
    metas = []
    for split in splits:
        for f in glob.glob(os.path.join(DATA, "corpus", f"{split}_[0-9][0-9][0-9].json")):
            with open(f) as fh:
                metas += json.load(fh)
    return intent_counts(metas)


def first_word_bias(vocab, counts):
    """{text token id: bias} from clips per intent (empty when counts is empty or all equal)."""
    if not counts:
        return {}
    ordered = sorted(counts.values())
    median = ordered[len(ordered) // 2]
    first = {k: r.split()[0] for k, r in REPLIES.items()}
    table = {t: i for i, t in vocab.token_table().items()}
    out = {}
    for intent, word in first.items():
        if list(first.values()).count(word) != 1 or intent not in counts:
            continue
        b = -math.log(counts[intent] / median)
        if abs(b) > 1e-6:
            out[table[word]] = round(b, 6)
    return out


def decoder_bias(vocab, ckpt):
    """The bias for a decoder checkpoint: from the clip counts it recorded, else from the 'train' split on disk."""
    counts = ckpt.get("intent_clip_counts") if isinstance(ckpt, dict) else None
    return first_word_bias(vocab, counts or corpus_intent_counts())
