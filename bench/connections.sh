#!/usr/bin/env bash
# An authenticated GET /readyz on a new TLS connection while other clients hold connections:
# none (the anchor, same daemon, same run), 5,000 idle TCP connections from the same address,
# and 600 connections silent after their TLS handshake (each holds a worker). Target (issue 15):
# <= 100 ms with 5,000 idle connections. The daemon runs in private namespaces
# (bench/connections.py re-execs itself under unshare). Needs root and a built k1s (K1S_BIN).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 600 /usr/bin/python3 "$here/connections.py"
