#!/usr/bin/env bash
# A long differential fuzzing campaign: io_uring and AIO on the kernel and
# on iostack, seeds 1..N (default 20000), summary by class at the end.
#   bash scripts/fuzz.sh [N] [extra iostack-fuzz options]
# Builds iostack-fuzz (release) first. The range runs as slices side by side
# (IOSTACK_FUZZ_JOBS, default twice the CPUs: the tool mostly waits). Exit
# status 1 when a seed differs outside tools/fuzz/known-differences.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20000}
shift || true
cmake --preset release >/dev/null
cmake --build build/release --target iostack-fuzz
status=0
jobs=${IOSTACK_FUZZ_JOBS:-$((2 * $(nproc)))}
for what in uring aio; do
  ./build/release/iostack-fuzz "$what" --seeds "$n" --jobs "$jobs" --allow-file tools/fuzz/known-differences.txt "$@" ||
    status=1
done
exit $status
