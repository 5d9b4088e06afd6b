#!/usr/bin/env bash
# Container start-to-exit latency: the k1s shim (`<shim> run --foreground`: overlayfs rootfs,
# cgroups, pid/mount/ipc/uts namespaces) against `crun run` (anchor) on the same busybox rootfs,
# workload `true`, N runs each, timed the same way. The shim measured is the small static
# executable the kubelet runs (written by `k1s shim install`); `k1s shim run` (the same code inside
# the big k1s binary, what the kubelet used to re-exec) is printed for reference. Needs root, crun, /bin/busybox and a
# built k1s (K1S_BIN, default build/k1s). Prints a table in milliseconds.
#
# Differences kept visible: crun gets its bundle's plain directory as root (no overlay) and, like
# k1s with no pod network, no new network namespace. On a hybrid cgroup host whose cgroup2 tree has
# a controller (hugetlb here) crun 1.8 refuses to run ("cgroups in hybrid mode not supported"), so
# its loop runs in a private mount namespace without /sys/fs/cgroup/unified: crun then uses the v1
# controllers, as k1s does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K1S=${K1S_BIN:-$here/../build/k1s}
N=${N:-20}
PY=/usr/bin/python3
[[ $(id -u) -eq 0 ]] || { echo "container_start.sh: needs root" >&2; exit 1; }
[[ -x $K1S ]] || { echo "container_start.sh: k1s not found at $K1S (set K1S_BIN)" >&2; exit 1; }
command -v crun >/dev/null || { echo "container_start.sh: crun not installed" >&2; exit 1; }
[[ -x /bin/busybox ]] || { echo "container_start.sh: /bin/busybox missing (busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/k1s-bench-start-XXXXXX)
cgname=k1s-bench-$$
cleanup() {
  for h in /sys/fs/cgroup/*/; do rmdir "$h$cgname"/* "$h$cgname" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

rootfs=$tmp/bundle/rootfs
mkdir -p "$rootfs"/{bin,proc,dev,sys,tmp,etc} "$tmp/state" "$tmp/logs" "$tmp/crun"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh true echo; do ln -s busybox "$rootfs/bin/$a"; done

(cd "$tmp/bundle" && crun spec)
$PY - "$tmp/bundle/config.json" <<'PY'
import json, sys
p = sys.argv[1]; c = json.load(open(p))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
c["root"]["readonly"] = False
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
json.dump(c, open(p, "w"))
PY

SHIM=$("$K1S" shim install "$tmp/bin") || { echo "container_start.sh: k1s shim install failed" >&2; exit 1; }

now() { date +%s%N; }
# run_k1s <times-array-name> <command...>: N container runs of the given shim command.
run_k1s() {
  local -n times=$1
  shift
  for i in $(seq 1 "$N"); do
    d=$tmp/state/b$i
    mkdir -p "$d"
    printf '{"id":"b%s","lowerDirs":["%s"],"args":["true"],"env":["PATH=/bin"],"hostname":"bench","cgroupPath":"%s/b%s","logPath":"%s/logs/b%s.log"}' \
      "$i" "$rootfs" "$cgname" "$i" "$tmp" "$i" >"$d/spec.json"
    t0=$(now)
    "$@" run "$d" - --foreground
    t1=$(now)
    grep -q '"exitCode":0' "$d/exit.json" || { echo "k1s run $i failed: $(cat "$d/exit.json" "$d/shim.log" 2>/dev/null)" >&2; exit 1; }
    times+=($(( (t1 - t0) / 1000 )))
    rm -rf "$d"
    for h in /sys/fs/cgroup/*/; do rmdir "$h$cgname/b$i" 2>/dev/null || true; done
  done
}
k1s_times=() k1s_big_times=() crun_times=()
run_k1s k1s_times "$SHIM"
run_k1s k1s_big_times "$K1S" shim

# crun's loop, timed the same way, one run per output line (µs).
crun_loop='
  if grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    umount /sys/fs/cgroup/unified
  fi
  for i in $(seq 1 "$1"); do
    t0=$(date +%s%N)
    crun --root "$2/crun" run -b "$2/bundle" "crun-bench-$$-$i" </dev/null >&2 || { echo "crun run failed" >&2; exit 1; }
    t1=$(date +%s%N)
    echo $(( (t1 - t0) / 1000 ))
  done'
mapfile -t crun_times < <(unshare -m bash -c "$crun_loop" crun-loop "$N" "$tmp")
((${#crun_times[@]} == N)) || { echo "container_start.sh: crun runs failed" >&2; exit 1; }

stats() {  # microseconds on stdin → "min median mean max" in ms
  sort -n | awk '{a[NR]=$1; s+=$1} END {m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2;
    printf "%8.2f %8.2f %8.2f %8.2f", a[1]/1000, m/1000, s/NR/1000, a[NR]/1000}'
}
printf '%-34s %5s %8s %8s %8s %8s\n' "container start→exit (true)" runs min median mean max
printf '%-34s %5d %s\n' "crun run (anchor)" "$N" "$(printf '%s\n' "${crun_times[@]}" | stats)"
printf '%-34s %5d %s\n' "k1s shim (static, target <= crun)" "$N" "$(printf '%s\n' "${k1s_times[@]}" | stats)"
printf '%-34s %5d %s\n' "k1s shim run (k1s binary, ref.)" "$N" "$(printf '%s\n' "${k1s_big_times[@]}" | stats)"
