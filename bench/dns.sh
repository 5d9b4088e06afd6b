#!/usr/bin/env bash
# Cluster DNS benchmark: dnsperf against k1s DNS and against dnsmasq serving the
# same 1,000 names, same run. Private network namespace: nothing on the host.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
for tool in dnsperf dnsmasq; do
  command -v $tool >/dev/null || { echo "$tool not found: run scripts/install-deps.sh bench" >&2; exit 2; }
done
exec unshare --net --mount --pid --fork --kill-child --mount-proc bash -c "ip link set lo up && '$build/k1s_bench_dns'"
