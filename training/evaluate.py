"""Stage 6: evaluate the trained pack (torch models == exported graphs, see ort_check.py).

Intent accuracy = the greedy reply text equals the intent's exact reply. Splits: eval_voice (held-out voices,
training phrasings), eval_para (training voices, held-out paraphrases), eval_both (held-out voices AND
paraphrases). Writes eval.json and eval_tables.md into the training folder's work/.
"""
import json
import os
import random
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import WORK  # noqa: E402
from corpus_text import INTENTS, REPLIES  # noqa: E402
from infer import build_prompt, generate, load_decoder, load_encoder  # noqa: E402
from prior import decoder_bias  # noqa: E402
from models import count_params  # noqa: E402
from tokens import Vocab, BLANK, MSG_END  # noqa: E402
from train_encoder import cer  # noqa: E402

REPLY_TO_INTENT = {v: k for k, v in REPLIES.items()}


def reply_accuracy(dec, vocab, pairs, ctd, bias, replies=None):
    """Greedy replies for (meta, encoded item) pairs -> (correct, audio codes exact, confusion, decode steps).
    Audio codes are compared with `replies` (the reply targets) when given."""
    ok, audio_ok, conf, steps = 0, 0, {}, 0
    for m, it in pairs:
        pr = build_prompt(vocab, it["tokens"].long().numpy(), it["feat"].float().numpy(), ctd, dec.c.feat_dim)
        txt, aud, gen, _ = generate(dec, vocab, pr, ctd, text_bias=bias)
        steps += len(gen)
        pred = REPLY_TO_INTENT.get(vocab.decode_text(txt), "other")
        conf.setdefault(m["intent"], {}).setdefault(pred, 0)
        conf[m["intent"]][pred] += 1
        ok += pred == m["intent"]
        if ctd and replies is not None:
            audio_ok += aud == replies[m["intent"]]["tokens"].long().tolist()
    return ok, audio_ok, conf, steps


def main():
    torch.set_num_threads(2)
    vocab = Vocab()
    enc, dec = load_encoder(), load_decoder()
    bias = decoder_bias(vocab, dec.checkpoint_info)
    print("text logit bias (prior correction, as the manifest):", bias, flush=True)
    replies = torch.load(os.path.join(WORK, "encoded", "replies.pt"))
    res = {"params": {"encoder_total": count_params(enc), "decoder": count_params(dec)}}
    tables = []
    for split in ("eval_voice", "eval_para", "eval_both"):
        d = torch.load(os.path.join(WORK, "encoded", split + ".pt"))
        meta, items = d["meta"], d["items"]
        out = {}
        modes = (("text_only", False), ("text_audio", True)) if split == "eval_both" else (("text_only", False),)
        for mode_name, ctd in modes:
            t0 = time.time()
            sub = list(zip(meta, items))[: (130 if ctd else None)]   # text+audio decoding is ~4x longer
            ok, audio_ok, conf, steps = reply_accuracy(dec, vocab, sub, ctd, bias, replies)
            n = len(sub)
            out[mode_name] = {"accuracy": ok / n, "n": n, "confusion": conf,
                              "decode_steps_per_s_torch": steps / (time.time() - t0)}
            if ctd:
                out[mode_name]["audio_tokens_exact"] = audio_ok / n
            print(f"{split} {mode_name}: reply accuracy {ok / n:.3f} (n={n})"
                  + (f", audio tokens exact {audio_ok / n:.3f}" if ctd else ""), flush=True)
        out["cer"] = float(np.mean([cer(m["text"], it["asr"]) for m, it in zip(meta, items)]))
        print(f"{split} CTC transcript CER {out['cer']:.3f}", flush=True)
        res[split] = out

    # two-turn dialogues: history turn (train-voice clip) + held-out test turn
    rng = random.Random(3)
    d = torch.load(os.path.join(WORK, "encoded", "eval_both.pt"))
    hist = torch.load(os.path.join(WORK, "encoded", "eval_para.pt"))
    ok, n = 0, 0
    for m, it in zip(d["meta"][:60], d["items"][:60]):
        j = rng.randrange(len(hist["items"]))
        pr = build_prompt(vocab, hist["items"][j]["tokens"].long().numpy(), hist["items"][j]["feat"].float().numpy(),
                          True, dec.c.feat_dim)
        _, _, gen, past = generate(dec, vocab, pr, True, text_bias=bias)
        pr2 = build_prompt(vocab, it["tokens"].long().numpy(), it["feat"].float().numpy(), False, dec.c.feat_dim)
        closing = (torch.tensor([[BLANK]]), torch.tensor([[MSG_END]]), torch.zeros(1, 1, dec.c.feat_dim),
                   torch.zeros(1, 1))
        pr2 = tuple(torch.cat([c, p], dim=1) for c, p in zip(closing, pr2))
        txt, _, _, _ = generate(dec, vocab, pr2, False, past=past, text_bias=bias)
        ok += vocab.decode_text(txt) == REPLIES[m["intent"]]
        n += 1
    res["two_turn_eval_both_text_only_accuracy"] = ok / n
    print(f"two-turn (second turn from eval_both) accuracy {ok / n:.3f} (n={n})", flush=True)

    # torch timings
    with torch.no_grad():
        mel = torch.randn(1, 8, 80)
        ck = torch.zeros(enc.c.n_layers, enc.c.n_heads, 0, enc.c.head_dim)
        cv = ck.clone()
        t0 = time.time()
        for _ in range(60):
            _, _, _, ck, cv = enc.step(mel, ck, cv)
        res["encoder_step_ms_torch"] = (time.time() - t0) / 60 * 1000
        past = [(torch.randn(1, dec.c.n_kv_heads, 120, dec.c.head_dim),) * 2 for _ in range(dec.n_cache)]
        x = (torch.tensor([[5]]), torch.tensor([[5]]), torch.zeros(1, 1, dec.c.feat_dim), torch.zeros(1, 1))
        for _ in range(5):
            dec(*x, past=past)
        t0 = time.time()
        for _ in range(50):
            dec(*x, past=past)
        res["decoder_step_ms_torch_past120"] = (time.time() - t0) / 50 * 1000
    print(json.dumps({k: v for k, v in res.items() if "ms" in k}), flush=True)

    # markdown tables
    tables.append("| split | text-only reply acc | text+audio reply acc | audio tokens exact | CTC CER | n |")
    tables.append("|---|---|---|---|---|---|")
    for split in ("eval_voice", "eval_para", "eval_both"):
        r = res[split]
        ta = r.get("text_audio")
        tables.append(f"| {split} | {r['text_only']['accuracy']:.3f} | "
                      f"{ta['accuracy'] if ta else float('nan'):.3f} | {ta['audio_tokens_exact'] if ta else float('nan'):.3f} | "
                      f"{r['cer']:.3f} | {r['text_only']['n']} |")
    for split in ("eval_voice", "eval_para", "eval_both"):
        conf = res[split]["text_only"]["confusion"]
        tables.append(f"\nPer-intent (text-only, {split}): accuracy and main confusions\n")
        tables.append("| intent | acc | confused with |")
        tables.append("|---|---|---|")
        for intent in INTENTS:
            row = conf.get(intent, {})
            tot = sum(row.values()) or 1
            others = ", ".join(f"{k} {v}" for k, v in sorted(row.items(), key=lambda kv: -kv[1]) if k != intent)
            tables.append(f"| {intent} | {row.get(intent, 0) / tot:.2f} | {others} |")
    with open(os.path.join(WORK, "eval_tables.md"), "w") as f:
        f.write("\n".join(tables) + "\n")
    with open(os.path.join(WORK, "eval.json"), "w") as f:
        json.dump(res, f, indent=1)


if __name__ == "__main__":
    main()
