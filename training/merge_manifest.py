#!/usr/bin/env python3
"""Merge the part-2 manifest fragment (detokenizer + vocoder) into models/demo/manifest.json.

Part 1 (training/build_pack.py) and part 2 (training/part2/) are built by separate stages, so each writes its own
manifest; the engine reads one. This step is idempotent: running it again after either stage re-exports gives the
same merged manifest. Usage: /usr/bin/python3 training/merge_manifest.py [pack_dir]
"""
import json
import os
import sys


def merge(pack_dir):
    main_path = os.path.join(pack_dir, "manifest.json")
    part2_path = os.path.join(pack_dir, "manifest.part2.json")
    if not os.path.exists(part2_path):
        print(f"{part2_path} not found; nothing to merge")
        return 0
    with open(main_path, encoding="utf-8") as f:
        main = json.load(f)
    with open(part2_path, encoding="utf-8") as f:
        part2 = json.load(f)

    # Sections that part 2 owns outright.
    for key in ("detokenizer", "vocoder"):
        main[key] = part2[key]
    # Sections both parts contribute to: part 2 adds keys, never removes part-1 ones.
    main["audio"] = {**main.get("audio", {}), **part2.get("audio", {})}
    main["graphs"] = {**main["graphs"], **part2["graphs"]}
    golden = main.setdefault("golden", {"dir": "golden", "files": [], "tolerance": {}})
    for name in part2.get("golden", {}).get("files", []):
        if name not in golden["files"]:
            golden["files"].append(name)
    golden["tolerance"] = {**golden.get("tolerance", {}), **part2.get("golden", {}).get("tolerance", {})}
    if "training" in part2:
        training = main.setdefault("training", {})
        # The fragment already files its provenance under "part2"; keep one level.
        fragment = part2["training"]
        training["part2"] = fragment.get("part2", fragment)

    with open(main_path, "w", encoding="utf-8") as f:
        json.dump(main, f, indent=1)
        f.write("\n")
    print(f"merged {part2_path} into {main_path}: graphs {sorted(main['graphs'])}")
    return 0


if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(merge(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "models", "demo")))
