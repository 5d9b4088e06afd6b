#!/usr/bin/env bash
# CI stage `make fuzz`: builds the libFuzzer targets of tests/fuzz with clang in the ASan+UBSan
# build the sanitizer stage made (build-asan: they link its instrumented libraries) and runs each one for a fixed number of executions from a copy of
# its seed corpus (the run never writes into the repository), two at a time. Prints one line per
# target (executions, seconds, result) and fails on any crash, leak, timeout or out-of-memory.
#   scripts/fuzz-ci.sh                    all targets, 1,000,000 executions each
#   FUZZ_RUNS=20000 scripts/fuzz-ci.sh dns spdy     a quick look at some of them
# Environment: K1S_FUZZ_BUILD_DIR (build-asan), FUZZ_RUNS (1000000), FUZZ_JOBS (2, parallel
# targets), JOBS (2, compile jobs), FUZZ_SEED (1: the mutations are the same in every run, so a
# commit that passed passes again; another seed explores further).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${K1S_FUZZ_BUILD_DIR:-build-asan}
RUNS=${FUZZ_RUNS:-1000000}
SEED=${FUZZ_SEED:-1}
PAR=${FUZZ_JOBS:-2}
TIMEOUT=25       # seconds for one input before libFuzzer calls it a hang
RSS_MB=2048      # per target process (ASan's shadow and the in-memory corpus included)

# Targets, slowest first so the two slots end together, with the longest input each reads
# (-max_len): inputs stay the size real clients send.
TARGETS=(json:4096 yaml:4096 patch:4096 jsonpath:256 spdy:4096 websocket:4096 selector:256 dns:2048
         quantity:8192)
if (($#)); then
  picked=()
  for want in "$@"; do
    found=
    for t in "${TARGETS[@]}"; do [[ ${t%%:*} == "$want" ]] && picked+=("$t") && found=1; done
    [[ -n $found ]] || { echo "fuzz: no target '$want' (have: ${TARGETS[*]%%:*})" >&2; exit 2; }
  done
  TARGETS=("${picked[@]}")
fi

t0=$(date +%s)
scripts/install-deps.sh fuzz

scripts/sanitizer-build.sh "$BUILD" address k1s_fuzz_all
t1=$(date +%s)
echo ">> built in $((t1 - t0)) s; running ${#TARGETS[@]} targets, $RUNS executions each, $PAR at a time"

WORK=$BUILD/fuzz-run
rm -rf "$WORK"
mkdir -p "$WORK"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {  # name max_len
  local name=$1 maxlen=$2 dir=$WORK/$1
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -r tests/fuzz/corpus/"$name"/. "$dir/corpus/"
  local start end rc=0
  start=$(date +%s%N)
  "$BUILD/tests/fuzz/k1s_fuzz_$name" -seed="$SEED" -runs="$RUNS" -max_len="$maxlen" -timeout="$TIMEOUT" \
      -rss_limit_mb="$RSS_MB" -detect_leaks=1 -print_final_stats=1 \
      -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1 || rc=$?
  end=$(date +%s%N)
  # CPU seconds of the fuzzer (children's user + sys): what the target costs, whatever else
  # the machine is running at the same time.
  # (times runs in this shell: in a pipe or $(...) it would see a subshell without children)
  local cpu
  times >"$dir/times"
  cpu=$(tail -n1 "$dir/times" | awk '{ split($1, u, /[ms]/); split($2, s, /[ms]/); printf "%.1f", u[1] * 60 + u[2] + s[1] * 60 + s[2] }')
  echo "$rc $(((end - start) / 1000000)) $cpu" >"$dir/status"
}

running=0
for t in "${TARGETS[@]}"; do
  if ((running >= PAR)); then
    wait -n || true
    running=$((running - 1))
  fi
  run_one "${t%%:*}" "${t##*:}" &
  running=$((running + 1))
done
wait || true

failed=0
printf '%-10s %12s %8s %8s  %s\n' target executions seconds cpu-s result
for t in "${TARGETS[@]}"; do
  name=${t%%:*}
  dir=$WORK/$name
  read -r rc ms cpu <"$dir/status" || { rc=1; ms=0; cpu=0; }
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n1)
  [[ -n $execs ]] || execs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$dir/log" | tail -n1)
  execs=${execs:-0}
  if grep -q 'ERROR: LeakSanitizer' "$dir/log"; then result="LEAK"
  elif grep -q 'ERROR: libFuzzer: timeout' "$dir/log"; then result="TIMEOUT"
  elif grep -q 'out-of-memory' "$dir/log"; then result="OUT OF MEMORY"
  elif ((rc != 0)); then result="CRASH (exit $rc)"
  elif ((execs < RUNS)); then result="SHORT (fewer than $RUNS executions)"
  else result="ok"
  fi
  printf '%-10s %12s %6d.%d %8s  %s\n' "$name" "$execs" $((ms / 1000)) $((ms % 1000 / 100)) "$cpu" "$result"
  if [[ $result != ok ]]; then
    failed=1
    echo "---- $name: last lines of $dir/log"
    grep -v '^#[0-9]\|NEW_FUNC' "$dir/log" | tail -n 40 | sed 's/^/   /'
    ls "$dir/artifacts"/* 2>/dev/null | sed 's/^/   artifact: /' || true
  fi
done
echo ">> fuzz stage: $(( $(date +%s) - t0 )) s in all (load average now: $(cut -d' ' -f1-3 /proc/loadavg))"
if ((failed)); then
  echo "fuzz: FAILED (inputs in $WORK/*/artifacts; rerun one with $BUILD/tests/fuzz/k1s_fuzz_<target> <file>)" >&2
  exit 1
fi
