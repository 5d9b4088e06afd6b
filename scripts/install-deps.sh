#!/usr/bin/env bash
# Installs the Debian 12 packages k1s needs to build, run and test.
# Idempotent and quick when everything is present: apt runs only for what is missing.
set -euo pipefail
BUILD_PKGS="busybox-static cmake g++ ninja-build pkg-config libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev
  libnl-3-dev libnl-route-3-dev doctest-dev libyaml-cpp-dev libssl-dev libarchive-dev zlib1g-dev"
RUN_PKGS="iptables iproute2 conntrack curl ca-certificates"
TEST_PKGS="python3-kubernetes python3-yaml busybox-static umoci skopeo crun"
# bench/: load generators and the reference servers the benchmarks measure against
# (dnsmasq-base is the bare binary: no system service is started on install).
BENCH_PKGS="dnsperf dnsmasq-base wrk hyperfine"
want="$BUILD_PKGS $RUN_PKGS"
case "${1:-run}" in
  test) want="$want $TEST_PKGS" ;;
  bench) want="$want $BENCH_PKGS" ;;
esac
missing=()
for p in $want; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo ">> installing Debian packages: ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
