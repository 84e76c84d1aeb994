#!/usr/bin/env bash
# Installs everything iostack needs to build and test on Debian 12. Idempotent.
set -euo pipefail
# dpkg-dev (dpkg-shlibdeps) and file: cpack -G DEB and the packaging test;
# clang: the thread-safety build (preset clang-tsa); sqlite3: the power-cut example;
# mariadb-server: a database server on iostack (tests/compat/mariadb_test.cpp starts
# its own server, on a data directory of its own); plocate: an io_uring reader (Plocate.*);
# thin-provisioning-tools: libaio readers and writers of dm-thin metadata (ThinTools.*);
# stressapptest: O_DIRECT libaio writes and checked reads from three threads (Stressapptest.*);
# chromium: a browser's headless screenshot of the SVG charts (Plot.BrowserRendersNotBlank;
# 25 packages, 124 MB to download, 405 MB installed, about a minute to install).
pkgs=(build-essential cmake ninja-build pkg-config dpkg-dev file
      libgtest-dev libgmock-dev libbenchmark-dev
      libfmt-dev libcli11-dev nlohmann-json3-dev
      liburing-dev libaio-dev libboost-dev
      blktrace fio qemu-utils sysbench sqlite3 mariadb-server plocate
      thin-provisioning-tools stressapptest clang clang-format ccache chromium)
# Optional (--with-optional): tests that skip cleanly without them. librsvg2-bin
# draws iostack's SVG charts (Plot.RsvgRendersNotBlank); gnuplot-nox lets fio's
# fio_generate_plots draw iostack's log files (FioLogs.FioGeneratePlotsReadsThem).
if [ "${1:-}" = "--with-optional" ]; then pkgs+=(librsvg2-bin gnuplot-nox); fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
