#!/usr/bin/env bash
# The test command of gyrus: every test of every crate. CI (.ci/run) calls exactly this script.
# Usage: ./test.sh
set -euo pipefail
cd "$(dirname "$0")"

phase() {
    local name=$1
    shift
    local start=$SECONDS
    echo "==> test: $name"
    "$@"
    echo "<== test: $name took $((SECONDS - start)) s"
}

# Host: runtime, trainer (unit and command-line tests), cross-crate parity tests.
phase "cargo test --workspace" cargo test --workspace

# --- firmware tests (QEMU, thumbv7em-none-eabihf) -------------------------------------------------
# The firmware part adds its phase here, e.g.:
#   phase "firmware on QEMU" <command>
# ---------------------------------------------------------------------------------------------------

echo "all tests passed"
