#!/usr/bin/env bash
# A real multi-node Slurm on one machine, for testing gridmr's sbatch scripts
# with --nodes=2 and more: every node is a host of scripts/netns-cluster.sh (its
# own network namespace, host name and node-local folder, real TCP between
# nodes), running its own slurmd; slurmctld runs on the first node. Its
# configuration is a file of its own (SLURM_CONF), so it never touches
# /etc/slurm/slurm.conf or the single-node cluster of start.sh. Run as root.
#
#   slurm/local/nodes.sh start          start NODES (default 2) nodes, wait until idle
#   slurm/local/nodes.sh run CMD...     run CMD on the first node (sbatch, squeue, ...)
#   slurm/local/nodes.sh stop           cancel its jobs, stop it, remove the namespaces,
#                                       its state and its logs
#
#   GRIDMR_SLURM_NODES_DIR  state, spool, logs (default /tmp/gridmr-slurm-nodes)
#   NODES                   the number of nodes (default 2)
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
dir=${GRIDMR_SLURM_NODES_DIR:-/tmp/gridmr-slurm-nodes}
export NODES=${NODES:-2}
export GRIDMR_NETNS_DIR=$dir/netns GRIDMR_NETNS_PREFIX=${GRIDMR_NETNS_PREFIX:-sn}
export GRIDMR_NETNS_NET=${GRIDMR_NETNS_NET:-10.78.0}
cluster=$repo/scripts/netns-cluster.sh
conf=$dir/slurm.conf
say() { echo "slurm-nodes: $*"; }
fail() { echo "slurm-nodes: error: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || fail "run as root (it makes namespaces and starts daemons)"

# CMD on node I, with this cluster's configuration.
on() {
  local node=$1
  shift
  "$cluster" exec "$GRIDMR_NETNS_PREFIX$node" env SLURM_CONF="$conf" "$@"
}

start() {
  mkdir -p "$dir"/{state,log}
  "$repo/slurm/local/start.sh" --only-munge >/dev/null  # packages and munged, shared by all nodes
  "$cluster" up >/dev/null
  local hardware field_cpus nodes_line=""
  hardware=$(slurmd -C | head -1)
  field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hardware"; }
  for i in $(seq "$NODES"); do
    nodes_line+="NodeName=$GRIDMR_NETNS_PREFIX$i NodeAddr=$GRIDMR_NETNS_NET.$i CPUs=$(field CPUs)"
    nodes_line+=" RealMemory=$(($(field RealMemory) * 9 / 10 / NODES)) State=UNKNOWN"$'\n'
  done
  # Each node's spool and pid file live in its node-local folder (a private tmpfs).
  cat >"$conf" <<EOF
ClusterName=gridmr-nodes
SlurmctldHost=${GRIDMR_NETNS_PREFIX}1($GRIDMR_NETNS_NET.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$GRIDMR_NETNS_DIR/local/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$GRIDMR_NETNS_DIR/local/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd-%n.log
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
${nodes_line}PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # PMIx keeps its per-step folders under /tmp by default, shared by all these
  # nodes: give each node its own, in its node-local folder (mpi.conf sits
  # beside slurm.conf).
  echo "PMIxCliTmpDirBase=$GRIDMR_NETNS_DIR/local/pmix" >"$dir/mpi.conf"
  # Daemons stay in their node's namespaces; `stop` ends them with the namespaces.
  on 1 /usr/sbin/slurmctld -i -f "$conf"
  for i in $(seq "$NODES"); do
    on "$i" sh -c "mkdir -p $GRIDMR_NETNS_DIR/local/spool $GRIDMR_NETNS_DIR/local/pmix && exec /usr/sbin/slurmd -f $conf -N $GRIDMR_NETNS_PREFIX$i"
  done
  local idle=0
  for _ in $(seq 300); do
    idle=$(on 1 sinfo -h -o '%T %D' 2>/dev/null | awk '$1 == "idle" { print $2 }' | head -1)
    [[ ${idle:-0} -eq $NODES ]] && break
    sleep 0.2
  done
  if [[ ${idle:-0} -ne $NODES ]]; then
    tail -n 20 "$dir"/log/*.log >&2 || true
    fail "only ${idle:-0} of $NODES nodes became idle"
  fi
  say "ready: $NODES nodes (${GRIDMR_NETNS_PREFIX}1-$NODES), logs in $dir/log; run commands with: $0 run CMD"
}

stop() {
  [[ -f $conf && -f $GRIDMR_NETNS_DIR/nodes ]] && on 1 scancel --full --quiet -u root 2>/dev/null || true
  "$cluster" down
  rm -rf "$dir/state" "$dir/log" "$conf" "$dir/mpi.conf" "$dir/slurmctld.pid"
  rmdir "$dir" 2>/dev/null || true
}

case ${1:-} in
  start) start ;;
  stop) stop ;;
  run) shift; on 1 "$@" ;;
  *) echo "usage: $0 start | run CMD... | stop" >&2; exit 2 ;;
esac
