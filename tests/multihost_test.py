#!/usr/bin/python3
"""gridmr across three hosts: network namespaces joined by a bridge, ranks talking over real TCP
(scripts/netns-cluster.sh). Results identical to one host for word count (3 x 1 and 3 x 2 ranks),
Monte Carlo, a farm of Python workers, a farm whose --items only rank 0's host has, and a stream
job of Python functions; a remote rank killed with SIGKILL, a cut network link, an output folder that
each host has on its own, and SIGTERM during the write: each ends within seconds, with a line
that names the cause, no output, no partial or lock file, and no process left on any host.
Exits 77 (skipped) where namespaces cannot be made (no root, no ip tool)."""
import argparse
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from gridmr_testlib import (ENV, check, expected_counts, finish, mpirun, named_netns_possible,
                            read_result, same_datasets, words_of)

REPO = pathlib.Path(__file__).resolve().parent.parent
CLUSTER = REPO / "scripts" / "netns-cluster.sh"


class Cluster:
    """Three hosts, named uniquely for this test run, removed at the end."""

    def __init__(self, work):
        tag = f"g{os.getpid() % 100000}"
        self.hosts = [f"{tag}h{i}" for i in (1, 2, 3)]
        self.env = dict(ENV, GRIDMR_NETNS_DIR=str(work / "netns"), GRIDMR_NETNS_PREFIX=f"{tag}h",
                        GRIDMR_NETNS_NET=f"10.77.{os.getpid() % 250 + 1}", NODES="3")
        self.local = work / "netns" / "local"  # a folder of its own on every host

    def script(self, *args, **kw):
        return subprocess.run([str(CLUSTER), *args], env=self.env, capture_output=True, text=True, **kw)

    def up(self):
        proc = self.script("up", timeout=60)
        return proc.returncode == 0, proc.stderr.strip()

    def down(self):
        self.script("down", timeout=60)

    def start(self, args, extra_env=()):
        """mpirun ARGS on the first host (Popen, text output)."""
        forward = [a for name in extra_env for a in ("-x", name)]
        return subprocess.Popen([str(CLUSTER), "run", *forward, *args], env=dict(self.env, **dict(extra_env)),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self, args, timeout=120):
        proc = self.start(args)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err

    def pids(self, host):
        """Processes inside a host's network namespace."""
        proc = subprocess.run(["ip", "netns", "pids", host], capture_output=True, text=True)
        return [int(p) for p in proc.stdout.split()]

    def gridmr_pids(self, host):
        found = []
        for pid in self.pids(host):
            try:
                if pathlib.Path(f"/proc/{pid}/comm").read_text().startswith("gridmr"):
                    found.append(pid)
            except OSError:
                pass
        return found

    def leftovers(self, wait=15.0):
        """Processes still inside any host after up to `wait` seconds."""
        deadline = time.monotonic() + wait
        while True:
            left = {h: self.pids(h) for h in self.hosts if self.pids(h)}
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)


def wait_for(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def files_left(out):
    """Files of output `out` (the result, partial, lock and shared-file-pointer files)."""
    return sorted(p.name for p in out.parent.glob(out.name + "*"))


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    g = os.path.abspath(args.gridmr)
    if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
        print("skipped: needs root and the ip and unshare tools (iproute2, util-linux)")
        sys.exit(77)
    # Probe first, and skip before `ip netns add` where it would fail half-way and leave a bind
    # mount of /run/netns behind: it needs network namespaces (a throw-away one must work) and
    # a root that is a mount point (it runs `mount --make-rslave /`, which a chroot refuses).
    if not named_netns_possible():
        print("skipped: cannot make named network namespaces here (unshare --net, or / is no mount point)")
        sys.exit(77)
    with tempfile.TemporaryDirectory(prefix="gridmr-multihost-") as tmp:
        work = pathlib.Path(tmp)
        cluster = Cluster(work)
        ok, why = cluster.up()
        if not ok:
            cluster.down()
            print(f"skipped: cannot make network namespaces here: {why}")
            sys.exit(77)
        try:
            run_cases(cluster, g, args.inputs, work)
        finally:
            cluster.down()
    finish()


def run_cases(cluster, g, inputs, work):
    h1, h2, h3 = cluster.hosts
    out_dir = work / "out"
    out_dir.mkdir()

    # Identical results: word count at 3 x 1 and 3 x 2 ranks, Monte Carlo at 3 x 1, against one host.
    proc = mpirun(g, 1, ["wordcount", "--threads", "1", "--quiet", "-o", str(out_dir / "wc-local.h5"), inputs])
    local_wc, _ = read_result(out_dir / "wc-local.h5")
    expected = expected_counts([inputs])
    for label, placement in (("3 hosts x 1 rank", ["-np", "3"]),
                             ("3 hosts x 2 ranks", ["-np", "6", "--host", f"{h1}:2,{h2}:2,{h3}:2"])):
        out = out_dir / "wc.h5"
        rc, stdout, err = cluster.run([*placement, g, "wordcount", "--threads", "1", "--force",
                                       "--unit-size", "256KiB", "-o", str(out), inputs])
        if rc != 0:
            check(f"word count, {label}: runs", False, f"exit {rc}: {err.strip()}")
            continue
        datasets, attrs = read_result(out)
        check(f"word count, {label}: exact counts", words_of(datasets)[1] == expected)
        check(f"word count, {label}: datasets identical to one host", not same_datasets(local_wc, datasets),
              str(same_datasets(local_wc, datasets)))
        hosts = {h.decode() if isinstance(h, bytes) else h for h in datasets["stats/ranks"]["host"]}
        check(f"word count, {label}: ranks ran on all three hosts", hosts == {h1, h2, h3}, str(hosts))
    mc = ["montecarlo", "--threads", "1", "--samples", "2e8", "--unit-samples", "3e6", "--seed", "5"]
    mpirun(g, 1, [*mc, "--quiet", "-o", str(out_dir / "mc-local.h5")])
    rc, _, err = cluster.run(["-np", "3", g, *mc, "-o", str(out_dir / "mc.h5")])
    same = rc == 0 and not same_datasets(read_result(out_dir / "mc-local.h5")[0], read_result(out_dir / "mc.h5")[0])
    check("Monte Carlo, 3 hosts x 1 rank: datasets identical to one host", same, f"exit {rc}: {err.strip()}")

    # Users' Python functions across hosts: a farm's long-lived workers, and a stream job's
    # mapper and reducer, each identical to one host (but for where and how long items ran).
    examples = REPO / "examples" / "python"
    py = "/usr/bin/python3"
    jobs = {
        "farm --worker": ["farm", "--range", "300", "--worker",
                          f"{py} {examples}/montecarlo_worker.py 2000"],
        "stream with Python functions": [
            "stream", "--mapper", f"{py} {examples}/functions_wordcount.py map",
            "--reducer", f"{py} {examples}/functions_wordcount.py reduce", inputs],
    }
    for label, job in jobs.items():
        local = out_dir / "functions-local.h5"
        mpirun(g, 1, [*job, "--threads", "2", "--quiet", "--force", "-o", str(local)])
        out = out_dir / "functions.h5"
        rc, _, err = cluster.run(["-np", "3", g, *job, "--threads", "2", "--quiet", "--force",
                                  "-o", str(out)])
        if rc != 0 or not local.exists():
            check(f"{label}, 3 hosts x 1 rank x 2 threads: runs", False, f"exit {rc}: {err.strip()}")
            continue
        one, three = read_result(local)[0], read_result(out)[0]
        differ = [n for n in same_datasets(one, three) if n not in ("farm/rank", "farm/seconds")]
        check(f"{label}, 3 hosts x 1 rank x 2 threads: datasets identical to one host", not differ,
              str(differ))
        hosts = {h.decode() if isinstance(h, bytes) else h for h in three["stats/ranks"]["host"]}
        check(f"{label}: ranks ran on all three hosts", hosts == {h1, h2, h3}, str(hosts))
        if "farm/rank" in three:
            check(f"{label}: every host's rank ran items", set(three["farm/rank"]) == {0, 1, 2},
                  str(set(three["farm/rank"])))

    # A farm's --items on rank 0's host only (in h1's node-local folder, written there by rank 0
    # before gridmr starts): the items travel with their units, and the result is identical to
    # one host's run over a copy of the file; the other hosts' ranks never see the file.
    names = [f"item {i} on h1 only" for i in range(500)]
    shared_items = out_dir / "items.txt"
    shared_items.write_text("".join(n + "\n" for n in names))
    wrapper = out_dir / "items-on-rank0.sh"
    wrapper.write_text("#!/bin/sh\n"
                       f"if [ \"$OMPI_COMM_WORLD_RANK\" = 0 ]; then cp {shared_items} {cluster.local}/items.txt\n"
                       f"elif [ -e {cluster.local}/items.txt ]; then echo seen > {out_dir}/seen-$OMPI_COMM_WORLD_RANK\n"
                       "fi\n"
                       'exec "$@"\n')
    wrapper.chmod(0o755)
    farm = ["farm", "--worker", "cat", "--threads", "2", "--quiet", "--force"]
    local = out_dir / "items-local.h5"
    mpirun(g, 1, [*farm, "--items", str(shared_items), "-o", str(local)])
    out = out_dir / "items.h5"
    rc, _, err = cluster.run(["-np", "3", str(wrapper), g, *farm, "--items",
                              str(cluster.local / "items.txt"), "-o", str(out)])
    differ = ["(no result)"]
    if rc == 0 and local.exists():
        one, three = read_result(local)[0], read_result(out)[0]
        differ = [n for n in same_datasets(one, three) if n not in ("farm/rank", "farm/seconds")]
        check("farm --items on rank 0's host only: every host's rank ran items",
              set(three["farm/rank"]) == {0, 1, 2}, str(set(three["farm/rank"])))
    check("farm --items on rank 0's host only, 3 hosts: datasets identical to one host",
          not differ, f"exit {rc}: {err.strip()[-300:]} {differ}")
    check("farm --items on rank 0's host only: no other rank could see the file",
          not list(out_dir.glob("seen-*")), str(list(out_dir.glob("seen-*"))))

    # An output folder that each host has on its own: a usage error before any work.
    cluster.local.mkdir(exist_ok=True)
    start = time.monotonic()
    rc, _, err = cluster.run(["-np", "3", g, "wordcount", "--threads", "1", "-o", str(cluster.local / "x.h5"),
                              inputs], timeout=120)
    lines = [l for l in err.splitlines() if l.startswith("gridmr: ")]
    check("an unshared output folder: exit 2 within 20 s, one line saying it is not shared",
          rc == 2 and time.monotonic() - start < 20 and len(lines) == 1 and "is not shared" in lines[0],
          f"exit {rc} after {time.monotonic() - start:.1f} s: {lines}")
    check("an unshared output folder: nothing left on any host", not cluster.leftovers(), "")

    long_run = [g, "montecarlo", "--threads", "1", "--samples", "1e13"]

    # A remote rank killed with SIGKILL: the job ends, mpirun names the rank and its host.
    out = out_dir / "killed.h5"
    job = cluster.start(["-np", "3", *long_run, "-o", str(out)])
    started = wait_for(lambda: cluster.gridmr_pids(h3), 30)
    time.sleep(1.5)
    for pid in cluster.gridmr_pids(h3):
        os.kill(pid, signal.SIGKILL)
    start = time.monotonic()
    _, err = job.communicate(timeout=120)
    took = time.monotonic() - start
    check("a remote rank killed: the job ends within 15 s, exit 137 (128 + SIGKILL)",
          started and job.returncode == 137 and took < 15, f"exit {job.returncode} after {took:.1f} s")
    check("a remote rank killed: mpirun's message names the rank and its host",
          "rank 2" in err and h3 in err and "signal 9" in err, err.strip())
    check("a remote rank killed: no output, partial or lock file", not files_left(out), str(files_left(out)))
    check("a remote rank killed: no process left on any host", not cluster.leftovers(), str(cluster.leftovers(0)))

    # SIGTERM to mpirun while the result sits in its partial file (the write phase, held 5 s).
    out = out_dir / "term.h5"
    job = cluster.start(["-np", "3", g, "wordcount", "--threads", "1", "-o", str(out), inputs],
                        extra_env={"GRIDMR_DEBUG_BEFORE_COMMIT_MS": "5000"})
    in_write = wait_for(lambda: any(".partial" in name for name in files_left(out)), 60)
    time.sleep(0.5)
    job.send_signal(signal.SIGTERM)
    start = time.monotonic()
    stdout, err = job.communicate(timeout=60)
    took = time.monotonic() - start
    lines = [l for l in err.splitlines() if l.startswith("gridmr: ")]
    check("SIGTERM during the write: exit 1 within 10 s, one line saying no output was written",
          in_write and job.returncode == 1 and took < 10 and len(lines) == 1
          and "terminated (SIGTERM); no output written" in lines[0],
          f"exit {job.returncode} after {took:.1f} s, in the write: {in_write}: {stdout.strip()} {err.strip()}")
    check("SIGTERM during the write: no output, partial, lock or shared-pointer file",
          not files_left(out), str(files_left(out)))
    check("SIGTERM during the write: no process left on any host", not cluster.leftovers(), "")

    # A cut network link: with the keepalives that netns-cluster.sh (and README) apply, the job
    # ends and mpirun names the host it lost. Last: a job launched the moment a link comes back
    # can lose its first connection and hang in Open MPI's start-up.
    out = out_dir / "cut.h5"
    job = cluster.start(["-np", "3", *long_run, "-o", str(out)])
    started = wait_for(lambda: cluster.gridmr_pids(h3), 30)
    time.sleep(1.5)
    cluster.script("cut", h3)
    start = time.monotonic()
    try:
        _, err = job.communicate(timeout=90)
    except subprocess.TimeoutExpired:
        job.kill()
        _, err = job.communicate()
    took = time.monotonic() - start
    check("a cut link: the job ends within 45 s, with a failure exit code",
          started and job.returncode not in (0, None) and took < 45, f"exit {job.returncode} after {took:.1f} s")
    check("a cut link: mpirun names the host it lost", "lost communication" in err and h3 in err, err.strip())
    check("a cut link: no output, partial or lock file", not files_left(out), str(files_left(out)))
    left = cluster.leftovers(30)  # the cut-off host ends its ranks when its own keepalive fires
    cluster.script("mend", h3)
    check("a cut link: no process left on any host within 30 s", not left, str(left))


if __name__ == "__main__":
    main()
