#!/usr/bin/env bash
# Stops the cluster that start-cluster.sh started in DIR, by the pids in DIR/*.pid: first its
# jobs, then slurmd, slurmctld and munged (SIGTERM, then SIGKILL after 10 s).
# Usage: stop-cluster.sh DIR
set -uo pipefail
dir=$(realpath -m "$1")
if [ -s "$dir/slurmctld.pid" ]; then
    SLURM_CONF="$dir/slurm.conf" squeue -h -o %A 2>/dev/null | sort -u | SLURM_CONF="$dir/slurm.conf" xargs -r scancel 2>/dev/null
fi
for name in slurmd slurmctld munged; do
    f="$dir/$name.pid"
    [ -s "$f" ] || continue
    pid=$(cat "$f")
    if kill -TERM "$pid" 2>/dev/null; then
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
done
exit 0
