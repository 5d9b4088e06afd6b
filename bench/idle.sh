#!/usr/bin/env bash
# What an idle daemon costs: a fresh `k1s server` with no workloads, measured after it settled
# for 5 s, over 10 s: threads, informer threads (one per shared list+watch), RSS, and voluntary
# context switches per second summed over its threads. Anchor, same run: a `sleep` process
# (the floor: 1 thread, 0 switches). Runs in private namespaces (bench/idle.py re-execs itself).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 300 /usr/bin/python3 "$here/idle.py"
