#!/usr/bin/env bash
# Pod create -> Running observed by a watch, p50/p99 over N pods (default 50), with hostNetwork
# pods (no pod network) and with the pod network; the API's create -> ADDED latency is printed as
# the anchor. The daemon runs in private net/mount/pid namespaces (bench/pods.py re-execs itself
# under unshare) and is stopped with --cleanup-on-exit. Needs root, umoci, skopeo, busybox-static
# and a built k1s (K1S_BIN, default build/k1s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 900 /usr/bin/python3 "$here/pods.py"
