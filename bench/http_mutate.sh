#!/usr/bin/env bash
# Mutated HTTP input against a running daemon (bench/http_mutate.py says what): N requests (default
# 50,000), status histogram, 5xx with their requests, RSS after warm-up and after the run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export K1S_BIN=${K1S_BIN:-$here/../build/k1s}
exec timeout 1800 /usr/bin/python3 "$here/http_mutate.py"
