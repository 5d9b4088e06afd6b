#!/usr/bin/env bash
# Service proxy benchmark: endpoint change -> kernel latency, full sync against a
# bare iptables-restore of the same text, partial syncs at 1,000 and 5,000
# services. Runs in a private network namespace so it touches nothing on the host.
# Arguments pick parts: latency, 1000, 5000 (default: all).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
exec unshare --net --mount --pid --fork --kill-child --mount-proc bash -c "ip link set lo up && '$build/k1s_bench_proxy' $*"
