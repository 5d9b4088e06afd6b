#!/usr/bin/env bash
# API server benchmark: start time, idle RSS, creates/s and gets/s against raw
# SQLite on the same disk, watch delivery latency with 100 watchers.
# Runs in a private network namespace so it touches nothing on the host.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
work=$(mktemp -d /var/tmp/k1s-bench-api.XXXXXX)
trap 'rm -rf "$work"' EXIT
unshare --net --mount --pid --fork --mount-proc bash -c "ip link set lo up && '$build/k1s_bench_api' '$build/k1s' '$work'"
