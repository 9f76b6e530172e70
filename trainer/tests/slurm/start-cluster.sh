#!/usr/bin/env bash
# Starts a private single-node Slurm cluster (munged, slurmctld, slurmd) whose every file lives in
# DIR, for tests: its own munge key and socket, its own ports, state, logs and pid files. Nothing
# in /etc or /run is touched, so it can run beside a real Slurm or another test cluster.
# Needs root (slurmd launches jobs as their user) and the Debian packages slurm-wlm and munge.
#
# Usage: start-cluster.sh DIR
# On success prints `export SLURM_CONF=DIR/slurm.conf`; clients (sbatch, squeue, srun) need it.
# Pids: DIR/munged.pid, DIR/slurmctld.pid, DIR/slurmd.pid (stop them with stop-cluster.sh DIR).
set -euo pipefail
dir=$(realpath -m "$1")
mkdir -p "$dir"/{state,spool,munge}
chmod 755 "$dir"
chmod 755 "$dir/munge"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# munge: a fresh key of our own, our own socket.
mungekey --create --keyfile="$dir/munge/munge.key" --force >/dev/null 2>&1 \
    || dd if=/dev/urandom of="$dir/munge/munge.key" bs=128 count=1 status=none
chmod 400 "$dir/munge/munge.key"
munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munged.seed"
for _ in $(seq 50); do
    munge -S "$dir/munge/munge.socket" -n </dev/null | unmunge -S "$dir/munge/munge.socket" >/dev/null 2>&1 && break
    sleep 0.1
done

# The node's real shape (configuring more CPUs or memory than there are drains the node).
shape=$(slurmd -C | head -1)
get() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$shape"; }
cpus=$(get CPUs); sockets=$(get SocketsPerBoard); cores=$(get CoresPerSocket); threads=$(get ThreadsPerCore)
mem=$(( $(get RealMemory) * 9 / 10 ))

cat >"$dir/slurm.conf" <<CONF
ClusterName=gyrustest
SlurmctldHost=localhost
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
NodeName=localhost CPUs=$cpus Sockets=$sockets CoresPerSocket=$cores ThreadsPerCore=$threads RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N localhost
for _ in $(seq 150); do
    sinfo -h -n localhost -o %T 2>/dev/null | grep -qx idle && break
    sleep 0.2
done
if ! sinfo -h -n localhost -o %T | grep -qx idle; then
    echo "the node did not become idle in 30 s; logs in $dir" >&2
    exit 1
fi
echo "export SLURM_CONF=$SLURM_CONF"
