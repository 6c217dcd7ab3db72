#!/usr/bin/env bash
# Install what the benchmarks compare against: pigz, lbzip2 and xz (Debian packages) and
# the Python anchors and plotting (the project's `bench` extra). Needs root or sudo for
# apt-get; installs only what is missing. `--tools` installs only the Debian packages
# (what tests/benchmarks/test_quick_mode.py does on CI).
set -euo pipefail
cd "$(dirname "$0")/.."
packages=()
command -v pigz >/dev/null 2>&1 || packages+=(pigz)
command -v lbzip2 >/dev/null 2>&1 || packages+=(lbzip2)
command -v xz >/dev/null 2>&1 || packages+=(xz-utils)
if [ ${#packages[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
[ "${1:-}" = "--tools" ] || python -m pip install -q -e ".[bench]"
