#!/bin/sh
# `iostack crash` on the classic atomic update of a file (write data.tmp,
# fsync it, rename it over data, fsync the directory, acknowledge in ack):
# the program's directory is an iostack device recorded by log-writes, and
# every crash state of the record is checked: data must hold a whole
# version, at least the last one acknowledged. Run once with the fsync of
# the directory and once without it.
#   usage: crash-rename.sh [IOSTACK [PROGRAM]]
#   PROGRAM: sh (default: the update as a shell script of coreutils: printf,
#   sync FILE, sync DIR, mv) or the path of tests/compat/rename_update.c's
#   binary (build/release/tests/compat/rename_update)
# Prints each variant's summary; exits 1 unless only the variant without
# the directory fsync has inconsistent states.
set -eu
iostack=${1:-iostack}
prog=${2:-sh}
dir=$(mktemp -d /tmp/crash-rename.XXXXXX)
trap 'rm -rf "$dir"' EXIT

if [ "$prog" = sh ]; then
  cat >"$dir/update" <<'END'
#!/bin/sh
# update DIR good|nodirsync
set -e
d=$1
printf 1111111111 >"$d/data" && sync "$d/data"
: >"$d/ack" && sync "$d"
echo 1 >"$d/ack" && sync "$d/ack"
printf 2222222222 >"$d/data.tmp" && sync "$d/data.tmp"
mv "$d/data.tmp" "$d/data"
if [ "$2" = good ]; then sync "$d"; fi
echo 2 >"$d/ack" && sync "$d/ack"
END
  cat >"$dir/check" <<'END'
#!/bin/sh
# check DIR: data whole, and at least the version ack names
d=$1
ack=$(cat "$d/ack" 2>/dev/null || true)
if [ ! -e "$d/data" ]; then [ -z "$ack" ]; exit; fi
case $(cat "$d/data") in 1111111111) v=1 ;; 2222222222) v=2 ;; *) exit 1 ;; esac
[ -z "$ack" ] || [ "$v" -ge "$ack" ]
END
  chmod +x "$dir/update" "$dir/check"
  write="$dir/update"
  check="$dir/check"
else
  write="$prog write"
  check="$prog check"
fi

status=0
for variant in good nodirsync; do
  rm -rf "$dir/d" "$dir/log"
  # shellcheck disable=SC2086 # $write is a command and its first argument
  "$iostack" exec --map "$dir/d/=log-writes,log=$dir/log:ram:4M" -- $write "$dir/d" "$variant"
  # shellcheck disable=SC2086
  "$iostack" crash --log "$dir/log" --image "$dir/img" --dir "$dir/files" \
    -- $check "$dir/files" >"$dir/out" 2>/dev/null && rc=0 || rc=$?
  echo "$variant: $(tail -n 1 "$dir/out")"
  case $variant:$rc in good:0 | nodirsync:2) ;; *) status=1 ;; esac
done
exit $status
