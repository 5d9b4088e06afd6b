#!/usr/bin/env bash
# Daemon stop time: SIGTERM -> exit of a `k1s server` running one pod, without and with
# --cleanup-on-exit, R rounds each (default 5). Anchors measured in the same run: a trivial process
# start -> exit (/bin/true) and the same daemon's start -> /readyz. The daemon runs in private
# net/mount/pid namespaces (bench/shutdown.py re-execs itself under unshare). Targets: <= 0.5 s
# without cleanup, <= 1 s with it. Needs root, umoci, skopeo, busybox-static and a built k1s
# (K1S_BIN, default build/k1s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 900 /usr/bin/python3 "$here/shutdown.py"
