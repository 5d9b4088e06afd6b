#!/usr/bin/env bash
# `make run` as the README tells a new user to use it: it must come up, answer `k1s get nodes`
# with a Ready node, and stop on Ctrl-C. Runs in a private network namespace, so the daemon's
# 127.0.0.1:6443, bridge and iptables rules never touch this machine's network.
# Used by scripts/fresh-machine.sh after `make test` (the packages are installed by then).
#   scripts/make-run-smoke.sh          # from the top of a k1s checkout, as root
set -euo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || pwd)"
if [[ ${K1S_SMOKE_INNER:-} != 1 ]]; then
  exec env K1S_SMOKE_INNER=1 unshare --net --mount --propagation private --fork -- "$0" "$@"
fi
ip link set lo up
log=$(mktemp /tmp/k1s-make-run.XXXXXX)
data=/var/lib/k1s
# Its own session: Ctrl-C reaches the whole process group, as from a terminal.
setsid make run >"$log" 2>&1 &
pid=$!
stop() { kill -INT -- "-$pid" 2>/dev/null || true; }
trap 'stop; cat "$log"' ERR
for _ in $(seq 1 600); do
  grep -q '^k1s is running' "$log" && break
  kill -0 "$pid" 2>/dev/null || { echo "make-run-smoke: make run ended early:"; cat "$log"; exit 1; }
  sleep 0.5
done
grep -q '^k1s is running' "$log" || { echo "make-run-smoke: not running after 300 s:"; stop; cat "$log"; exit 1; }
ready=
for _ in $(seq 1 100); do
  line=$(KUBECONFIG=$data/kubeconfig.yaml build/k1s get nodes --no-headers 2>&1 || true)
  [[ $(awk '{print $2}' <<<"$line") == Ready ]] && { ready=1; break; }
  sleep 0.2
done
[[ -n $ready ]] || { echo "make-run-smoke: no Ready node: $line"; stop; cat "$log"; exit 1; }
daemon=$(sed -n 's/^k1s is running (pid \([0-9]*\)).*/\1/p' "$log")
t0=$(date +%s%N)
stop
wait "$pid" || true
for _ in $(seq 1 200); do kill -0 "$daemon" 2>/dev/null || break; sleep 0.05; done
kill -0 "$daemon" 2>/dev/null && { echo "make-run-smoke: the daemon (pid $daemon) still runs 10 s after Ctrl-C"; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
if ip link show k1s0 >/dev/null 2>&1; then echo "make-run-smoke: bridge k1s0 left after Ctrl-C"; exit 1; fi
echo "make-run-smoke: PASSED: make run came up, node $(awk '{print $1}' <<<"$line") Ready, Ctrl-C stopped it in $ms ms"
rm -f "$log"
