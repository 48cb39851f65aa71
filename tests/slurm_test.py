#!/usr/bin/python3
"""The sbatch scripts on a real single-node Slurm (slurm/local/): word count, Monte Carlo and
the job array checked with an independent reader, a farm of Python workers and a stream job of
Python functions identical to mpirun's, a cancelled long job (and a cancelled farm's workers)
leaving nothing, requests Slurm can never satisfy failing at once, and a checkpointed job that
finishes over requeues near its time limit; then --nodes=2 on a Slurm of two nodes (slurm/local/nodes.sh).
Starts and stops the local clusters."""
import argparse
import collections
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from gridmr_testlib import (check, expected_counts, finish, mpirun, named_netns_possible, read_result,
                            same_datasets, words_of)



DRIVER = r'''
import json, sys
import gridmr_stream


def mapper(line):
    for word in line.split():
        yield word.lower(), 1


def square(i):
    return i * i


if __name__ == "__main__":
    prefix, inputs = sys.argv[1], sys.argv[2]
    counts = gridmr_stream.map_reduce(mapper, inputs, out=prefix + ".stream.h5")
    squares = gridmr_stream.farm(square, range(30), out=prefix + ".farm.h5")
    print(json.dumps({"counts": counts, "squares": squares}))
'''


def sh(*command, timeout=300, env=None, check_rc=True):
    proc = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})))
    if check_rc and proc.returncode != 0:
        sys.exit(f"FAIL {' '.join(command)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_state(job):
    out = sh("scontrol", "show", "job", job, check_rc=False).stdout
    return next((w.split("=", 1)[1] for w in out.split() if w.startswith("JobState=")), "")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--gridmr", required=True)
    args = parser.parse_args()
    repo = pathlib.Path(args.repo).resolve()
    if os.geteuid() != 0:
        print("skipped: the local Slurm cluster needs root (it starts munged, slurmctld, slurmd)")
        sys.exit(77)
    # The scripts' default binary is build/gridmr of the repository: rely on it when that is
    # what is under test, so the default is tested too.
    binary = os.path.abspath(args.gridmr)
    env = {} if binary == str((repo / "build/gridmr").resolve()) else {"GRIDMR": binary}
    print("binary: " + (binary + " (the scripts' default)" if not env else binary + " (via GRIDMR)"))
    sh(str(repo / "slurm/local/start.sh"), timeout=600)
    try:
        with tempfile.TemporaryDirectory(prefix="gridmr-slurm-test-") as work:
            work = pathlib.Path(work)
            sbatch = ["sbatch", "--wait", f"--output={work}/%j.out", f"--chdir={work}"]

            # Word count: 2 ranks, checked word by word.
            inputs = [str(repo / "inputs")]
            proc = sh(*sbatch, str(repo / "slurm/wordcount.sbatch"), "-o", str(work / "wc.h5"),
                      *inputs, env=env, check_rc=False)
            check("wordcount.sbatch succeeds", proc.returncode == 0, proc.stderr.strip())
            if proc.returncode == 0:
                datasets, attrs = read_result(work / "wc.h5")
                check("wordcount.sbatch: counts equal the independent count",
                      words_of(datasets)[1] == expected_counts(inputs))
                check("wordcount.sbatch: 2 ranks x 1 thread",
                      attrs["/"]["ranks"] == 2 and attrs["/"]["threads_per_rank"] == 1)

            # Monte Carlo: 1 rank x 2 threads through --ntasks/--cpus-per-task overrides.
            proc = sh(*sbatch, "--ntasks=1", "--cpus-per-task=2", str(repo / "slurm/montecarlo.sbatch"),
                      "-o", str(work / "pi.h5"), "--samples", "1e9", "--seed", "3", env=env, check_rc=False)
            check("montecarlo.sbatch succeeds", proc.returncode == 0, proc.stderr.strip())
            if proc.returncode == 0:
                datasets, attrs = read_result(work / "pi.h5")
                mc = attrs["montecarlo"]
                check("montecarlo.sbatch: estimate within 5 standard errors of pi",
                      abs(mc["estimate"] - math.pi) < 5 * mc["std_error"], f"{mc['estimate']:.8f}")
                check("montecarlo.sbatch: unit_hits sum to hits",
                      int(datasets["montecarlo/unit_hits"].sum()) == mc["hits"])
                check("montecarlo.sbatch: --cpus-per-task became --threads",
                      attrs["/"]["ranks"] == 1 and attrs["/"]["threads_per_rank"] == 2)

            # Users' functions: farm.sbatch with Python workers, stream.sbatch with a Python
            # mapper and reducer; each identical to the same job under mpirun on this machine.
            examples = repo / "examples" / "python"
            py = "/usr/bin/python3"
            for script, job in (
                    ("farm.sbatch", ["--range", "200", "--worker", f"{py} {examples}/montecarlo_worker.py 2000"]),
                    ("stream.sbatch", ["--mapper", f"{py} {examples}/functions_wordcount.py map",
                                       "--reducer", f"{py} {examples}/functions_wordcount.py reduce",
                                       *inputs])):
                out, local = work / f"{script}.h5", work / f"{script}-local.h5"
                proc = sh(*sbatch, "--ntasks=2", "--cpus-per-task=1", str(repo / "slurm" / script),
                          *job, "-o", str(out), env=env, check_rc=False)
                check(f"{script} succeeds", proc.returncode == 0, proc.stderr.strip())
                name = script.split(".")[0]
                mpirun(binary, 1, [name, "--threads", "2", "--quiet", *job, "-o", str(local)])
                if proc.returncode == 0 and local.exists():
                    datasets, attrs = read_result(out)
                    differ = [n for n in same_datasets(read_result(local)[0], datasets)
                              if n not in ("farm/rank", "farm/seconds")]
                    check(f"{script}: datasets identical to mpirun's at 1 rank x 2 threads", not differ,
                          str(differ))
                    check(f"{script}: 2 ranks x 1 thread", attrs["/"]["ranks"] == 2)

            # A Python script run by sbatch: map_reduce() and farm() without np or launcher
            # take the job's tasks and CPUs (srun), as the sbatch scripts do.
            driver = work / "driver.py"
            driver.write_text(DRIVER)
            batch = work / "driver.sbatch"
            module = pathlib.Path(binary).parent / "share/gridmr/python"
            batch.write_text("#!/bin/sh\n"
                             f"export PYTHONPATH={module} GRIDMR={binary}\n"
                             f"exec {py} {driver} {work}/py {repo / 'inputs'} > {work}/py.json\n")
            proc = sh(*sbatch, "--ntasks=2", "--cpus-per-task=1", str(batch), env=env,
                      check_rc=False)
            job_out = work / f"{proc.stdout.split()[-1]}.out" if proc.stdout.split() else work
            check("a Python script under sbatch runs map_reduce() and farm()", proc.returncode == 0,
                  proc.stderr.strip() + (job_out.read_text()[-800:] if job_out.is_file() else ""))
            if proc.returncode == 0:
                got = json.loads((work / "py.json").read_text())
                want = collections.Counter()
                for f in sorted(p for p in (repo / "inputs").rglob("*") if p.is_file()):
                    want.update(w.lower() for w in f.read_bytes().decode().split())
                check("Python under sbatch: map_reduce() gives Python's own counts",
                      got["counts"] == dict(want))
                check("Python under sbatch: farm() gives the squares in item order",
                      got["squares"] == [i * i for i in range(30)])
                for name in ("stream", "farm"):
                    attrs = read_result(work / f"py.{name}.h5")[1]["/"]
                    check(f"Python under sbatch: {name} ran a rank per task (2), "
                          "--cpus-per-task threads (1)",
                          attrs["ranks"] == 2 and attrs["threads_per_rank"] == 1,
                          f"{attrs['ranks']} x {attrs['threads_per_rank']}")

            # Job array: one result file per input.
            books = [str(repo / "inputs/kjv" / b) for b in ("genesis.txt", "john.txt", "revelation.txt")]
            proc = sh(*sbatch, "--array=0-2", str(repo / "slurm/wordcount-array.sbatch"),
                      str(work / "array"), *books, env=env, check_rc=False)
            check("wordcount-array.sbatch succeeds", proc.returncode == 0, proc.stderr.strip())
            for book in books:
                out = work / "array" / (pathlib.Path(book).stem + ".h5")
                ok = out.exists() and words_of(read_result(out)[0])[1] == expected_counts([book])
                check(f"array task for {pathlib.Path(book).name}: counts equal the independent count", ok)

            # A wrong GRIDMR fails the job with a clear line.
            proc = sh(*sbatch, str(repo / "slurm/montecarlo.sbatch"), "-o", str(work / "x.h5"),
                      env={"GRIDMR": "/nonexistent/gridmr"}, check_rc=False)
            log = "".join(p.read_text() for p in work.glob("*.out"))
            check("a missing GRIDMR binary fails the job and says so",
                  proc.returncode != 0 and "no executable at '/nonexistent/gridmr'" in log)

            # A request the node can never satisfy is refused at once (no sbatch --wait hang).
            proc = sh("sbatch", "--ntasks=64", str(repo / "slurm/wordcount.sbatch"), "-o",
                      str(work / "y.h5"), *inputs, env=env, check_rc=False, timeout=30)
            check("an impossible request is rejected at submission", proc.returncode != 0,
                  proc.stderr.strip())

            # scancel of a long job: stops within seconds and leaves no output at all.
            long_out = work / "long.h5"
            job = sh("sbatch", "--parsable", f"--output={work}/long-%j.out",
                     str(repo / "slurm/montecarlo.sbatch"), "-o", str(long_out), "--samples", "1e13",
                     env=env).stdout.strip().split(";")[0]
            deadline = time.time() + 60
            while time.time() < deadline and "gridmr:" not in "".join(
                    p.read_text() for p in work.glob(f"long-{job}.out")):
                time.sleep(0.2)
            time.sleep(2)  # well into the map phase
            start = time.time()
            sh("scancel", job)
            while time.time() - start < 30 and sh("squeue", "-h", "-j", job, check_rc=False).stdout.strip():
                time.sleep(0.1)
            took = time.time() - start
            check("a cancelled job ends within 10 s", took < 10, f"{took:.2f} s")
            check("a cancelled job is CANCELLED", job_state(job) == "CANCELLED", job_state(job))
            leftovers = [p.name for p in work.glob("long.h5*")]
            check("a cancelled job leaves no output and no .partial", not leftovers, str(leftovers))
            log = (work / f"long-{job}.out").read_text()
            check("a cancelled job says why, once", log.count("gridmr: error: terminated (SIGTERM)") == 1,
                  log.strip().splitlines()[-1] if log.strip() else "")
            time.sleep(1)
            left = sh("pgrep", "-f", f"gridmr montecarlo .*{long_out}", check_rc=False).stdout.split()
            check("no gridmr process outlives the cancelled job", not left, str(left))

            # scancel of a farm whose workers are busy: no worker outlives the job.
            sleeper = work / "gridmr-slurm-sleeper.py"
            sleeper.write_text("import time\nimport gridmr_stream\n"
                               "gridmr_stream.serve(lambda item: time.sleep(600))\n")
            farm_out = work / "farm-cancelled.h5"
            job = sh("sbatch", "--parsable", f"--output={work}/farm-%j.out",
                     str(repo / "slurm/farm.sbatch"), "--range", "8", "--worker", f"{py} {sleeper}",
                     "-o", str(farm_out), env=env).stdout.strip().split(";")[0]
            workers = f"^{py} {sleeper}"  # the workers themselves, not gridmr or srun naming them
            deadline = time.time() + 60
            while time.time() < deadline and len(sh("pgrep", "-f", workers, check_rc=False).stdout.split()) < 2:
                time.sleep(0.2)
            busy = len(sh("pgrep", "-f", workers, check_rc=False).stdout.split())
            sh("scancel", job)
            start = time.time()
            while time.time() - start < 30 and sh("squeue", "-h", "-j", job, check_rc=False).stdout.strip():
                time.sleep(0.1)
            time.sleep(1)
            left = sh("pgrep", "-a", "-f", sleeper.name, check_rc=False).stdout.strip()  # nor gridmr
            check("a cancelled farm: its workers were running, and none is left",
                  busy == 2 and not left, f"{busy} running before; left: {left}")
            check("a cancelled farm leaves no output and no .partial",
                  not list(work.glob("farm-cancelled.h5*")))

            # scancel just after the commit: the job ends CANCELLED, so its result is withdrawn
            # (a cancelled job never leaves a published file); the log says so.
            late_out = work / "late.h5"
            job = sh("sbatch", "--parsable", f"--output={work}/late-%j.out",
                     str(repo / "slurm/wordcount.sbatch"), "-o", str(late_out), *inputs,
                     env=dict(env, GRIDMR_DEBUG_AFTER_COMMIT_MS="8000")).stdout.strip().split(";")[0]
            deadline = time.time() + 60
            while time.time() < deadline and not late_out.exists():
                time.sleep(0.1)
            published = late_out.exists()
            time.sleep(0.5)
            sh("scancel", job)
            start = time.time()
            while time.time() - start < 30 and sh("squeue", "-h", "-j", job, check_rc=False).stdout.strip():
                time.sleep(0.1)
            time.sleep(1)
            log = (work / f"late-{job}.out").read_text()
            check("scancel after the commit: CANCELLED, the result withdrawn, the log says so",
                  published and job_state(job) == "CANCELLED" and not list(work.glob("late.h5*"))
                  and "withdrawn" in log, f"published {published}, {job_state(job)}, "
                  f"{list(work.glob('late.h5*'))}, {log.strip().splitlines()[-2:]}")

            # A rank killed under srun ends the whole job (srun --kill-on-bad-exit).
            dead_out = work / "dead.h5"
            job = sh("sbatch", "--parsable", f"--output={work}/dead-%j.out",
                     str(repo / "slurm/montecarlo.sbatch"), "-o", str(dead_out), "--samples", "1e13",
                     env=env).stdout.strip().split(";")[0]
            pattern = f"gridmr montecarlo .*{dead_out}"
            deadline = time.time() + 60
            while time.time() < deadline and len(sh("pgrep", "-f", pattern, check_rc=False).stdout.split()) < 2:
                time.sleep(0.2)
            time.sleep(1)
            victim = sh("pgrep", "-f", pattern, check_rc=False).stdout.split()[-1]
            start = time.time()
            os.kill(int(victim), 9)
            while time.time() - start < 30 and sh("squeue", "-h", "-j", job, check_rc=False).stdout.strip():
                time.sleep(0.1)
            took = time.time() - start
            check("a rank killed under srun ends the job within 10 s", took < 10, f"{took:.2f} s")
            check("the job with a killed rank is FAILED", job_state(job) == "FAILED", job_state(job))
            check("the job with a killed rank leaves no output",
                  not list(work.glob("dead.h5*")), str(list(work.glob("dead.h5*"))))

            # checkpointed.sbatch: a job longer than its time limit finishes over requeues,
            # resuming from its checkpoint, with the result of an uninterrupted run. Each unit
            # is slowed down (GRIDMR_DEBUG_UNIT_DELAY_MS) so that the work takes ~36 s, and the
            # signal is due 55 s before a 1-minute limit (slurmctld checks time limits every
            # 30 s or so, so it comes 5-35 s into each run). Slurm delays a requeued job's
            # start; the test releases it 6 s after the requeue (scontrol update StartTime=now).
            corpus = work / "corpus"
            corpus.mkdir()
            books = sorted((repo / "inputs").rglob("*.txt"))
            for i in range(30):
                (corpus / f"f{i:02}.txt").write_bytes(b"".join(b.read_bytes() for b in books))
            expected = expected_counts([str(corpus)])
            job = sh("sbatch", "--parsable", "--time=1", "--signal=B:USR1@55",
                     f"--output={work}/ckpt-%j.out", f"--chdir={work}",
                     str(repo / "slurm/checkpointed.sbatch"), "wordcount", "--unit-size", "256KiB",
                     "-o", str(work / "ckpt.h5"), str(corpus),
                     env=dict(env, GRIDMR_DEBUG_UNIT_DELAY_MS="600", GRIDMR_CHECKPOINT_INTERVAL="1",
                              GRIDMR_CHECKPOINT=str(work / "gridmr-checkpoint-test"))
                     ).stdout.strip()
            start, restarts, state, pending_since = time.time(), 0, "", None
            while time.time() - start < 300:
                info = sh("scontrol", "show", "job", job, check_rc=False).stdout.split()
                fields = dict(w.split("=", 1) for w in info if "=" in w)
                state, restarts = fields.get("JobState", ""), int(fields.get("Restarts", "0"))
                if state in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"):
                    break
                # Released 6 s after the requeue, not at once: a requeued job started within
                # a second can die with "Job credential revoked" (its last run still ending).
                if state == "PENDING" and restarts > 0:
                    pending_since = pending_since or time.time()
                    if time.time() - pending_since > 6:
                        sh("scontrol", "update", f"JobId={job}", "StartTime=now", check_rc=False)
                else:
                    pending_since = None
                time.sleep(2)
            log = (work / f"ckpt-{job}.out").read_text(errors="replace")
            check("checkpointed.sbatch: completes after at least one requeue",
                  state == "COMPLETED" and restarts >= 1 and "requeueing" in log,
                  f"{state}, {restarts} restarts\n{log[-800:]}")
            if state == "COMPLETED":
                datasets, _ = read_result(work / "ckpt.h5")
                check("checkpointed.sbatch: exact counts", words_of(datasets)[1] == expected)
                mapped = int(datasets["stats/ranks"]["units"].sum())
                check("checkpointed.sbatch: the last run mapped only what was left",
                      0 <= mapped < 120, f"{mapped} of 120 units")
                # (GRIDMR_CHECKPOINT puts it in the test's folder; by default it is in the submit folder.)
                check("checkpointed.sbatch: the checkpoint is removed",
                      not (work / "gridmr-checkpoint-test").exists(), str(list(work.iterdir())))
    finally:
        sh(str(repo / "slurm/local/stop.sh"), check_rc=False)
    multi_node(repo, binary, env)
    finish()


def multi_node(repo, binary, env):
    """--nodes=2 on a Slurm of two nodes (slurm/local/nodes.sh: one slurmd per network namespace,
    real TCP between them): word count and Monte Carlo, ranks on both nodes, results identical
    to a one-node run. Skipped where namespaces cannot be made."""
    if not named_netns_possible():
        print("skipped: multi-node Slurm (cannot make named network namespaces here)")
        return
    nodes = str(repo / "slurm/local/nodes.sh")
    tag = f"s{os.getpid() % 100000}n"
    node_env = dict(env, GRIDMR_SLURM_NODES_DIR=f"/tmp/gridmr-slurm-nodes-{tag}", GRIDMR_NETNS_PREFIX=tag,
                    GRIDMR_NETNS_NET=f"10.78.{os.getpid() % 250 + 1}")
    proc = sh(nodes, "start", timeout=300, env=node_env, check_rc=False)
    if proc.returncode != 0:
        check("a Slurm of two nodes starts", False, proc.stdout + proc.stderr)
        sh(nodes, "stop", env=node_env, check_rc=False)
        return
    try:
        with tempfile.TemporaryDirectory(prefix="gridmr-slurm-nodes-test-") as work:
            work = pathlib.Path(work)
            sbatch = [nodes, "run", "sbatch", "--wait", "--nodes=2", f"--output={work}/%j.out", f"--chdir={work}"]
            inputs = [str(repo / "inputs")]
            proc = sh(*sbatch, "--ntasks=2", str(repo / "slurm/wordcount.sbatch"), "-o", str(work / "wc.h5"),
                      *inputs, env=node_env, check_rc=False)
            logs = "".join(p.read_text(errors="replace") for p in work.glob("*.out"))
            check("--nodes=2: wordcount.sbatch succeeds", proc.returncode == 0, proc.stderr.strip() + logs)
            if proc.returncode == 0:
                datasets, _ = read_result(work / "wc.h5")
                hosts = {h.decode() for h in datasets["stats/ranks"]["host"]}
                check("--nodes=2: wordcount.sbatch counts exactly, with a rank on each node",
                      words_of(datasets)[1] == expected_counts(inputs) and hosts == {tag + "1", tag + "2"},
                      str(hosts))
            mc = ["--samples", "4e8", "--unit-samples", "1e7", "--seed", "11"]
            proc = sh(*sbatch, "--ntasks=4", str(repo / "slurm/montecarlo.sbatch"), "-o", str(work / "mc.h5"),
                      *mc, env=node_env, check_rc=False)
            check("--nodes=2: montecarlo.sbatch with 4 ranks succeeds", proc.returncode == 0, proc.stderr.strip())
            local = subprocess.run([binary, "montecarlo", "--threads", "1", "--quiet", *mc, "-o", str(work / "mc1.h5")],
                                   capture_output=True, text=True)
            if proc.returncode == 0 and local.returncode == 0:
                a, b = read_result(work / "mc.h5")[0], read_result(work / "mc1.h5")[0]
                check("--nodes=2: Monte Carlo identical to a one-rank run",
                      (a["montecarlo/unit_hits"] == b["montecarlo/unit_hits"]).all())
    finally:
        sh(nodes, "stop", env=node_env, check_rc=False)


if __name__ == "__main__":
    main()
