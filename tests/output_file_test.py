#!/usr/bin/python3
"""The output file belongs to the job that made it (issue 13, items 1, 2 and 7): every run writes
its own exclusively created OUT.partial-<random>, never follows a symbolic link there, never
publishes another job's data, and refuses a symbolic link at OUT (even a dangling one) up front;
and the exit code and the file tell the same story when a signal comes after the commit."""
import argparse
import os
import pathlib
import subprocess
import signal
import tempfile
import time

from gridmr_testlib import ENV, check, expected_counts, finish, launcher_lines, mpirun, partials, read_result, words_of


def job(gridmr, out, text, force=False):
    command = ["mpirun", "-q", "-np", "2", "--bind-to", "none", os.path.abspath(gridmr), "wordcount",
               "--quiet", "--threads", "1", *(["--force"] if force else []), "-o", str(out), str(text)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    args = parser.parse_args()
    g = args.gridmr
    with tempfile.TemporaryDirectory(prefix="gridmr-out-") as work:
        work = pathlib.Path(work)
        small = work / "small.txt"
        small.write_text("alpha beta beta\n")

        # A symbolic link where the old fixed partial name was: left alone, and not followed.
        victim = work / "victim.txt"
        victim.write_text("precious\n")
        out = work / "o.h5"
        (work / "o.h5.partial").symlink_to(victim)
        proc = mpirun(g, 2, ["wordcount", "-o", str(out), str(small)])
        check("a link at OUT.partial does not stop the run", proc.returncode == 0, proc.stderr)
        check("the link's target is untouched", victim.read_text() == "precious\n")
        check("the link is still a link to it", (work / "o.h5.partial").is_symlink()
              and os.readlink(work / "o.h5.partial") == str(victim))
        check("OUT is a regular file with the result", out.is_file() and not out.is_symlink()
              and words_of(read_result(out)[0])[1] == {b"alpha": 1, b"beta": 2})
        check("no partial file of this run is left",
              [p for p in partials(out) if p.name != "o.h5.partial"] == [])

        # A symbolic link at OUT, even a dangling one: an existing output, refused before any work.
        dangling = work / "dangling.h5"
        dangling.symlink_to(work / "nowhere.h5")
        proc = mpirun(g, 2, ["wordcount", "-o", str(dangling), str(small)])
        lines = proc.stderr.splitlines()
        check("a dangling link as OUT is an existing output: exit 2, one line",
              proc.returncode == 2 and len(lines) == 1 and "exists" in lines[0]
              and dangling.is_symlink() and not (work / "nowhere.h5").exists(), proc.stderr)

        # An output folder that rank 1 sees as another, empty folder (its own tmpfs
        # mounted there, as a node-local folder of the same name on another node), or does
        # not have at all: exit 2 with one line before any work, no hang, nothing left.
        can_unshare = os.geteuid() == 0 and subprocess.run(
            ["unshare", "-m", "sh", "-c", f"mount -t tmpfs none {work}"], capture_output=True).returncode == 0
        if can_unshare:
            for label, mount_at in [("a node-local folder of the same name", "shared"),
                                    ("a folder rank 1 does not have", ".")]:
                shared = work / "shared"
                shared.mkdir(exist_ok=True)
                out = shared / "n.h5"
                base = ["wordcount", "--quiet", "-o", str(out), str(small)]
                g_abs = os.path.abspath(g)
                other = f"mount -t tmpfs none {work / mount_at} && exec {g_abs} " + " ".join(base)
                command = ["mpirun", "-q", "--bind-to", "none", "-np", "1", g_abs, *base, ":",
                           "-np", "1", "unshare", "-m", "sh", "-c", other]
                try:
                    proc = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=120)
                    code, err = proc.returncode, proc.stderr
                except subprocess.TimeoutExpired:
                    code, err = None, "hung for 120 s"
                lines = err.strip().splitlines()
                check(f"output in {label}: exit 2 with one line", code == 2 and len(lines) == 1
                      and "not shared" in lines[0] and "rank 1" in lines[0], f"exit {code}: {err}")
                check(f"output in {label}: no output, probe or partial left",
                      sorted(p.name for p in shared.iterdir()) == [], str(list(shared.iterdir())))
        else:
            print("skip: the unshared output folder needs root and mount namespaces")

        # A file system that refuses renameat2's RENAME_NOREPLACE (NFS, FUSE), and one that
        # refuses hard links too: the result is still published, and an OUT that appears
        # during the run is still never replaced.
        for mode in ("1", "2"):
            env = dict(ENV, GRIDMR_DEBUG_NO_RENAME_NOREPLACE=mode)
            out = work / f"norename{mode}.h5"
            base = ["mpirun", "-q", "-np", "2", "--bind-to", "none", "-x", "GRIDMR_DEBUG_NO_RENAME_NOREPLACE",
                    "-x", "GRIDMR_DEBUG_MAP_DELAY_MS", os.path.abspath(g), "wordcount", "--quiet",
                    "-o", str(out), str(small)]
            proc = subprocess.run(base, capture_output=True, text=True, env=dict(env, GRIDMR_DEBUG_MAP_DELAY_MS="0"))
            check(f"no RENAME_NOREPLACE (mode {mode}): published", proc.returncode == 0 and out.is_file()
                  and words_of(read_result(out)[0])[1] == {b"alpha": 1, b"beta": 2} and not partials(out),
                  proc.stderr)
            out.unlink()
            late = subprocess.Popen(base, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=dict(env, GRIDMR_DEBUG_MAP_DELAY_MS="2000"))
            time.sleep(1.0)
            out.write_text("someone else's\n")
            _, err = late.communicate(timeout=120)
            check(f"no RENAME_NOREPLACE (mode {mode}): an OUT that appeared is kept, exit 1",
                  late.returncode == 1 and out.read_text() == "someone else's\n"
                  and "appeared during the run" in err and not partials(out), err)

        # An output inside the input folder: a second run with --force does not count the
        # first run's result file (the walk leaves OUT out: same counts as Python's, both
        # times), and naming OUT itself as an input (or a link to it) is a usage error.
        folder = work / "texts"
        (folder / "sub").mkdir(parents=True)
        (folder / "one.txt").write_text("Gamma delta\ngamma\n")
        (folder / "sub" / "two.txt").write_text("delta epsilon\n")
        texts = sorted(p for p in folder.rglob("*.txt"))
        out = folder / "sub" / "inside.h5"
        for run in (1, 2):
            proc = mpirun(g, 2, ["wordcount", "--quiet", "--force", "-o", str(out), str(folder)])
            datasets = read_result(out)[0] if proc.returncode == 0 else {}
            check(f"output inside the input folder, run {run}: the input is the text files alone",
                  proc.returncode == 0 and words_of(datasets)[1] == expected_counts(texts)
                  and read_result(out)[1]["wordcount"]["input_files"] == 2, proc.stderr)
        (work / "link.h5").symlink_to(out)
        for named in (out, work / "link.h5"):
            proc = mpirun(g, 2, ["wordcount", "--quiet", "--force", "-o", str(out), str(small), str(named)])
            lines = proc.stderr.strip().splitlines()
            check(f"OUT named as an input ({named.name}): exit 2, one line, OUT kept",
                  proc.returncode == 2 and len(lines) == 1 and "both an input and the output" in lines[0]
                  and words_of(read_result(out)[0])[1] == expected_counts(texts), proc.stderr)

        # Long output paths: Open MPI 4.1's OMPIO crashed (a buffer overflow in its lockedfile
        # component) for paths over ~225 bytes; gridmr turns that component off. A name too
        # long for OUT.partial-<16 hex> to fit is refused up front.
        deep = work / ("a" * 180) / ("b" * 180)
        deep.mkdir(parents=True)
        out = deep / ("n" * 150 + ".h5")
        proc = mpirun(g, 2, ["wordcount", "--quiet", "-o", str(out), str(small)])
        check(f"an output path of {len(str(out))} bytes works", proc.returncode == 0 and out.is_file()
              and words_of(read_result(out)[0])[1] == {b"alpha": 1, b"beta": 2} and not partials(out),
              proc.stderr[-300:])
        out = deep / ("m" * 240 + ".h5")
        proc = mpirun(g, 2, ["wordcount", "--quiet", "-o", str(out), str(small)])
        lines = proc.stderr.strip().splitlines()
        check("an output name too long for its partial name: exit 2, one line, before any work",
              proc.returncode == 2 and len(lines) == 1 and "name is too long" in lines[0]
              and not list(deep.glob("m*")), proc.stderr[-300:])

        # Two jobs with the same OUT at once, on different data: whichever exits 0
        # published its own data; the other fails with one line (exit 1: found only at
        # the commit) saying its result was not published; no partial file is left.
        a, b = work / "a.txt", work / "b.txt"
        a.write_text(" ".join(f"a{i}" for i in range(300000)))
        b.write_text(" ".join(f"b{i}" for i in range(200000)))
        race = work / "race.h5"
        for trial in range(3):
            if race.exists():
                race.unlink()
            first, second = job(g, race, a), job(g, race, b)
            results = {"a": first.communicate(timeout=300), "b": second.communicate(timeout=300)}
            codes = {"a": first.returncode, "b": second.returncode}
            winners = [name for name, code in codes.items() if code == 0]
            ok = len(winners) == 1 and race.is_file()
            if ok:
                words = words_of(read_result(race)[0])[1]
                ok = all(w.startswith(winners[0].encode()) for w in words) and len(words) == (
                    300000 if winners[0] == "a" else 200000)
                loser = "b" if winners[0] == "a" else "a"
                lines = results[loser][1].splitlines()
                ok = ok and codes[loser] == 1 and len(lines) == 1 and "not published" in lines[0]
            check(f"two jobs, one OUT (trial {trial + 1}): the one that exits 0 published its own data",
                  ok and not partials(race), f"{codes} {[r[1][-200:] for r in results.values()]}")
        # A signal after the commit (the job held there 5 s). send(proc, out) signals; returns
        # (exit, OUT published before the signal, OUT, stderr lines, gridmr processes left,
        # what send returned).
        def late_signal(label, send, replace=False):
            out = work / f"late-{label}.h5"
            env = dict(ENV, GRIDMR_DEBUG_AFTER_COMMIT_MS="5000")
            proc = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", "-x",
                                     "GRIDMR_DEBUG_AFTER_COMMIT_MS", os.path.abspath(g), "wordcount",
                                     "--quiet", "-o", str(out), str(small)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            deadline = time.time() + 60
            while not out.exists() and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            published = out.exists()
            if replace:
                other = work / "other.h5"
                other.write_text("someone else's\n")
                os.replace(other, out)
            sent = send(proc, out)
            _, stderr = proc.communicate(timeout=60)
            time.sleep(1.0)  # the ranks' watch of their launcher looks every 0.1 s
            left = subprocess.run(["pgrep", "-f", f"-o {out}"], capture_output=True, text=True).stdout.split()
            return proc.returncode, published, out, launcher_lines(stderr), left, sent

        def to_ranks(proc, out):  # SIGTERM to the ranks alone; returns how many
            ranks = subprocess.run(["pgrep", "-f", f"^{os.path.abspath(g)} wordcount .*-o {out}"],
                                   capture_output=True, text=True).stdout.split()
            for pid in ranks:
                if int(pid) != proc.pid:
                    os.kill(int(pid), signal.SIGTERM)
            return len(ranks)

        def to_mpirun(sig):
            return lambda proc, out: proc.send_signal(sig)

        # To the ranks alone: the exit code and the file tell the same story, exit 0 and a
        # complete OUT.
        code, published, out, lines, left, ranks = late_signal("ranks", to_ranks)
        check("SIGTERM after the result was published: exit 0 and a complete result",
              code == 0 and ranks == 2 and any("is complete" in l for l in lines)
              and words_of(read_result(out)[0])[1] == {b"alpha": 1, b"beta": 2} and not partials(out),
              f"exit {code}, {ranks} ranks signalled, {lines}")
        # To mpirun itself: mpirun exits non-zero whatever the ranks do (Open MPI's rule), so
        # the result is withdrawn: a failure leaves no published file. SIGKILL to mpirun: the
        # ranks' watch of their launcher does the same. A file someone else put at OUT
        # meanwhile is not this job's, and stays.
        code, published, out, lines, left, _ = late_signal("term", to_mpirun(signal.SIGTERM))
        check("SIGTERM to mpirun after the commit: exit 1, the result withdrawn, one line saying so",
              published and code == 1 and not out.exists() and not partials(out) and len(lines) == 1
              and "withdrawn" in lines[0] and not left, f"exit {code}, {lines}, left {left}")
        code, published, out, lines, left, _ = late_signal("kill", to_mpirun(signal.SIGKILL))
        check("SIGKILL to mpirun after the commit: the result withdrawn, no rank left",
              published and code != 0 and not out.exists() and not partials(out) and not left,
              f"exit {code}, {lines}, left {left}")
        code, published, out, lines, left, _ = late_signal("other", to_mpirun(signal.SIGTERM), replace=True)
        check("SIGTERM to mpirun after the commit: a file someone else put at OUT stays",
              published and code == 1 and out.exists() and out.read_text() == "someone else's\n"
              and not partials(out) and not left, f"exit {code}, {lines}, left {left}")
    finish()


if __name__ == "__main__":
    main()
