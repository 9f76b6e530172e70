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

phase "install tools" .ci/install-tools

# Runtime, trainer (unit and command-line tests), and the cross-crate parity tests, among them
# tests/tests/firmware_parity.rs, which builds the firmware and runs it under QEMU.
phase "cargo test --workspace" cargo test --workspace
# The runtime as the firmware builds it (without its default feature `misaligned`).
phase "runtime without misaligned" cargo test -p gyrus-runtime --no-default-features \
    --features std,tasks --test misaligned

echo "all tests passed"
