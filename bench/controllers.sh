#!/usr/bin/env bash
# Controller benchmark: 100-replica Deployment create and rolling update (in-process, no kubelet).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"${BUILD_DIR:-$here/../build}/k1s_bench_controllers"
