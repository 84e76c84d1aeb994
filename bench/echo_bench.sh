#!/bin/sh
# Echo round trips per second over loopback (examples/net/uring_echo.c):
# the kernel's io_uring, iostack's (drop-in liburing under a seccomp filter
# that refuses the kernel's io_uring) and a plain epoll server, with 1 and
# 64 connections.
#   bench/echo_bench.sh [BUILD_DIR]   (default build/release)
set -eu
build=${1:-build/release}
echo_bin=$build/tests/compat/uring_echo
seccomp=$build/tests/compat/seccomp_exec
dropin=$build/lib/iostack
for f in "$echo_bin" "$seccomp"; do
  [ -x "$f" ] || { echo "echo_bench: $f missing: build test_compat first" >&2; exit 1; }
done
rate() { "$@" 2>&1 >/dev/null | sed -n 's/^round trips\/s: //p'; }
printf '%-6s %12s %12s %12s %8s\n' conns kernel iostack epoll ratio
for spec in "1 20000 64" "64 1000 64"; do
  set -- $spec
  k=$(rate "$echo_bin" "$@")
  o=$(LD_LIBRARY_PATH=$dropin rate "$seccomp" "$echo_bin" "$@")
  e=$(rate "$echo_bin" --epoll "$@")
  printf '%-6s %12s %12s %12s %8s\n' "$1" "$k" "$o" "$e" "$(awk "BEGIN{printf \"%.2f\", $o/$k}")"
done
