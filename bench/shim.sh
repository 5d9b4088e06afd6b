#!/usr/bin/env bash
# Private memory (USS = Private_Clean + Private_Dirty of /proc/PID/smaps_rollup) of one idle
# k1s shim (the small static executable the kubelet runs, written by `k1s shim install`, holding a
# container running `sleep`); also its RSS, which counts its shared pages too, against anchors
# measured in the same run: a plain `sleep` process (coreutils) and the container's own busybox
# `sleep`. Target: the shim ≤ 1 MB (1024 KiB).
#
# Everything runs inside private net/mount/pid namespaces: the shim, its container and its
# cgroup (removed at exit) never touch the host. Needs root, /bin/busybox and a built k1s
# (K1S_BIN, default build/k1s).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
K1S=${K1S_BIN:-$here/../build/k1s}
N=${N:-5}  # shims started one after another; each is measured once idle
[[ $(id -u) -eq 0 ]] || { echo "shim.sh: needs root" >&2; exit 1; }
[[ -x $K1S ]] || { echo "shim.sh: k1s not found at $K1S (set K1S_BIN)" >&2; exit 1; }
[[ -x /bin/busybox ]] || { echo "shim.sh: /bin/busybox missing (busybox-static)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/k1s-bench-shim-XXXXXX)
cgname=k1s-bench-shim-$$
cleanup() {
  for h in /sys/fs/cgroup/*/ /sys/fs/cgroup/unified/; do rmdir "$h$cgname"/* "$h$cgname" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

SHIM=$("$K1S" shim install "$tmp/bin") || { echo "shim.sh: k1s shim install failed" >&2; exit 1; }
rootfs=$tmp/rootfs
mkdir -p "$rootfs"/{bin,proc,dev,sys,tmp,etc} "$tmp/logs"
cp /bin/busybox "$rootfs/bin/busybox"
for a in sh sleep; do ln -s busybox "$rootfs/bin/$a"; done

# Inside the namespaces: start N shims (detached, as the kubelet starts them), let them go idle,
# print one "shim <kB>", "workload <kB>" line per shim and one "sleep <kB>" line per anchor.
inner='
set -euo pipefail
SHIM=$1 tmp=$2 rootfs=$3 cg=$4 n=$5
ip link set lo up
uss() { awk "/^Private_(Clean|Dirty):/ {s += \$2} END {print s}" /proc/$1/smaps_rollup; }
for i in $(seq 1 "$n"); do
  d=$tmp/c$i
  mkdir -p "$d"
  printf "{\"id\":\"c%s\",\"lowerDirs\":[\"%s\"],\"args\":[\"sleep\",\"3600\"],\"env\":[\"PATH=/bin\"],\"hostname\":\"bench\",\"cgroupPath\":\"%s/c%s\",\"logPath\":\"%s/logs/c%s.log\"}" \
    "$i" "$rootfs" "$cg" "$i" "$tmp" "$i" >"$d/spec.json"
  exec 3>"$d/ready"
  "$SHIM" shim run "$d" 3
  exec 3>&-
  for _ in $(seq 1 250); do grep -q . "$d/ready" && break; sleep 0.02; done  # the detached shim reports
  grep -q "\"pid\"" "$d/ready" || { echo "shim $i did not start: $(cat "$d/ready" "$d/shim.log" 2>/dev/null)" >&2; exit 1; }
  sleep 3600 & anchors+=($!)
done
sleep 1  # idle: start-up work done, pages settled
for i in $(seq 1 "$n"); do
  st=$(cat "$tmp/c$i/state.json")
  shim=$(sed -E "s/.*\"shimPid\":([0-9]+).*/\\1/" <<<"$st")
  wl=$(sed -E "s/.*\"pid\":([0-9]+).*/\\1/" <<<"$st")
  echo "shim $(uss "$shim")"
  echo "shimrss $(awk "/^Rss:/ {print \$2}" /proc/$shim/smaps_rollup)"
  echo "workload $(uss "$wl")"
done
for p in "${anchors[@]}"; do echo "sleep $(uss "$p")"; done
for i in $(seq 1 "$n"); do
  wl=$(sed -E "s/.*\"pid\":([0-9]+).*/\\1/" "$tmp/c$i/state.json")
  kill -KILL "$wl" 2>/dev/null || true
done
for i in $(seq 1 "$n"); do
  for _ in $(seq 1 100); do [[ -e $tmp/c$i/exit.json ]] && break; sleep 0.02; done
done
'
out=$(unshare --net --mount --pid --fork --mount-proc bash -c "$inner" shim-bench "$SHIM" "$tmp" "$rootfs" "$cgname" "$N")

stats() {  # kB on stdin -> "min median max" in KiB
  sort -n | awk '{a[NR]=$1} END {m = NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2; printf "%8d %8d %8d", a[1], m, a[NR]}'
}
row() { printf '%-40s %5d %s\n' "$2" "$(grep -c "^$1 " <<<"$out")" "$(grep "^$1 " <<<"$out" | cut -d' ' -f2 | stats)"; }
printf '%-40s %5s %8s %8s %8s\n' "idle process USS (KiB)" n min median max
row sleep "coreutils sleep (anchor)"
row workload "busybox sleep in the container (anchor)"
row shim "k1s shim (target <= 1024)"
row shimrss "k1s shim RSS (shared pages included)"
