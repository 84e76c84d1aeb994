#!/usr/bin/env bash
# Configures and builds one preset (release, debug, asan, tsan) with Ninja.
set -euo pipefail
preset=${1:-release}
cd "$(dirname "$0")/.."
jobs=${IOSTACK_JOBS:-$(nproc)}
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"
