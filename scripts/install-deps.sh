#!/usr/bin/env bash
# Installs the Debian 12 packages k1s needs to build, run and test.
# Idempotent and quick when everything is present: apt runs only for what is missing.
set -euo pipefail
BUILD_PKGS="busybox-static cmake g++ ninja-build pkg-config libsqlite3-dev libcpp-httplib-dev nlohmann-json3-dev
  libnl-3-dev libnl-route-3-dev doctest-dev libyaml-cpp-dev libssl-dev libarchive-dev libzstd-dev libacl1-dev zlib1g-dev"
RUN_PKGS="iptables iproute2 conntrack curl ca-certificates"
TEST_PKGS="python3-kubernetes python3-yaml busybox-static umoci skopeo crun chromium"
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
# Browser test (tests/e2e/test_browser): playwright-core from npm drives Debian's chromium.
# It goes to a cache outside the tree; npm is Debian's unless a Node.js install already brings it
# (NodeSource's nodejs provides npm and conflicts with the Debian package). Offline is not fatal:
# the browser test then says what is missing.
if [[ "${1:-run}" == test ]]; then
  npm_dir=${K1S_NPM_DIR:-/var/cache/k1s/npm}
  if [[ ! -f $npm_dir/node_modules/playwright-core/package.json ]]; then
    if ! command -v npm >/dev/null; then
      echo ">> installing Debian package: npm"
      DEBIAN_FRONTEND=noninteractive ${SUDO:-} apt-get install -y -qq --no-install-recommends npm >/dev/null
    fi
    echo ">> installing playwright-core (npm) into $npm_dir"
    mkdir -p "$npm_dir"
    if ! npm install --prefix "$npm_dir" --no-audit --no-fund --silent playwright-core@1 >/dev/null 2>&1; then
      echo ">> npm could not install playwright-core (no network?); tests/e2e/test_browser will fail" \
           "until 'npm install --prefix $npm_dir playwright-core@1' succeeds" >&2
    fi
  fi
fi
