#!/usr/bin/env bash
# The numbers lab, timed as a learner meets it: cold `k1s server` start -> the four lab manifests
# applied (api, web, ClusterIP, LoadBalancer) -> the first "Here it is: N" from POST
# http://localhost:8080 (through the LoadBalancer). Images are imported before the clock starts.
# Target: <= 1 s. Then, with the lab running, the memory of the daemon plus its shims
# (VmRSS summed, and PSS, which counts the pages they share once). Target: <= 30 MB, printed beside
# the published k3s figure the project compares against (1,596 MB, issue 7); k3s is not run here.
#
# Each run is a fresh data dir inside private net/mount/pid namespaces (the daemon's bridge,
# iptables rules, mounts and processes vanish with them); the data dirs are removed at exit.
# Needs root, a built k1s (K1S_BIN, default build/k1s) and the lab images (K1S_LAB_IMAGES, default
# <k1s dir>/images). RUNS=5 by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K1S=$(realpath "${K1S_BIN:-$here/../build/k1s}")
IMAGES=${K1S_LAB_IMAGES:-$(dirname "$K1S")/images}
LAB=$(realpath "$here/../examples/numbers")
RUNS=${RUNS:-5}
[[ $(id -u) -eq 0 ]] || { echo "lab.sh: needs root" >&2; exit 1; }
[[ -x $K1S ]] || { echo "lab.sh: k1s not found at $K1S (set K1S_BIN)" >&2; exit 1; }
compgen -G "$IMAGES/*.tar" >/dev/null || { echo "lab.sh: no lab images in $IMAGES (ninja lab_images)" >&2; exit 1; }
command -v curl >/dev/null || { echo "lab.sh: curl missing" >&2; exit 1; }

work=$(mktemp -d /var/tmp/k1s-bench-lab.XXXXXX)
trap 'rm -rf "$work"' EXIT

# One run inside the namespaces; prints "ready_ms applied_ms number_ms rss_kb pss_kb nshims".
inner='
set -euo pipefail
K1S=$1 IMAGES=$2 LAB=$3 dir=$4 measure_mem=$5
ip link set lo up
mkdir -p "$dir"
"$K1S" image import --data-dir "$dir/data" "$IMAGES"/*.tar >/dev/null
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
"$K1S" server --data-dir "$dir/data" --run-dir "$dir/run" --cleanup-on-exit >"$dir/server.log" 2>&1 &
server=$!
stop() { kill -TERM $server 2>/dev/null; wait $server 2>/dev/null || true; }
trap stop EXIT
until [[ -f $dir/data/kubeconfig.yaml ]] &&
      curl -sf --cacert "$dir/data/certs/ca.crt" https://127.0.0.1:6443/readyz >/dev/null 2>&1; do
  kill -0 $server 2>/dev/null || { echo "server died: $(tail -5 "$dir/server.log")" >&2; exit 1; }
  (( $(ms) - t0 < 30000 )) || { echo "server not ready in 30 s" >&2; exit 1; }
  sleep 0.005
done
t_ready=$(ms)
TIMEFORMAT="%U %S"
{ time KUBECONFIG=$dir/data/kubeconfig.yaml "$K1S" apply -f "$LAB/api.yaml" -f "$LAB/web.yaml" \
  -f "$LAB/api-service.yaml" -f "$LAB/web-service.yaml" >/dev/null; } 2>"$dir/apply.time"
t_applied=$(ms)
until curl -s --max-time 5 -X POST http://localhost:8080/ 2>/dev/null | grep -q "Here it is: [0-9]"; do
  (( $(ms) - t0 < 60000 )) || { echo "no number in 60 s" >&2; exit 1; }
  sleep 0.005
done
t_number=$(ms)
# CPU time spent getting there (does not grow with the run queue): the daemon, and the apply.
cpu_daemon=$(awk -v hz="$(getconf CLK_TCK)" "{print int((\$14 + \$15) * 1000 / hz)}" /proc/$server/stat)
cpu_apply=$(awk "{print int((\$1 + \$2) * 1000)}" "$dir/apply.time")
rss=0 pss=0 n=0
if [[ $measure_mem == 1 ]]; then
  sleep 2  # the lab running, start-up work settled
  # Shims: the static executable the kubelet writes (<run-dir>/shim/k1s-shim-<hash>), or `k1s shim`.
  for p in $server $(pgrep -f "(^$K1S shim|/k1s-shim-[0-9a-f]+)" || true); do
    [[ -r /proc/$p/smaps_rollup ]] || continue
    [[ $p == "$server" ]] || n=$((n + 1))
    rss=$((rss + $(awk "/^VmRSS:/ {print \$2}" /proc/$p/status)))
    pss=$((pss + $(awk "/^Pss:/ {print \$2}" /proc/$p/smaps_rollup)))
  done
fi
echo "$((t_ready - t0)) $((t_applied - t0)) $((t_number - t0)) $rss $pss $n $cpu_daemon $cpu_apply"
'
load_before=$(cut -d" " -f1 /proc/loadavg)
results=()
for i in $(seq 1 "$RUNS"); do
  mem=0; [[ $i == "$RUNS" ]] && mem=1
  line=$(unshare --net --mount --pid --fork --kill-child --mount-proc \
           bash -c "$inner" lab-bench "$K1S" "$IMAGES" "$LAB" "$work/run$i" "$mem")
  results+=("$line")
  rm -rf "$work/run$i"
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : int((a[NR/2]+a[NR/2+1])/2))}'; }
col() { for r in "${results[@]}"; do echo "$r" | cut -d" " -f"$1"; done; }
read -r _ _ _ rss pss nshims _ _ <<<"${results[-1]}"
# Wall-clock figures: on a shared machine the run queue shows in them, so say how busy it was.
printf "numbers lab, %d cold runs (median; min-max); %d CPUs, load average %s before, %s after\n" \
  "$RUNS" "$(nproc)" "$load_before" "$(cut -d" " -f1 /proc/loadavg)"
printf "  %-44s %6s ms  (%s-%s)\n" "k1s server start -> /readyz" "$(col 1 | median)" "$(col 1 | sort -n | head -1)" "$(col 1 | sort -n | tail -1)"
printf "  %-44s %6s ms  (%s-%s)\n" "... -> lab applied (4 manifests)" "$(col 2 | median)" "$(col 2 | sort -n | head -1)" "$(col 2 | sort -n | tail -1)"
printf "  %-44s %6s ms  (%s-%s)   target <= 1000 ms\n" "... -> first \"Here it is: N\" at localhost:8080" "$(col 3 | median)" "$(col 3 | sort -n | head -1)" "$(col 3 | sort -n | tail -1)"
printf "  %-44s %6s ms  (%s-%s)\n" "CPU time to the number: k1s server" "$(col 7 | median)" "$(col 7 | sort -n | head -1)" "$(col 7 | sort -n | tail -1)"
printf "  %-44s %6s ms  (%s-%s)\n" "CPU time to the number: k1s apply" "$(col 8 | median)" "$(col 8 | sort -n | head -1)" "$(col 8 | sort -n | tail -1)"
printf "memory with the lab running (daemon + %d shims)\n" "$nshims"
printf "  %-44s %6.1f MB\n" "VmRSS summed" "$(echo "$rss / 1024" | bc -l)"
printf "  %-44s %6.1f MB   target <= 30 MB\n" "PSS summed (shared pages counted once)" "$(echo "$pss / 1024" | bc -l)"
printf "  %-44s %6d MB   (published figure, not measured here)\n" "anchor: k3s" 1596
