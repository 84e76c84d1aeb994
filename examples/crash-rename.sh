#!/bin/sh
# `iostack crash` on the classic atomic update of a file (write data.tmp,
# fsync it, rename it over data, fsync the directory, acknowledge in ack):
# the program's directory is an iostack device recorded by log-writes, and
# every crash state of the record is checked: data must hold a whole
# version, at least the last one acknowledged. Run once with the fsync of
# the directory and once without it.
#   usage: crash-rename.sh [IOSTACK [RENAME_UPDATE]]
#   (RENAME_UPDATE: tests/compat/rename_update.c, built in the build tree)
# Prints each variant's summary; exits 1 unless only the variant without
# the directory fsync has inconsistent states.
set -eu
iostack=${1:-iostack}
prog=${2:-build/release/tests/compat/rename_update}
dir=$(mktemp -d /tmp/crash-rename.XXXXXX)
trap 'rm -rf "$dir"' EXIT

status=0
for variant in good nodirsync; do
  rm -rf "$dir/d" "$dir/log"
  "$iostack" exec --map "$dir/d/=log-writes,log=$dir/log:ram:4M" -- "$prog" write "$dir/d" "$variant"
  "$iostack" crash --log "$dir/log" --image "$dir/img" --dir "$dir/files" \
    -- "$prog" check "$dir/files" >"$dir/out" 2>/dev/null && rc=0 || rc=$?
  echo "$variant: $(tail -n 1 "$dir/out")"
  case $variant:$rc in good:0 | nodirsync:2) ;; *) status=1 ;; esac
done
exit $status
