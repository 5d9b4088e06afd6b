#!/usr/bin/env bash
# Durability: kill -9 of `k1s server` during concurrent writes, ROUNDS rounds (default 20) on one
# data dir: 8 writer processes create ConfigMaps and record every acknowledged (201) name; the
# daemon is killed at a random moment (seeded, SEED), its database (db + WAL, as left) must pass
# PRAGMA integrity_check, and after a restart every acknowledged ConfigMap must be there.
# Anchor, same run: write throughput (creates/s, p50/p99 latency) with --sync=normal and
# --sync=full. Runs in private net/mount/pid namespaces (bench/durability.py re-execs itself under
# unshare). Needs root and a built k1s (K1S_BIN, default build/k1s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 1800 /usr/bin/python3 "$here/durability.py"
