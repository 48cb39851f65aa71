#!/usr/bin/python3
"""Failure handling: a full disk, dead and signalled ranks, and hostile inputs. A run that
should fail must end within seconds with one 'gridmr: error:' line, a non-zero exit and no
output; a run that should succeed is checked against the independent word count."""
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import argparse

from gridmr_testlib import partials, ENV, check, expected_counts, finish, mpirun, read_result, words_of



def gridmr_lines(stderr):
    """gridmr's error lines (long runs also print progress lines, which are fine)."""
    return [line for line in stderr.splitlines() if line.startswith("gridmr: error")]


def expect_failure(label, proc, code, needle, outputs, seconds=None, limit=30):
    lines = gridmr_lines(proc.stderr)
    left = [str(p) for p in outputs if p.exists()]
    problems = []
    if proc.returncode != code:
        problems.append(f"exit {proc.returncode}, expected {code}")
    if len(lines) != 1 or not lines[0].startswith("gridmr: error: ") or needle not in lines[0]:
        problems.append(f"expected one 'gridmr: error:' line with {needle!r}, got {lines!r}")
    if left:
        problems.append(f"left behind: {left}")
    if seconds is not None and seconds > limit:
        problems.append(f"took {seconds:.1f} s")
    check(label, not problems, "; ".join(problems) or lines[0])


def expect_counts(label, g, work, inputs, np=2, threads=2, extra=()):
    out = pathlib.Path(work) / "ok.h5"
    proc = mpirun(g, np, ["wordcount", "--threads", str(threads), "--force", *extra, "-o", str(out),
                          *map(str, inputs)])
    if proc.returncode != 0:
        check(label, False, f"exit {proc.returncode}: {proc.stderr.strip()}")
        return
    got = words_of(read_result(out)[0])[1]
    check(label, got == expected_counts(inputs), f"{len(got)} distinct words")


def start_job(g, np, args):
    """mpirun in its own process group, so that signals can go to it alone."""
    command = ["mpirun", "-q", "-np", str(np), "--bind-to", "none", g, *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=ENV, start_new_session=True)


def ranks_of(out):
    found = subprocess.run(["pgrep", "-f", f"gridmr montecarlo .*{out}"], capture_output=True,
                           text=True).stdout.split()
    return [int(p) for p in found]


def signal_test(g, work, label, np, send, needle):
    out = pathlib.Path(work) / f"sig-{label.replace(' ', '-')}.h5"
    job = start_job(g, np, ["montecarlo", "--threads", "1", "--samples", "1e13", "-o", str(out)])
    deadline = time.time() + 30
    while time.time() < deadline and len(ranks_of(out)) < np:
        time.sleep(0.1)
    time.sleep(1.5)  # into the map phase
    start = time.time()
    send(job, ranks_of(out))
    try:
        stdout, stderr = job.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        stdout, stderr = job.communicate()
    took = time.time() - start
    proc = subprocess.CompletedProcess(job.args, job.returncode, stdout, stderr)
    problems = []
    if proc.returncode == 0:
        problems.append("exit 0")
    lines = gridmr_lines(stderr)
    if needle is not None and (len(lines) != 1 or needle not in lines[0]):
        problems.append(f"expected one line with {needle!r}, got {lines!r}")
    if took > 10:
        problems.append(f"took {took:.1f} s")
    # No rank outlives mpirun: a scheduler that sees the job end must find nothing running.
    ended = time.time()
    while ranks_of(out) and time.time() - ended < 1.0:
        time.sleep(0.02)
    if time.time() - ended > 0.5:
        problems.append(f"ranks outlived mpirun by {time.time() - ended:.2f} s")
    if ranks_of(out):
        problems.append(f"ranks left running: {ranks_of(out)}")
        for pid in ranks_of(out):
            os.kill(pid, signal.SIGKILL)
    left = [p.name for p in pathlib.Path(work).glob(out.name + "*")]
    if left:
        problems.append(f"left behind: {left}")
    check(f"{label}: job ends within seconds, non-zero, no output, no orphans", not problems,
          "; ".join(problems) or f"exit {proc.returncode} after {took:.2f} s, {lines}")


def full_disk_tests(g, work):
    mount = pathlib.Path(work) / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        print("skipped: full-disk tests need root to mount a tmpfs")
        return
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1M", "tmpfs", str(mount)], check=True)
    try:
        many = pathlib.Path(work) / "many-words.txt"  # about 5 MB of result: cannot fit in 1 MiB
        many.write_text(" ".join(f"w{i:07d}" for i in range(200000)))
        out = mount / "out.h5"
        for np in (1, 2, 3):
            start = time.time()
            proc = mpirun(g, np, ["wordcount", "--threads", "1", "-o", str(out), str(many)], timeout=120)
            expect_failure(f"full disk found before writing, np={np}", proc, 1, "not enough space",
                           [out, *partials(out)], time.time() - start)
        for np in (1, 2, 3):
            start = time.time()
            proc = subprocess.run(
                ["mpirun", "-q", "-np", str(np), "--bind-to", "none", g, "wordcount", "--threads", "1",
                 "-o", str(out), str(many)], capture_output=True, text=True, timeout=120,
                env=dict(ENV, GRIDMR_SKIP_SPACE_CHECK="1"))
            expect_failure(f"full disk while HDF5 writes, np={np}", proc, 1, "no space left on device",
                           [out, *partials(out)], time.time() - start)
        precious = mount / "precious.h5"
        precious.write_bytes(b"last week's result")
        proc = mpirun(g, 2, ["wordcount", "--force", "-o", str(precious), str(many)], timeout=120)
        check("a failed --force run leaves the existing output untouched",
              proc.returncode == 1 and precious.read_bytes() == b"last week's result"
              and not partials(precious), proc.stderr.strip())
    finally:
        subprocess.run(["umount", str(mount)])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    args = parser.parse_args()
    g = os.path.abspath(args.gridmr)
    with tempfile.TemporaryDirectory(prefix="gridmr-fail-") as work:
        work = pathlib.Path(work)
        full_disk_tests(g, work)

        # Ranks that die or are told to stop.
        signal_test(g, work, "SIGKILL to one rank", 3, lambda job, ranks: os.kill(ranks[-1], signal.SIGKILL), None)
        signal_test(g, work, "SIGTERM to mpirun", 2, lambda job, ranks: job.send_signal(signal.SIGTERM),
                    "terminated (SIGTERM)")
        signal_test(g, work, "SIGKILL to mpirun", 2, lambda job, ranks: job.send_signal(signal.SIGKILL), None)
        signal_test(g, work, "SIGINT to mpirun", 2, lambda job, ranks: job.send_signal(signal.SIGINT),
                    "gridmr: error:")
        signal_test(g, work, "SIGTERM to one rank", 2, lambda job, ranks: os.kill(ranks[-1], signal.SIGTERM),
                    "terminated (SIGTERM)")

        # mpirun killed while the result waits in its partial file (held there 3 s): the ranks
        # see their launcher go and end; the result is never published after the job "failed".
        out = work / "killed-before-commit.h5"
        text = work / "commit-input.txt"
        text.write_text("alpha beta gamma delta\n" * 1000)
        job = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", "-x", "GRIDMR_DEBUG_BEFORE_COMMIT_MS",
                                g, "wordcount", "--threads", "1", "-o", str(out), str(text)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env=dict(ENV, GRIDMR_DEBUG_BEFORE_COMMIT_MS="3000"))
        deadline = time.time() + 30
        while time.time() < deadline and not partials(out):
            time.sleep(0.02)
        in_write = bool(partials(out))
        time.sleep(0.3)
        job.send_signal(signal.SIGKILL)
        job.communicate(timeout=30)
        time.sleep(4)  # past the moment the commit would have come
        left = [p.name for p in work.glob(out.name + "*")]
        alive = subprocess.run(["pgrep", "-f", f"gridmr wordcount .*{out}"], capture_output=True, text=True).stdout.split()
        check("SIGKILL to mpirun during the write: nothing published, nothing left, no rank running",
              in_write and not left and not alive, f"in the write: {in_write}, left: {left}, ranks: {alive}")

        # Inputs that change between planning and reading.
        # (A stream job feeds its mapper from the file itself: splice.)
        for change, command in (("vanishes", ["wordcount"]), ("shrinks", ["wordcount"]),
                                ("vanishes", ["stream", "--mapper", "cat", "--reducer", "count"]),
                                ("shrinks", ["stream", "--mapper", "cat", "--reducer", "count"])):
            folder = work / f"changing-{change}-{command[0]}"
            folder.mkdir()
            for i in range(4):
                (folder / f"f{i}.txt").write_text("alpha\tbeta gamma\n" * 20000)
            victim = folder / "f3.txt"
            out = work / f"changing-{change}-{command[0]}.h5"
            job = subprocess.Popen(["mpirun", "-q", "-np", "2", "--bind-to", "none", g, *command,
                                    "--threads", "1", "-o", str(out), str(folder)],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=dict(ENV, GRIDMR_DEBUG_MAP_DELAY_MS="2500"))
            time.sleep(1.5)  # planned by now; mapping waits
            if change == "vanishes":
                victim.unlink()
            else:
                os.truncate(victim, 1000)
            stdout, stderr = job.communicate(timeout=60)
            needle = ("No such file or directory" if change == "vanishes"
                      else "changed during the run: it has 1000 bytes now, but the job planned to read byte ")
            expect_failure(f"{command[0]}: a file that {change} between planning and reading",
                           subprocess.CompletedProcess(job.args, job.returncode, stdout, stderr), 1,
                           needle, [out, *partials(out)])

        # Odd inputs that must simply work.
        line = work / "one-line.txt"
        with open(line, "wb") as f:
            chunk = b"Lorem ipsum dolor sit amet, consectetur adipiscing elit 2024 " * 16384
            for _ in range(100 * 1024 * 1024 // len(chunk)):
                f.write(chunk)
        expect_counts("a file that is one 100 MB line", g, work, [line], extra=("--unit-size", "7MiB"))
        line.unlink()

        binary = work / "binary"
        binary.mkdir()
        shutil.copy(g, binary / "gridmr-binary")
        (binary / "random.bin").write_bytes(os.urandom(3 * 1024 * 1024))
        expect_counts("binary files", g, work, [binary], extra=("--unit-size", "256KiB"))

        tiny = work / "tiny"
        for d in range(100):
            (tiny / f"d{d:02d}").mkdir(parents=True)
            for f in range(1000):
                (tiny / f"d{d:02d}" / f"{f}.txt").write_text(f"word{f % 97} Shared {d}\n")
        start = time.time()
        expect_counts("100,000 tiny files", g, work, [tiny])
        print(f"     (100,000 files: {time.time() - start:.1f} s including the independent count)")
        shutil.rmtree(tiny)

        deep = work / "deep"
        level = deep
        for depth in range(300):
            level = level / "d"
            if depth % 50 == 0:
                level.mkdir(parents=True, exist_ok=True)
                (level / "words.txt").write_text(f"depth {depth} reached\n")
        level.mkdir(parents=True, exist_ok=True)
        (level / "bottom.txt").write_text("the very bottom\n")
        expect_counts("a directory tree 300 levels deep", g, work, [deep])

        loops = work / "loops"
        (loops / "sub").mkdir(parents=True)
        (loops / "sub" / "a.txt").write_text("inside the loop\n")
        (loops / "sub" / "back").symlink_to(loops)          # directory loop
        (loops / "x.txt").symlink_to(loops / "y.txt")       # file links in a loop
        (loops / "y.txt").symlink_to(loops / "x.txt")
        expect_counts("symlink loops are not followed", g, work, [loops / "sub" / "a.txt"], extra=())
        out = work / "loops.h5"
        proc = mpirun(g, 2, ["wordcount", "--force", "-o", str(out), str(loops)])
        check("a directory with symlink loops is counted without hanging",
              proc.returncode == 0 and words_of(read_result(out)[0])[1] == {b"inside": 1, b"the": 1, b"loop": 1},
              proc.stderr.strip())
        proc = mpirun(g, 2, ["wordcount", "-o", str(work / "l.h5"), str(loops / "x.txt")], timeout=60)
        expect_failure("a symlink loop given as input", proc, 2, "Too many levels of symbolic links",
                       [work / "l.h5"])

        names = work / "names"
        names.mkdir()
        for name in ("with space.txt", "new\nline.txt", "tab\there.txt", "ünïcode ☃.txt", "-dash.txt"):
            (names / name).write_text(f"file {name!r} Counts\n")
        expect_counts("names with spaces, newlines, tabs and UTF-8", g, work, [names])
        proc = mpirun(g, 2, ["wordcount", "-o", str(work / "n.h5"), str(names / "gone\nmissing.txt")],
                      timeout=60)
        expect_failure("an error about a name with a newline is still one line", proc, 2,
                       "gone\\nmissing.txt", [work / "n.h5"])

    finish()


if __name__ == "__main__":
    main()
