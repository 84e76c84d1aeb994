#!/usr/bin/env bash
# Quick start, part 2: install, build, and run the whole test suite: the
# release build, then again under AddressSanitizer + UndefinedBehaviorSanitizer,
# then under ThreadSanitizer; before them the include-direction check and the
# clang thread-safety build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
echo "=== include directions, file header comments"
bash scripts/check-layers.sh
jobs=${IOSTACK_JOBS:-$(nproc)}
# Lock contracts: clang's thread-safety analysis with warnings as errors.
# A build only (unoptimised, no tests or benchmarks), so it costs little.
echo "=== clang-tsa: build"
IOSTACK_JOBS=$jobs bash scripts/build.sh clang-tsa
status=0
failed=()
flaky=()
for preset in ${IOSTACK_PRESETS:-release asan tsan}; do
  echo "=== $preset: build"
  bash scripts/build.sh "$preset"
  echo "=== $preset: test"
  case $preset in
    asan) export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
    tsan) export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ;;
  esac
  if ctest --preset "$preset" -j "$jobs" --timeout 600 --output-on-failure; then continue; fi
  # Many tests compare with the kernel inside short waits, which a loaded
  # machine can stretch (on either side). A failure is run again alone, with
  # its output; one that passes then is reported, one that fails again fails
  # the job.
  list="build/$preset/Testing/Temporary/LastTestsFailed.log"
  cp "$list" "build/$preset/Testing/first-failures.log"
  echo "=== $preset: failed tests, run again one at a time, with their output"
  cat "$list"
  if ctest --preset "$preset" --rerun-failed --output-on-failure --timeout 600; then
    flaky+=("$preset: $(cut -d: -f2 "build/$preset/Testing/first-failures.log" | paste -sd' ')")
  else
    status=1
    failed+=("$preset")
  fi
done
# CI shows only the end of the log: repeat the outcome there.
for line in "${flaky[@]}"; do echo "=== failed under load, passed alone: $line"; done
for preset in "${failed[@]}"; do
  echo "=== $preset: failed again when run alone"
  cat "build/$preset/Testing/Temporary/LastTestsFailed.log" || true
done
exit $status
