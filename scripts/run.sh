#!/usr/bin/env bash
# Quick start, part 1: install what is needed, build, run the default job.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh release
if [ $# -eq 0 ]; then set -- examples/default.fio; fi
exec build/release/iostack run "$@"
