#!/usr/bin/env bash
# The main job of gyrus, end to end, in a few minutes on 2 cores:
#   1. train a locally wired RNN (16 x 16 sheet, radius 2) on the 20 cognitive tasks of Yang et al.,
#   2. prune and export it as a model blob (f32 + int8),
#   3. run the blob on an emulated Cortex-M4F board (QEMU mps2-an386) and print the board's log:
#      per-task performance, wiring length, instructions per step.
# Installs what it lacks (QEMU, the thumbv7em target, defmt-print) first.
# Usage: ./demo.sh [steps]      (default 2000 gradient steps)
set -euo pipefail
cd "$(dirname "$0")"
steps=${1:-2000}
run=runs/demo

.ci/install-tools
cargo build --release -p gyrus-trainer
gyrus=target/release/gyrus

if [ -f "$run/config.toml" ]; then
    "$gyrus" train --resume "$run"
else
    "$gyrus" train --sheet 16x16 --family local --radius 2 --collection cog20 --steps "$steps" \
        --seed 1 --eval-every 250 --out "$run"
fi
"$gyrus" eval "$run"
"$gyrus" export "$run" --out "$run/model.gyrus" --quantize int8
"$gyrus" inspect "$run/model.gyrus" --out "$run/sheet.png"
"$gyrus" tasks show dlygo --out "$run/dlygo-trial.png"

echo "==> running $run/model.gyrus on the emulated Cortex-M4F (QEMU mps2-an386)"
(cd firmware && GYRUS_MODEL="../$run/model.gyrus" cargo run --release 2>&1) \
    | grep -Ev '^(INFO +)?PARITY (tasks|out)'
echo "done: $run holds the run (config.toml, metrics.jsonl, checkpoint), the blob and sheet.png"
