#!/usr/bin/env bash
# A real single-node Slurm on loopback for testing gridmr's sbatch scripts: munge,
# slurmctld and slurmd from Debian, started without systemd. Idempotent: daemons
# that already run (started by this script) are kept. Run as root.
#   GRIDMR_SLURM_DIR   state, spool, logs, pid files (default /tmp/gridmr-slurm)
#   GRIDMR_SLURM_WAIT  seconds to wait for the node to become idle (default 60)
# With --only-munge it installs the packages and starts munged, and stops there.
set -euo pipefail
dir=${GRIDMR_SLURM_DIR:-/tmp/gridmr-slurm}
wait_s=${GRIDMR_SLURM_WAIT:-60}
conf=/etc/slurm/slurm.conf
stamp="# written by gridmr slurm/local/start.sh"
say() { echo "slurm-local: $*"; }
fail() { echo "slurm-local: error: $*" >&2; exit 1; }
[[ $EUID -eq 0 ]] || fail "run as root (it starts system daemons)"

running() {  # running PIDFILE NAME: the pid file names a live process called NAME
  [[ -s $1 ]] || return 1
  local pid
  pid=$(<"$1")
  [[ -d /proc/$pid && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]]
}

# Packages: only the missing ones.
missing=()
for p in munge slurmctld slurmd slurm-client; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 ||
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; }
fi
mkdir -p "$dir"/{state,spool,log,run} /etc/slurm

# Slurm's daemons and commands look up "localhost" and this host's name. A
# bare root without /etc/hosts (a chroot) sends those to DNS, and every Slurm
# command then waits for it: name them as Debian's installer does.
for name in localhost "$(hostname)"; do
  if ! getent hosts "$name" >/dev/null; then
    echo "127.0.0.1 $name" >>/etc/hosts
    say "added $name to /etc/hosts (it did not resolve)"
  fi
done

# slurmd will not start without the cgroup file systems. Every booted Debian
# has them; a bare chroot or a container may not: mount the kernel's
# hierarchies there as this process sees them in /proc/self/cgroup (v2 alone,
# or v1 controllers beside a v2 "unified" one). stop.sh unmounts them.
mount_cgroups() {
  if ! grep -qv '^0::' /proc/self/cgroup; then
    mount -t cgroup2 cgroup2 /sys/fs/cgroup
    return
  fi
  mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
  local controllers
  while IFS=: read -r _ controllers _; do
    if [[ -z $controllers ]]; then
      mkdir -p /sys/fs/cgroup/unified && mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
    else
      mkdir -p "/sys/fs/cgroup/${controllers#name=}"
      mount -t cgroup -o "$controllers" cgroup "/sys/fs/cgroup/${controllers#name=}"
    fi
  done </proc/self/cgroup
}
if [[ -d /sys/fs/cgroup ]] && ! mountpoint -q /sys/fs/cgroup; then
  touch "$dir/run/cgroup-mounted"
  mount_cgroups || fail "no cgroup file system, and cannot mount one"
  say "mounted the cgroup file systems on /sys/fs/cgroup (there were none)"
fi

# munge: a key, and munged running as user munge (it refuses root).
if [[ ! -s /etc/munge/munge.key ]]; then
  mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge && chmod 700 /etc/munge && chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 755 /run/munge /var/lib/munge /var/log/munge
if running "$dir/run/munged.pid" munged || (munge -n | unmunge) >/dev/null 2>&1; then
  say "munged is running"
else
  rm -f /run/munge/munged.pid
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do (munge -n | unmunge) >/dev/null 2>&1 && break; sleep 0.1; done
  (munge -n | unmunge) >/dev/null 2>&1 || fail "munged did not start (/var/log/munge/munged.log)"
  cp /run/munge/munged.pid "$dir/run/munged.pid"  # ours: stop.sh may stop it
  say "munged started"
fi

# --only-munge: the packages and munged alone (slurm/local/nodes.sh runs its own daemons).
[[ ${1:-} == --only-munge ]] && exit 0

# slurm.conf for this machine as slurmd sees it.
hardware=$(slurmd -C | head -1)
field() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" <<<"$hardware"; }
config="$stamp
ClusterName=gridmr-local
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
# Debian's Open MPI is built for PMIx only: srun --mpi=pmix.
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
# A job that can never fit is rejected at once instead of pending (and sbatch --wait hanging).
EnforcePartLimits=ALL
ReturnToService=2
MinJobAge=600
KillWait=5
InactiveLimit=0
MailProg=/bin/true
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(field CPUs) SocketsPerBoard=$(field SocketsPerBoard) CoresPerSocket=$(field CoresPerSocket) ThreadsPerCore=$(field ThreadsPerCore) RealMemory=$(( $(field RealMemory) * 9 / 10 )) State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
restart=0
if [[ ! -f $conf || "$(<"$conf")" != "$config" ]]; then
  if [[ -f $conf ]] && ! grep -qF "$stamp" "$conf"; then
    cp -p "$conf" "$conf.before-gridmr.$(date +%s)"
    say "kept the previous $conf as $conf.before-gridmr.*"
  fi
  printf '%s\n' "$config" >"$conf"
  restart=1
fi

stop_daemon() {  # stop_daemon PIDFILE NAME
  running "$1" "$2" || return 0
  local pid
  pid=$(<"$1")
  kill "$pid"
  for _ in $(seq 100); do [[ -d /proc/$pid ]] || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}
if ((restart)); then
  stop_daemon "$dir/run/slurmd.pid" slurmd
  stop_daemon "$dir/run/slurmctld.pid" slurmctld
fi
running "$dir/run/slurmctld.pid" slurmctld || { /usr/sbin/slurmctld -i; say "slurmctld started"; }
running "$dir/run/slurmd.pid" slurmd || { /usr/sbin/slurmd -N localhost; say "slurmd started"; }

state=""
for _ in $(seq $((wait_s * 5))); do
  state=$(sinfo -h -n localhost -o %T 2>/dev/null | head -1 || true)
  case $state in
    idle | mixed | allocated) break ;;
    *drain* | down*) scontrol update NodeName=localhost State=RESUME 2>/dev/null || true ;;
  esac
  sleep 0.2
done
case $state in
  idle | mixed | allocated) ;;
  *) tail -n 20 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
     fail "node localhost is not ready (state '$state')" ;;
esac
timeout 60 srun -N1 -n1 true || fail "srun cannot run a task"
say "ready: node localhost $state, $(field CPUs) CPUs, logs in $dir/log"
