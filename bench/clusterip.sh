#!/usr/bin/env bash
# ClusterIP throughput: wrk through a Service's ClusterIP (k1s's iptables DNAT)
# and, in the same run, wrk straight to the pod IP. A real `k1s server` in a
# private network namespace programs the rules; the "pod" is a network
# namespace on its bridge running the numbers-api lab server (one request per
# connection, so every request pays the DNAT and conntrack set-up). Bounded:
# 3 rounds x 2 targets x 5 s. Nothing touches the host. The netns's conntrack
# table is flushed before each run: ~25,000 closed connections per run leave
# TIME_WAIT entries on nearly every client port, and a DNAT'd connection whose
# reply tuple matches one of them (pod:8080 -> host:port, from the run before)
# is dropped and retried, which would measure the previous run, not this one.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${BUILD_DIR:-$here/../build}" && pwd)
k1s=${K1S_BIN:-$build/k1s}
api=$build/images/bin/numbers-api
for f in "$k1s" "$api"; do [[ -x $f ]] || { echo "missing $f (build k1s and lab_images)" >&2; exit 2; }; done
command -v wrk >/dev/null || { echo "wrk not found: run scripts/install-deps.sh bench" >&2; exit 2; }
if [[ ${K1S_BENCH_INNER:-} != 1 ]]; then
  work=$(mktemp -d /var/tmp/k1s-bench-clusterip.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  # The daemon's mounts and processes die with this private namespace set.
  K1S_BENCH_INNER=1 WORK=$work K1S=$k1s API=$api unshare --net --mount --pid --fork --kill-child --mount-proc "$0"
  exit $?
fi

ip link set lo up
bridge=k1sbench0
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
"$K1S" server --data-dir "$WORK/data" --run-dir "$WORK/run" --bind-address 127.0.0.1 --bridge $bridge \
  --cleanup-on-exit >"$WORK/server.log" 2>&1 &
pids+=($!)
export KUBECONFIG=$WORK/data/kubeconfig.yaml
for _ in $(seq 1 300); do
  [[ -f $KUBECONFIG ]] && "$K1S" get namespaces >/dev/null 2>&1 && ip link show $bridge >/dev/null 2>&1 && break
  sleep 0.1
done
ip link show $bridge >/dev/null || { echo "k1s server did not come up:"; tail -20 "$WORK/server.log"; exit 1; }

# The pod: its own network namespace (a child process's), a veth on the bridge.
pod_ip=10.244.0.250
unshare --net sleep 600 &
podns=$!
pids+=($podns)
ip link add k1sbh0 type veth peer name k1sbp0
ip link set k1sbh0 master $bridge up
ip link set k1sbp0 netns $podns
in_pod() { nsenter -t $podns -n "$@"; }
in_pod ip addr add $pod_ip/24 dev k1sbp0
in_pod ip link set k1sbp0 up
in_pod ip link set lo up
in_pod ip route add default via 10.244.0.1
PORT=8080 nsenter -t $podns -n "$API" >/dev/null 2>&1 &
pids+=($!)

"$K1S" apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Service
metadata: {name: numbers-api}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: numbers-api-bench
  labels: {kubernetes.io/service-name: numbers-api}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints: [{addresses: ["$pod_ip"], conditions: {ready: true}}]
YAML
cluster_ip=$("$K1S" get svc numbers-api -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["spec"]["clusterIP"])')
for _ in $(seq 1 100); do
  curl -sf -m 1 "http://$cluster_ip/rng" >/dev/null && break
  sleep 0.1
done
curl -sf -m 1 "http://$cluster_ip/rng" >/dev/null || { echo "ClusterIP $cluster_ip does not answer"; exit 1; }

rps() {  # wrk's Requests/sec for one URL; errors are reported, not hidden
  local out
  conntrack -F >/dev/null 2>&1 || true
  out=$(wrk -t 2 -c 16 -d 5s "$1")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "wrk $1: $(grep -E 'Non-2xx|Socket errors' <<<"$out")" >&2; fi
  awk '/Requests\/sec/ {print $2}' <<<"$out"
}
declare -a direct via
for round in 1 2 3; do
  direct+=("$(rps "http://$pod_ip:8080/rng")")
  via+=("$(rps "http://$cluster_ip/rng")")
done
best() { printf '%s\n' "$@" | sort -g | tail -1; }
d=$(best "${direct[@]}")
c=$(best "${via[@]}")
echo "ClusterIP throughput (wrk -t2 -c16 -d5s, one request per connection; best of 3 alternating rounds)"
printf '%-36s %12s   %s\n' "target" "requests/s" "rounds"
printf '%-36s %12.0f   %s\n' "ClusterIP $cluster_ip:80" "$c" "${via[*]}"
printf '%-36s %12.0f   %s  <- anchor\n' "pod IP $pod_ip:8080 (direct)" "$d" "${direct[*]}"
awk -v c="$c" -v d="$d" 'BEGIN { printf "ratio ClusterIP / direct: %.3f (target >= 0.95)\n", c / d }'
