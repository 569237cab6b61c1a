#!/usr/bin/env bash
# fuzz.sh [BUILD_DIR] [SECONDS]: builds the libFuzzer targets (configure --enable-fuzz
# CC=clang-14, in BUILD_DIR, default build-fuzz) and runs each for SECONDS (default
# $FUZZ_SECONDS or 30) under ASan+UBSan against a copy of tests/fuzz/corpus/<target>/.
# Exits non-zero on a finding; what was found is left in BUILD_DIR/fuzz-out/<target>/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
dir="${1:-build-fuzz}" secs="${2:-${FUZZ_SECONDS:-30}}"
command -v clang-14 >/dev/null || cr_die "clang-14 is missing (cr_install_packages installs it)"
cr_build "$dir" --enable-fuzz CC=clang-14
make -C "$dir" fuzz FUZZ_SECONDS="$secs"
