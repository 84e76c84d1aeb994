#!/usr/bin/env bash
# The installed iostack, as its users get it, all in a temp dir:
#  1. cpack -G DEB; the .deb unpacked with dpkg-deb -x into a scratch root
#     (nothing is installed on this machine); its Depends come from
#     dpkg-shlibdeps; nop_client.c built with
#     `pkg-config --define-prefix --cflags --libs iostack` runs on it, and so
#     does a liburing program on the unpacked drop-ins (RUNPATH $ORIGIN/..).
#  2. cmake --install --prefix TMP; a CMake project finds it with
#     find_package(iostack) and its program runs.
# Exit 77 (skipped) in sanitizer or non-release builds or without the tools.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR BUILD_TYPE SANITIZE CMAKE CPACK CC GENERATOR
#                        [SECCOMP_EXEC URING_ONE_ENGINE]
set -euo pipefail
build=$1 src=$2 build_type=$3 sanitize=$4 cmake=$5 cpack=$6 cc=$7 generator=$8
seccomp_exec=${9:-} uring_one_engine=${10:-}

skip() { echo "skipped: $*"; exit 77; }
[ -z "$sanitize" ] || skip "sanitizer build ($sanitize): the package is made from release builds"
case $build_type in
  Release | RelWithDebInfo | MinSizeRel) ;;
  *) skip "CMAKE_BUILD_TYPE=$build_type: the package is made from release builds" ;;
esac
for tool in dpkg-deb dpkg-shlibdeps file pkg-config "$cpack"; do
  command -v "$tool" >/dev/null || skip "$tool is missing (Debian packages dpkg-dev, file, pkg-config)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/iostack-package-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# --- 1. the .deb ---
(cd "$tmp" && "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/deb" >"$tmp/cpack.log" 2>&1) ||
  { cat "$tmp/cpack.log"; fail "cpack"; }
deb=$(ls "$tmp"/deb/iostack_*.deb)
echo "package: $(basename "$deb")"
[ "$(dpkg-deb -f "$deb" Package)" = iostack ] || fail "package name"
depends=$(dpkg-deb -f "$deb" Depends)
echo "Depends: $depends"
[[ $depends == *libc6* && $depends == *libstdc++6* ]] || fail "Depends lacks libc6/libstdc++6"
[[ $depends != *liburing* && $depends != *libaio* ]] || fail "Depends names liburing/libaio"

root=$tmp/root
dpkg-deb -x "$deb" "$root"
pc=$(find "$root" -name iostack.pc)
[ -n "$pc" ] || fail "no iostack.pc in the package"
libdir=$(dirname "$(dirname "$pc")")
for f in libiostack.so.0 iostack/liburing.so.2 iostack/libaio.so.1 iostack/libiostack_preload.so; do
  [ -e "$libdir/$f" ] || fail "$f is not in the package's libdir"
done
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-prefix --cflags --libs iostack)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # the flags are words
"$cc" -o "$tmp/nop_pc" "$src/tests/install/nop_client.c" $flags
out=$(LD_LIBRARY_PATH=$libdir "$tmp/nop_pc")
echo "pkg-config build: $out"
[ "$out" = "nop res 0 user_data 42" ] || fail "nop_client via pkg-config"

if [ -n "$seccomp_exec" ] && [ -n "$uring_one_engine" ]; then
  out=$(LD_LIBRARY_PATH=$libdir/iostack LD_PRELOAD=$libdir/iostack/libiostack_preload.so \
    "$seccomp_exec" "$uring_one_engine") || { echo "$out"; fail "drop-ins from the package"; }
  echo "drop-ins from the package: ${out##*$'\n'}"
fi

# --- 2. cmake --install and find_package ---
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >"$tmp/install.log" || { cat "$tmp/install.log"; fail "cmake --install"; }
"$cmake" -S "$src/tests/install/consumer" -B "$tmp/consumer" -G "$generator" \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
  -DNOP_CLIENT_SOURCE="$src/tests/install/nop_client.c" >"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log"; fail "configuring the find_package(iostack) project"; }
"$cmake" --build "$tmp/consumer" >>"$tmp/consumer.log" 2>&1 ||
  { cat "$tmp/consumer.log"; fail "building the find_package(iostack) project"; }
# The imported target's library is the installed one (CMake's build RPATH).
out=$("$tmp/consumer/nop_client")
echo "find_package build: $out"
[ "$out" = "nop res 0 user_data 42" ] || fail "nop_client via find_package"
echo "ok"
