#!/usr/bin/env bash
# setup.sh -- installs what fleetq needs on Debian 12 (when run as root and
# something is missing) and builds it. Used by the demo and the test runner.
#
#   deploy/setup.sh [BUILD_DIR [extra cmake args...]]
#
# BUILD_DIR defaults to ./build in the repository root. FLEETQ_EXTRA_PACKAGES
# names more Debian packages to install.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
shift || true

packages=(build-essential cmake pkg-config
          libhiredis-dev libcurl4-openssl-dev libcjson-dev libuv1-dev libsqlite3-dev
          libmicrohttpd-dev libcmocka-dev libssl-dev
          redis-server redis-tools sqlite3 curl jq procps file)
# the test suite adds its own tools (valgrind, clang for the fuzzers, ...)
read -r -a extra <<<"${FLEETQ_EXTRA_PACKAGES:-}"
packages+=("${extra[@]}")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: missing Debian packages: ${missing[*]}" >&2
        echo "setup: run as root, or install them: apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
echo "setup: built in $build" >&2
