#!/usr/bin/env bash
# Fuzzes token decoding/verification and request-body parsing (fuzz/fuzz_targets/) for a
# bounded time each, starting from the seed corpus in fuzz/corpus/. Usage:
#   bash .ci/fuzz.sh [seconds per target, default 60]
#   bash .ci/fuzz.sh build        only compile the targets (.ci/run does it in the background)
# A crash (a panic) or a hang fails the run and leaves its input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --debug --version 0.13.2
# cargo-fuzz hands rustc flags that only nightly accepts; this machine has stable alone, and
# RUSTC_BOOTSTRAP lets it take them, for this build only. No sanitizer: the code under test
# is safe Rust, and what we look for is panics and hangs. `--dev` (debug assertions, no
# optimisation): the release build of every dependency with coverage instrumentation kept CI
# waiting 11 minutes at 2 cores, for a search of a minute; unoptimised code runs each input a
# few times slower, and overflow checks are on either way.
export RUSTC_BOOTSTRAP=1
if [ "$seconds" = build ]; then
  cd fuzz && exec cargo fuzz build --dev --sanitizer none
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The two targets run side by side, one core each.
fuzz_one() {
  local target=$1 status=0
  cp -r "fuzz/corpus/$target" "$work/$target"
  (cd fuzz && cargo fuzz run --dev --sanitizer none "$target" "$work/$target" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1) \
      >"$work/$target.log" 2>&1 || status=$?
  echo "$status" >"$work/$target.status"
}
targets=(token request_body)
for target in "${targets[@]}"; do fuzz_one "$target" & done
wait

passed=0
failed=0
for target in "${targets[@]}"; do
  echo "== fuzz: $target for ${seconds}s"
  grep -E "INITED|DONE|stat::number_of_executed_units|ERROR|panicked|SUMMARY" "$work/$target.log" || true
  if [ "$(cat "$work/$target.status")" -eq 0 ]; then
    passed=$((passed + 1))
  else
    tail -40 "$work/$target.log"
    failed=$((failed + 1))
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
