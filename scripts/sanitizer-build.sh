#!/usr/bin/env bash
# Configures and builds a clang sanitizer build (CMakeLists.txt, K1S_SANITIZE), the one way the
# CI stages make them: `make sanitize` (scripts/sanitize-ci.sh) and `make fuzz` (scripts/fuzz-ci.sh)
# share build-asan, whose ASan+UBSan libraries the fuzz targets link.
#   scripts/sanitizer-build.sh DIR address|thread TARGET...
# Environment: JOBS (2, compile jobs). Prints one line with the time; on failure, the log's tail.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$1 san=$2
shift 2
extra=()
[[ $san == address ]] && extra=(-DK1S_FUZZ=ON)
mkdir -p "$dir"
cmake -S . -B "$dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DK1S_SANITIZE="$san" "${extra[@]}" >"$dir/configure.log" 2>&1 || { cat "$dir/configure.log" >&2; exit 1; }
t0=$(date +%s)
echo ">> building $* ($san) in $dir (${JOBS:-2} jobs)"
if ! cmake --build "$dir" --target "$@" -j "${JOBS:-2}" >"$dir/sanitizer-build.log" 2>&1; then
  tail -n 40 "$dir/sanitizer-build.log" >&2
  echo "sanitizer-build: the build failed (log: $dir/sanitizer-build.log)" >&2
  exit 1
fi
echo ">> built in $(($(date +%s) - t0)) s"
