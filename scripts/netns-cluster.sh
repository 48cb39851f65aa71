#!/bin/bash
# A small cluster on one machine, for gridmr's multi-host test and for trying
# multi-node runs: hosts h1..hN are Linux network namespaces joined by a bridge,
# so ranks on different "hosts" talk over real TCP. Needs root (or CAP_NET_ADMIN
# and CAP_SYS_ADMIN) and the ip, unshare and mount tools.
#
#   scripts/netns-cluster.sh up              make h1..hN (NODES, default 3), 10.77.0.i/24
#   scripts/netns-cluster.sh run ARGS...     mpirun ARGS on h1, ranks over h1..hN
#   scripts/netns-cluster.sh exec HOST CMD   run CMD "on" HOST
#   scripts/netns-cluster.sh cut HOST        pull HOST's network cable; `mend HOST` puts it back
#   scripts/netns-cluster.sh down            remove everything "up" made
#
# Every host gets its own host name (UTS namespace), /etc/hosts naming all hosts,
# a folder of its own at $GRIDMR_NETNS_DIR/local (a private tmpfs): a
# node-local folder of the same name on every host. Everything else is shared
# (/sys too, with the cgroup file systems slurmd needs),
# as a cluster's shared file system would be. `run` applies the TCP keepalive
# settings that README's "Running across nodes" recommends, so that a dead host
# or a cut link ends the job in about ten seconds.
#
# Adapted for gridmr from a reference netns recipe; nothing here touches the
# root network namespace, and `down` removes only what `up` recorded.
set -euo pipefail

base=${GRIDMR_NETNS_DIR:-${TMPDIR:-/tmp}/gridmr-netns}
nodes=${NODES:-3}
net=${GRIDMR_NETNS_NET:-10.77.0}
prefix=${GRIDMR_NETNS_PREFIX:-h}
slots=${SLOTS:-1}
bridge_ns=${prefix}br
state=$base/state        # namespaces made by `up`, one per line
table=$base/nodes        # "<ip> <namespace>" per host, for the agent
hosts=$base/hosts        # bind-mounted over /etc/hosts on every host
hostfile=$base/hostfile  # Open MPI hostfile
agent=$base/agent        # the "ssh" Open MPI's launcher uses

say() { echo "netns-cluster: $*" >&2; }
ours() { [[ -f $state ]] && grep -qx "$1" "$state"; }

make_ns() {
  if [[ -e /run/netns/$1 ]]; then
    ours "$1" || { say "namespace $1 exists and is not ours; refusing"; exit 1; }
  else
    ip netns add "$1"
    echo "$1" >>"$state"
  fi
  ip -n "$1" link set lo up
}

# The agent: `agent HOST COMMAND...` runs COMMAND as sshd would (words joined,
# bash -c) inside HOST's network namespace, with its host name, hosts file and
# node-local folder.
write_agent() {
  cat >"$agent" <<EOF
#!/bin/sh
while [ \$# -gt 0 ]; do
  case \$1 in -[bcDEeFIiJLlmOopQRSWw]) shift 2 ;; -*) shift ;; *) break ;; esac
done
host=\$1; shift
ns=\$(awk -v h="\$host" '\$1 == h || \$2 == h { print \$2; exit }' "$table")
[ -n "\$ns" ] || { echo "netns agent: unknown host '\$host'" >&2; exit 255; }
exec nsenter --net=/run/netns/"\$ns" unshare --mount --uts -- sh -c '
  hostname "\$1" && mount --bind "\$2" /etc/hosts && mount -t tmpfs -o size=64m local "\$3" || exit 255
  exec bash -c "\$4"' agent "\$ns" "$hosts" "$base/local" "\$*"
EOF
  chmod 755 "$agent"
}

up() {
  # `ip netns add` runs `mount --make-rslave /`: a chroot whose root is no mount point refuses
  # it half-way (leaving a bind mount of /run/netns). Say so before.
  mountpoint -q / || { say "the root is not a mount point (a chroot?): ip netns cannot work here"; exit 1; }
  mkdir -p "$base/local" "$base/tmp"
  touch "$state"
  make_ns "$bridge_ns"
  ip -n "$bridge_ns" link show br0 >/dev/null 2>&1 || ip -n "$bridge_ns" link add br0 type bridge
  ip -n "$bridge_ns" link set br0 up
  : >"$table"
  printf '127.0.0.1 localhost\n' >"$hosts"
  : >"$hostfile"
  for i in $(seq "$nodes"); do
    local ns=$prefix$i ip=$net.$i
    make_ns "$ns"
    ip -n "$bridge_ns" link show "v$ns" >/dev/null 2>&1 ||
      ip -n "$bridge_ns" link add "v$ns" type veth peer name eth0 netns "$ns"
    ip -n "$bridge_ns" link set "v$ns" master br0 up
    ip -n "$ns" addr replace "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    echo "$ip $ns" >>"$table"
    echo "$ip $ns" >>"$hosts"
    echo "$ns slots=$slots" >>"$hostfile"
  done
  write_agent
  if command -v ping >/dev/null; then  # iputils-ping is optional: mpirun finds out too
    for i in $(seq "$nodes"); do
      for j in $(seq "$nodes"); do
        [[ $i == "$j" ]] && continue
        ip netns exec "$prefix$i" ping -c1 -W2 -q "$net.$j" >/dev/null 2>&1 ||
          { say "no route from $prefix$i to $net.$j"; exit 1; }
      done
    done
  fi
  say "up: $(seq -s ' ' -f "$prefix%g" "$nodes")"
}

down() {
  [[ -f $state ]] || return 0
  local ns pids
  for ns in $(cat "$state"); do
    [[ -e /run/netns/$ns ]] || continue
    pids=$(ip netns pids "$ns" | xargs)
    if [[ -n $pids ]]; then
      kill -TERM $pids 2>/dev/null || true
      sleep 1
      pids=$(ip netns pids "$ns" | xargs)
      [[ -z $pids ]] || kill -KILL $pids 2>/dev/null || true
    fi
    ip netns del "$ns"
  done
  rm -rf "$state" "$table" "$hosts" "$hostfile" "$agent" "$base/tmp"
  rmdir "$base/local" "$base" 2>/dev/null || true
}

# mpirun on h1. Open MPI reaches the other hosts through the agent and uses TCP
# on the cluster's network only; keepalives find a dead host or link quickly.
run() {
  [[ -f $table ]] || { say "not up (run: $0 up)"; exit 1; }
  local -a host_args=(--hostfile "$hostfile")
  local a
  for a in "$@"; do
    case $a in --hostfile | -hostfile | --host | -host | -H | --machinefile) host_args=() ;; esac
  done
  local -a cmd=(mpirun "${host_args[@]}"
    --mca plm_rsh_agent "$agent" --mca plm_rsh_no_tree_spawn 1
    --mca orte_tmpdir_base "$base/tmp"
    --mca btl tcp,self --mca btl_tcp_if_include "$net.0/24" --mca oob_tcp_if_include "$net.0/24"
    --mca oob_tcp_keepalive_time 5 --mca oob_tcp_keepalive_intvl 2 --mca oob_tcp_keepalive_probes 3
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM "$@")
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  exec "$agent" "${prefix}1" "cd $(printf %q "$PWD") && exec $(printf '%q ' "${cmd[@]}")"
}

case ${1:-} in
  up) up ;;
  down) down ;;
  run) shift; run "$@" ;;
  exec) shift; host=$1; shift; exec "$agent" "$host" "$(printf '%q ' "$@")" ;;
  cut) ip -n "$bridge_ns" link set "v$2" down ;;
  mend) ip -n "$bridge_ns" link set "v$2" up ;;
  *) echo "usage: $0 up | run MPIRUN-ARGS... | exec HOST CMD... | cut HOST | mend HOST | down" >&2; exit 2 ;;
esac
