#!/usr/bin/env bash
# Port-forward throughput (wrk through k1s port-forward, kubectl 1.33 and 1.27 port-forward, against
# wrk straight to the pod IP in the same run; target >= 0.5x; and through two bare OpenSSL relays,
# bench/tls_relay.cpp, the floor of any forward over TLS) and `kubectl exec ... -- true` round
# trip p50 (hyperfine; target <= 30 ms). The daemon runs in private net/mount/pid namespaces
# (bench/streams.py re-execs itself under unshare) and is stopped with --cleanup-on-exit.
# Needs root, wrk and hyperfine (scripts/install-deps.sh bench), a built k1s and lab images
# (K1S_BIN, default build/k1s; images next to it). D=seconds per wrk run, N=hyperfine runs,
# ONLY=portforward|exec runs one half.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 900 /usr/bin/python3 "$here/streams.py"
