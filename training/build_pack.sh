#!/bin/sh
# Rebuild the demo model pack (resumable). Full from-scratch rebuild: rm -rf training/data training/work training/runs
set -e
cd "$(dirname "$0")/.."
exec /usr/bin/python3 training/build_pack.py "$@"
