#!/usr/bin/env bash
# Stops what slurm/local/start.sh started (known by its pid files), after cancelling
# the jobs of that cluster. Leaves alone daemons it did not start.
set -uo pipefail
dir=${GRIDMR_SLURM_DIR:-/tmp/gridmr-slurm}
say() { echo "slurm-local: $*"; }
running() {
  [[ -s $1 ]] || return 1
  local pid
  pid=$(<"$1")
  [[ -d /proc/$pid && "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$2" ]]
}
stop_daemon() {  # stop_daemon PIDFILE NAME
  if running "$1" "$2"; then
    local pid
    pid=$(<"$1")
    kill -TERM "$pid"
    for _ in $(seq 150); do [[ -d /proc/$pid ]] || break; sleep 0.1; done
    [[ -d /proc/$pid ]] && kill -KILL "$pid"
    say "$2 stopped"
  fi
  rm -f "$1"
}
if running "$dir/run/slurmctld.pid" slurmctld; then
  jobs=$(squeue -h -o %A 2>/dev/null || true)
  if [[ -n $jobs ]]; then
    say "cancelling jobs $(echo $jobs)"
    scancel $jobs 2>/dev/null || true
    for _ in $(seq 100); do [[ -z "$(squeue -h -o %A 2>/dev/null)" ]] && break; sleep 0.2; done
  fi
fi
stop_daemon "$dir/run/slurmd.pid" slurmd
stop_daemon "$dir/run/slurmctld.pid" slurmctld
stop_daemon "$dir/run/munged.pid" munged
if [[ -e $dir/run/cgroup-mounted ]]; then
  umount -R /sys/fs/cgroup && rm -f "$dir/run/cgroup-mounted" && say "cgroup file systems unmounted"
fi
exit 0
