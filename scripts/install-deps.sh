#!/usr/bin/env bash
# Installs the Debian 12 packages k1s needs to build, run, test and benchmark, on a plain Debian 12
# (the fresh-machine stage of .ci/run proves it in a bookworm root made by mmdebstrap).
# Idempotent and quick when everything is present: apt runs only for what is missing.
#   scripts/install-deps.sh run|test|bench|fuzz
set -euo pipefail

# Build: what CMakeLists.txt finds and links, by the target that needs it. Every static archive
# (k1s_static_library) and every -l library named there has its -dev package here.
BUILD_PKGS=(
  cmake ninja-build g++ make pkg-config   # the toolchain; cmake >= 3.25, C++20
  nlohmann-json3-dev                      # every target: nlohmann_json
  libcpp-httplib-dev                      # k1s_common, apiserver, cli: pkg-config cpp-httplib (shared .so)
  libssl-dev                              # k1s_common, apiserver: OpenSSL::SSL/Crypto (TLS, certificates)
  zlib1g-dev                              # k1s_common, kubelet: ZLIB::ZLIB (SPDY header compression, gzip layers)
  libyaml-cpp-dev                         # k1s_common: libyaml-cpp.a
  libsqlite3-dev                          # k1s_apiserver: libsqlite3.a (and SQLite::SQLite3 for bench/)
  libnl-3-dev libnl-route-3-dev           # k1s_kubelet: libnl-3.a, libnl-route-3.a (veth, bridge, addresses)
  libarchive-dev                          # k1s_kubelet: libarchive.a (image layers and archives)
  libbz2-dev liblzma-dev libzstd-dev      # k1s_kubelet: libbz2.a, liblzma.a, libzstd.a (libarchive's codecs)
  libacl1-dev                             # k1s_kubelet: libacl.a (libarchive's ACL support)
  libseccomp-dev                          # k1s-shim, k1s_kubelet: libseccomp.a (containers' seccomp filters)
  doctest-dev                             # k1s_unit_tests
  libxml2-dev nettle-dev                  # k1s_unit_tests: -lxml2 -lnettle (libarchive's writers, see CMakeLists.txt)
  busybox-static                          # images/: /bin/busybox is the sleep lab image
)
# make run: the daemon's host tools.
RUN_PKGS=(
  iptables          # netproxy: iptables-restore / -save (service rules, masquerade)
  iproute2          # the e2e harness and bench/ (ip netns, ip link)
  conntrack         # netproxy: drops stale UDP flows when endpoints change
  curl ca-certificates  # make run waits for /readyz with curl
)
# make test: the real clients and tools the tests drive.
TEST_PKGS=(
  python3 python3-kubernetes python3-yaml  # tests/e2e (harness, the official Python client)
  umoci skopeo      # test_image_import builds OCI images with them
  chromium          # test_browser (driven by playwright-core from npm, below)
  npm               # test_browser: Node.js and npm (Debian's: Node 18)
  bsdutils          # `script` (a pty for kubectl exec -it) in test_streams
  mount             # mount/umount: the e2e harness's clean-up, test_kubelet's probes
)
# make bench: load generators and the reference servers the benchmarks measure against
# (dnsmasq-base is the bare binary: no system service is started on install). bench/ also uses
# the test tools (skopeo, umoci, python3).
BENCH_PKGS=(dnsperf dnsmasq-base wrk hyperfine
  crun)             # bench/container_start.sh compares the shim with a real OCI runtime

# make fuzz (scripts/fuzz-ci.sh): clang and libFuzzer's runtime. clang-14 only recommends
# libclang-rt-14-dev, which holds libclang_rt.fuzzer (and the ASan/UBSan runtimes), and this
# script installs without recommends.
FUZZ_PKGS=(clang libclang-rt-14-dev)

# playwright-core 1.62+ needs Node.js 20; Debian 12's nodejs is 18. 1.61.1 is the last release
# that runs on both (engines ">=18"), and pinning it keeps the browser test reproducible.
PLAYWRIGHT_VERSION=1.61.1

want=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}")
case "${1:-run}" in
  run) ;;
  test) want+=("${TEST_PKGS[@]}") ;;
  bench) want+=("${TEST_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
  fuzz) want+=("${FUZZ_PKGS[@]}") ;;
  *) echo "usage: $0 run|test|bench|fuzz" >&2; exit 2 ;;
esac
if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi

installed() { [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]; }
missing=()
for p in "${want[@]}"; do
  # A Node.js from elsewhere (NodeSource's nodejs brings its own npm and conflicts with Debian's
  # npm package) already provides what the browser test needs.
  if [[ $p == npm ]] && command -v npm >/dev/null && command -v node >/dev/null; then continue; fi
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo ">> installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Browser test (tests/e2e/test_browser): playwright-core from npm drives Debian's chromium. It goes
# to a cache outside the tree. Offline is not fatal here: the browser test then says what is missing.
if [[ "${1:-run}" == test || "${1:-run}" == bench ]]; then
  npm_dir=${K1S_NPM_DIR:-/var/cache/k1s/npm}
  have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$npm_dir/node_modules/playwright-core/package.json" 2>/dev/null || true)
  if [[ $have != "$PLAYWRIGHT_VERSION" ]]; then
    echo ">> installing playwright-core@$PLAYWRIGHT_VERSION (npm) into $npm_dir"
    mkdir -p "$npm_dir"
    if ! out=$(npm install --prefix "$npm_dir" --no-audit --no-fund --no-save --silent \
                 "playwright-core@$PLAYWRIGHT_VERSION" 2>&1); then
      echo ">> npm could not install playwright-core ($(printf '%s\n' "$out" | grep -m1 -i err || true));" \
           "tests/e2e/test_browser will fail until" \
           "'npm install --prefix $npm_dir playwright-core@$PLAYWRIGHT_VERSION' succeeds" >&2
    fi
  fi
fi
