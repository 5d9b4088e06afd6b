#!/usr/bin/env bash
# CI stage `make sanitize`: the sanitizer builds of issue 16, clang, each in a build directory of
# its own (CMakeLists.txt, K1S_SANITIZE says what each instruments):
#   build-asan  ASan+UBSan: every unit test, then a few e2e tests against the instrumented daemon
#               (and the k1s CLI the tests call); any report from any k1s process fails the stage.
#               `make fuzz` then links its targets against the same libraries.
#   build-tsan  TSan: the tests of the code that shares state between threads the most (informers,
#               work queue, controllers, store, the API server's pool) in k1s_tsan_tests.
#   scripts/sanitize-ci.sh             both
#   scripts/sanitize-ci.sh address     only one of them (address | thread)
# Environment: JOBS (2, compile jobs), K1S_ASAN_E2E (the e2e tests run under ASan, a ctest regex).
set -euo pipefail
cd "$(dirname "$0")/.."

E2E=${K1S_ASAN_E2E:-'e2e_(test_api_decode|test_curl_and_auth|test_kubectl_create|test_numbers_lab|test_streams)$'}
WANT=("$@")
((${#WANT[@]})) || WANT=(address thread)

scripts/install-deps.sh fuzz  # clang and its sanitizer runtimes (the same set the fuzz stage needs)

# Reports go to files (one per process: the daemon, each CLI call, each test binary) so that one
# from a process whose exit code nobody checks still fails the stage.
reports() {  # dir
  local dir=$1 found
  found=$(find "$dir" -maxdepth 1 -type f -name 'report.*' -size +0 | sort)
  if [[ -n $found ]]; then
    for f in $found; do echo "== $f" >&2; head -n 60 "$f" >&2; done
    echo "sanitize: $(echo "$found" | wc -l) sanitizer report(s) in $dir" >&2
    return 1
  fi
}

run_address() {
  local dir=build-asan logs
  scripts/sanitizer-build.sh "$dir" address k1s_unit_tests k1s lab_images
  logs=$(realpath "$dir")/sanitizer-reports
  rm -rf "$logs" && mkdir -p "$logs"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$logs/report"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$logs/report"
  local t0
  t0=$(date +%s)
  echo ">> unit tests under ASan+UBSan"
  "$dir/k1s_unit_tests" --no-version --minimal || { reports "$logs" || true; exit 1; }
  reports "$logs"
  echo ">> unit tests passed in $(($(date +%s) - t0)) s"
  t0=$(date +%s)
  # The daemon and the CLI leave through _exit or a signal in places (forked children, the
  # harness's SIGKILL rounds): leak checking there reports what the kernel frees anyway.
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=0:log_path=$logs/report"
  echo ">> e2e tests against the ASan+UBSan daemon: $E2E"
  (cd "$dir" && ctest --output-on-failure -R "$E2E") || { reports "$logs" || true; exit 1; }
  reports "$logs"
  echo ">> e2e tests passed in $(($(date +%s) - t0)) s"
  unset ASAN_OPTIONS UBSAN_OPTIONS
}

run_thread() {
  local dir=build-tsan logs
  scripts/sanitizer-build.sh "$dir" thread k1s_tsan_tests
  logs=$(realpath "$dir")/sanitizer-reports
  rm -rf "$logs" && mkdir -p "$logs"
  local t0
  t0=$(date +%s)
  echo ">> controller, informer and store tests under TSan"
  TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/report" \
    "$dir/k1s_tsan_tests" --no-version --minimal || { reports "$logs" || true; exit 1; }
  reports "$logs"
  echo ">> TSan tests passed in $(($(date +%s) - t0)) s"
}

for w in "${WANT[@]}"; do
  case $w in
    address) run_address ;;
    thread) run_thread ;;
    *) echo "sanitize: '$w' is address or thread" >&2; exit 2 ;;
  esac
done
