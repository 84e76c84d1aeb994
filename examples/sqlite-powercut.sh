#!/bin/sh
# The sqlite3 shell inserting rows into a database file on an iostack device
# with a volatile write cache, its power cut at a random block write, many
# times. After each cut the surviving database (and its WAL) is opened with
# the host's sqlite3: every row the shell reported committed must be there
# and PRAGMA integrity_check must say ok.
#   usage: sqlite-powercut.sh [CUTS [SYNCHRONOUS [IOSTACK [JOURNAL]]]]
#   SYNCHRONOUS: FULL (default), EXTRA or OFF
#   JOURNAL: WAL (default: the db and its WAL are two mapped files, the
#   connection holds an exclusive lock) or DELETE (the rollback journal: the
#   database's directory is mapped, sqlite3 creates and deletes db-journal
#   in it and fsyncs the directory; normal locking) or WALDIR (WAL with
#   normal locking in a mapped directory: sqlite3 maps db-shm MAP_SHARED)
# Prints one summary line; exits 1 when a committed row was lost or a
# database was corrupt.
set -eu
cuts=${1:-50}
sync=${2:-FULL}
iostack=${3:-iostack}
journal=${4:-WAL}
dir=$(mktemp -d /tmp/sqlite-powercut.XXXXXX)
trap 'rm -rf "$dir"' EXIT

{
  if [ "$journal" = WAL ]; then
    echo "PRAGMA locking_mode=EXCLUSIVE;"
    echo "PRAGMA journal_mode=WAL;"
  elif [ "$journal" = WALDIR ]; then
    echo "PRAGMA journal_mode=WAL;"
  else
    echo "PRAGMA journal_mode=$journal;"
  fi
  echo "PRAGMA synchronous=$sync;"
  echo "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT);"
  i=1
  while [ $i -le 150 ]; do
    echo "INSERT INTO t(v) VALUES(printf('%0300d', $i)); SELECT 'committed', $i;"
    i=$((i + 1))
  done
} >"$dir/work.sql"

runs=0 lost_runs=0 lost_rows=0 corrupt=0 committed_total=0
seed=1
while [ $runs -lt "$cuts" ]; do
  rm -rf "$dir/db" "$dir/db-wal" "$dir/img.db" "$dir/img.wal" "$dir/out" "$dir/d" "$dir/check"
  if [ "$journal" = WAL ]; then
    "$iostack" exec \
      --map "$dir/db=wcache,order=any,seed=$seed:ram:16M" \
      --map "$dir/db-wal=wcache,order=any,seed=$((seed + 1000)):ram:16M" \
      --image "$dir/db=$dir/img.db" --image "$dir/db-wal=$dir/img.wal" \
      --powercut=random,seed=$seed,calls=400 \
      -- sqlite3 "$dir/db" <"$dir/work.sql" >"$dir/out" 2>/dev/null && rc=0 || rc=$?
  else
    "$iostack" exec \
      --map "$dir/d/=wcache,order=any,seed=$seed:ram:16M" --image "$dir/d/=$dir/check" \
      --powercut=random,seed=$seed,calls=400 \
      -- sqlite3 "$dir/d/db" <"$dir/work.sql" >"$dir/out" 2>/dev/null && rc=0 || rc=$?
  fi
  seed=$((seed + 1))
  [ $rc -eq 137 ] || continue # the workload ended before the cut
  committed=$(grep -c '^committed' "$dir/out" || true)
  if [ "$journal" = WAL ]; then
    mkdir -p "$dir/check" && rm -f "$dir/check/"*
    cp "$dir/img.db" "$dir/check/db"
    [ -f "$dir/img.wal" ] && cp "$dir/img.wal" "$dir/check/db-wal"
  fi
  # The database may not exist yet (its name was never durable).
  [ -f "$dir/check/db" ] || : >"$dir/check/db"
  check=$(sqlite3 "$dir/check/db" "PRAGMA integrity_check;" 2>&1 || true)
  # No table yet (nothing of it durable) is no row, not corruption.
  rows=$(sqlite3 "$dir/check/db" "SELECT count(*) FROM t;" 2>/dev/null || true)
  case $rows in '' | *[!0-9]*) rows=0 ;; esac
  [ "$check" = ok ] || corrupt=$((corrupt + 1))
  if [ "$rows" -lt "$committed" ]; then
    lost_runs=$((lost_runs + 1))
    lost_rows=$((lost_rows + committed - rows))
  fi
  committed_total=$((committed_total + committed))
  runs=$((runs + 1))
done
echo "journal=$journal synchronous=$sync cuts=$runs committed=$committed_total lost_rows=$lost_rows runs_with_loss=$lost_runs corrupt=$corrupt"
[ $lost_rows -eq 0 ] && [ $corrupt -eq 0 ]
