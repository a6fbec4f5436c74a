#!/usr/bin/env python3
"""How well the agent answers as a call goes on: plays seeded 10-turn calls made of perf/corpus clips through
`voiceagent respond --conversation` (one session per call, the decoder keeping its history) and reports the share of
correct replies at each turn index. A reply is correct when it is the intent's reply (the bench's rule).

usage: python3 scripts/eval_conversation.py [--calls 20] [--turns 10] [--history-turns N|all] [--mode text|audio]
       [--end-of-turn file|live] [--seed 7] [--out FILE.json]
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "perf", "corpus")
sys.path.insert(0, os.path.join(ROOT, "training"))
from corpus_text import REPLIES  # noqa: E402  (the pack's reply per intent; the bench's table is the same)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=20)
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--history-turns", default="", help="earlier turns the decoder sees (default: the pack's)")
    ap.add_argument("--mode", default="text", choices=["text", "audio"])
    ap.add_argument("--end-of-turn", default="file", choices=["file", "live", "silence"])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    want = REPLIES
    clips = [c for c in json.load(open(os.path.join(CORPUS, "corpus.json")))["clips"] if c.get("intent") in want]
    rng = random.Random(a.seed)
    per_turn = [[0, 0] for _ in range(a.turns)]
    calls = []
    with tempfile.TemporaryDirectory() as td:
        for call in range(a.calls):
            picked = rng.sample(clips, a.turns)
            cmd = [os.path.join(ROOT, "voiceagent"), "respond", "--conversation", "--json", "--output-dir", td,
                   "--mode", a.mode, "--end-of-turn", a.end_of_turn,
                   *(["--history-turns", a.history_turns] if a.history_turns else []), "--input",
                   *[os.path.join(CORPUS, c["file"]) for c in picked]]
            p = subprocess.run(cmd, capture_output=True, text=True)
            lines = [json.loads(x) for x in p.stdout.splitlines() if x.startswith("{")]
            if len(lines) != a.turns:
                sys.exit(f"call {call}: expected {a.turns} JSON lines, got {len(lines)} (exit {p.returncode}): "
                         f"{p.stderr.strip()[-500:]}")
            turns = []
            for i, (c, r) in enumerate(zip(picked, lines)):
                ok = r.get("reply_text") == want[c["intent"]]
                per_turn[i][0] += 1
                per_turn[i][1] += ok
                turns.append({"clip": c["id"], "intent": c["intent"], "reply": r.get("reply_text"), "correct": ok,
                              "first_text_token_ms": (r.get("timings_ms") or {}).get("first_text_token")})
            calls.append(turns)
            print(f"call {call}: " + "".join("+" if t["correct"] else "." for t in turns), flush=True)
    rates = [round(c / n, 3) for n, c in per_turn]
    total = sum(c for _, c in per_turn) / sum(n for n, _ in per_turn)
    print("correct by turn:", " ".join(f"{r:.2f}" for r in rates), f"| all {total:.3f}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"args": vars(a), "correct_by_turn": rates, "correct": round(total, 4), "calls": calls}, f,
                      indent=1)


if __name__ == "__main__":
    main()
