#!/usr/bin/env bash
# A first look at gyrus: lists the cognitive tasks and draws one trial of a few of them into out/.
# Usage: ./demo.sh
set -euo pipefail
cd "$(dirname "$0")"

cargo build --release -p gyrus-trainer
gyrus=target/release/gyrus

"$gyrus" tasks list --collection cog20
for task in dlygo dm1 dmsintr_seql; do
    "$gyrus" tasks show "$task" --out "out/$task.png"
done
echo "open out/dlygo.png to see a trial: inputs over time, periods, and the target below"
