#!/usr/bin/env bash
# Checks that #include "layer/..." lines point only down the layering of
# DESIGN.md (block never includes sched/ or dev/, and so on). Prints each
# offending line as FILE:LINE: text and exits 1; exits 0 when all is well.
# Also checks that every source file starts with a comment saying what it holds.
set -euo pipefail
cd "$(dirname "$0")/.."

# What each folder may include besides itself ("iostack" is the public C API).
declare -A allowed=(
  [src/core]="core iostack"
  [src/trace]="trace core"
  [src/task]="task core iostack"
  [src/block]="block task trace core"
  [src/sched]="sched block task trace core"
  [src/dev]="dev block task trace core"
  [src/uring]="uring block task trace core iostack"
  [src/aio]="aio block task trace core iostack"
  [src/ring]="iostack"
  [src/map]="map dev block task trace core iostack"
  [src/job]="job dev block task trace core iostack"
  [tools]="job map dev block trace core iostack"
  [compat]="iostack"
)
# The one internal header the interposer needs: the engine's fault fixups.
exceptions='^compat/preload/(sigchain\.c:.*"core/uaccess_hook\.h"|raw\.h:.*"core/raw_syscall\.h")'

status=0
for dir in "${!allowed[@]}"; do
  ok=" ${allowed[$dir]} "
  while IFS= read -r hit; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$hit")
    [[ "$ok" == *" $target "* ]] && continue
    [[ "$hit" =~ $exceptions ]] && continue
    echo "$hit   <- $dir may not include $target/"
    status=1
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" --include='*.cpp' --include='*.hpp' \
             --include='*.h' --include='*.c' --include='*.S' || true)
done

# Every source file opens with a one-line comment (or a #! line) saying what it holds.
while IFS= read -r f; do
  head -n 1 "$f" | grep -qE '^(//|/\*|#!)' && continue
  echo "$f:1: $(head -n 1 "$f")   <- a source file starts with a comment saying what it holds"
  status=1
done < <(git ls-files 'src/*' 'compat/*' 'tools/*' 'bench/*' 'tests/*' 'include/*' 'examples/*' |
           grep -E '\.(c|h|cpp|hpp|S)$')
exit $status
