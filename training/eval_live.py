"""Reply accuracy of the exported pack through the C# engine, with the turn ended as a live caller's would be.

eval_quick.py scores the decoder on whole clips. A live caller's turn is ended by the session instead: by the VAD's
silence hangover or, earlier, by the semantic end-of-turn check at a pause (docs/engine.md, "End of turn"). This
writes the held-out clips of data/corpus as WAV files, runs `./voiceagent respond` over them once per configuration
and counts, for each: the replies that are the intent's reply, the malformed ones (none of the 13 replies), the
clips without a reply, which rule ended the turn, and how long after the caller's last voiced sample it ended.

usage: /usr/bin/python3 training/eval_live.py [--splits eval_para,eval_both] [--mode text|audio]
       [--config file] [--config silence] [--config live] [--config live:96] [--config live:160:0.8,0.5] ...
A config is END[:PROBE_MS[:MIN,FINAL]], END one of file (the end of the clip ends the turn), silence (the hangover
alone) or live (hangover or semantic check, the gateway's default); PROBE_MS and MIN,FINAL set the semantic check.
Needs the built solution (./voiceagent setup).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from corpus_text import REPLIES  # noqa: E402
from data import load_split  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_split(split, folder):
    """The split's clips as 16 kHz WAV files in `folder`; returns (paths, intents)."""
    waves, meta = load_split(split)
    paths = []
    for i, wave in enumerate(waves):
        path = os.path.join(folder, f"{split}_{i:03d}.wav")
        wavfile.write(path, 16000, wave)
        paths.append(path)
    return paths, [m["intent"] for m in meta]


def respond(paths, config, mode, out_dir):
    end, _, rest = config.partition(":")
    probe, _, bar = rest.partition(":")
    args = ["./voiceagent", "respond", "--end-of-turn", end, "--mode", mode, "--json", "--output-dir", out_dir]
    if probe:
        args += ["--semantic-probe-ms", probe]
    if bar:
        args += ["--semantic-confidence", bar]
    done = subprocess.run(args + ["--input", *paths], cwd=ROOT, capture_output=True, text=True)
    if done.returncode not in (0, 4):  # 4: some inputs got no reply (their lines say so)
        sys.exit(f"respond failed ({done.returncode}): {done.stderr.strip()}")
    return [json.loads(line) for line in done.stdout.splitlines()]


def score(rows, intents):
    known = set(REPLIES.values())
    correct = malformed = missing = 0
    ends, waits = {}, []
    for row, intent in zip(rows, intents):
        if "reply_text" not in row:
            missing += 1
            continue
        correct += row["reply_text"] == REPLIES[intent]
        malformed += row["reply_text"] not in known
        ends[row["end_of_turn"]] = ends.get(row["end_of_turn"], 0) + 1
        if row["end_of_turn"] != "manual":
            waits.append(row["timings_ms"]["vad_commit"])
    return {"clips": len(rows), "correct": correct, "malformed": malformed, "no_reply": missing, "end_of_turn": ends,
            "wait_ms_p50": statistics.median(waits) if waits else None,
            "wait_ms_p90": statistics.quantiles(waits, n=10)[8] if len(waits) > 1 else None}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--splits", default="eval_para,eval_both")
    ap.add_argument("--mode", default="text", choices=["text", "audio"])
    ap.add_argument("--config", action="append", help="END[:PROBE_MS[:MIN,FINAL]] (repeatable; default: file, "
                    "silence, live)")
    ap.add_argument("--json", default="", help="also write the results here")
    a = ap.parse_args()
    configs = a.config or ["file", "silence", "live"]
    results = []
    with tempfile.TemporaryDirectory() as td:
        for split in a.splits.split(","):
            paths, intents = write_split(split, td)
            for config in configs:
                r = score(respond(paths, config, a.mode, os.path.join(td, "replies")), intents)
                r.update(split=split, config=config, mode=a.mode)
                results.append(r)
                print(f"{split:10s} {config:22s} correct {r['correct']:3d}/{r['clips']} malformed {r['malformed']} "
                      f"no reply {r['no_reply']}  wait p50 {r['wait_ms_p50']} p90 {r['wait_ms_p90']} ms  "
                      f"{r['end_of_turn']}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
