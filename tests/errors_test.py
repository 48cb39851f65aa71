#!/usr/bin/python3
"""Usage errors (docs/cli.md): one line on stderr (printed once, not once per rank), exit 2,
no output file and no .partial, no existing file touched, and no hang."""
import argparse
import os
import pathlib
import pwd
import shutil
import subprocess
import tempfile

import h5py
import numpy

from gridmr_testlib import partials, ENV, check, finish, mpirun


def expect(label, proc, code, needle, out=None, untouched=None):
    """Checks one failed run; `out` must not exist afterwards, `untouched` must keep its bytes."""
    problems = []
    lines = proc.stderr.splitlines()
    if proc.returncode != code:
        problems.append(f"exit {proc.returncode}, expected {code}")
    if len(lines) != 1 or not lines[0].startswith("gridmr: error: "):
        problems.append(f"stderr is not one 'gridmr: error:' line: {lines!r}")
    elif needle not in lines[0]:
        problems.append(f"message {lines[0]!r} does not mention {needle!r}")
    if out is not None:
        for path in (pathlib.Path(out), *partials(out)):
            if path.exists() and (untouched is None or path != pathlib.Path(untouched[0])):
                problems.append(f"{path} exists")
    if untouched is not None and pathlib.Path(untouched[0]).read_bytes() != untouched[1]:
        problems.append(f"{untouched[0]} was changed")
    check(label, not problems, "; ".join(problems) or lines[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    g = os.path.abspath(args.gridmr)

    with tempfile.TemporaryDirectory(prefix="gridmr-err-") as work:
        work = pathlib.Path(work)
        text = work / "a.txt"
        text.write_text("some words\n")
        out = work / "out.h5"
        (work / "empty_dir/inner").mkdir(parents=True)

        def wc(*extra, np=2):
            return mpirun(g, np, ["wordcount", *extra], timeout=60)

        expect("missing input", wc("-o", str(out), str(work / "nope.txt")), 2,
               "cannot open '" + str(work / "nope.txt") + "': No such file or directory", out)
        expect("missing input among good ones, 3 ranks",
               wc("-o", str(out), str(text), str(work / "gone"), np=3), 2, "gone", out)
        expect("directory with no files", wc("-o", str(out), str(work / "empty_dir")), 2,
               "no input files in directory", out)
        expect("special file as input", wc("-o", str(out), "/dev/null"), 2,
               "not a regular file", out)
        for option, value in [("--threads", "0"), ("--threads", "many"), ("--unit-size", "0"),
                              ("--unit-size", "12XB"), ("--memory", "-1"),
                              ("--schedule", "sometimes")]:
            expect(f"bad {option} {value}", wc(option, value, "-o", str(out), str(text)), 2,
                   option, out)
        sparse = work / "sparse.txt"  # 200 MB of holes: nothing is read before the refusal
        with open(sparse, "wb") as f:
            f.truncate(200 << 20)
        expect("a plan of too many units, refused before any work",
               wc("--unit-size", "1", "-o", str(out), str(sparse)), 2, "raise --unit-size", out)
        sparse.unlink()
        expect("a file of /proc (no size to plan by)", wc("-o", str(out), "/proc/cpuinfo"), 2,
               "/proc and /sys", out)
        expect("unknown option", wc("--frobnicate", "-o", str(out), str(text)), 2,
               "frobnicate", out)
        expect("no input at all", wc("-o", str(out)), 2, "INPUT", out)
        expect("no output option", wc(str(text)), 2, "--output", out)
        expect("missing output folder", wc("-o", str(work / "no/such/dir/out.h5"), str(text)), 2,
               "no/such/dir", work / "no/such/dir/out.h5")

        precious = work / "precious.h5"
        precious.write_bytes(b"results of last week")
        expect("existing output without --force", wc("-o", str(precious), str(text)), 2,
               "exists (use --force", precious, untouched=(precious, b"results of last week"))

        replaced = mpirun(g, 2, ["wordcount", "--force", "-o", str(precious), str(text)])
        check("--force replaces an existing output",
              replaced.returncode == 0 and precious.read_bytes()[:4] == b"\x89HDF", replaced.stderr)

        # show, plot, --help and --version run without MPI (a login node reading a result may
        # have no working MPI): with MPI made to fail they still work, while a job does not.
        broken = dict(ENV, OMPI_MCA_pml="gridmr-no-such-pml")
        for label, command in [("show", ["show", str(precious), "--top", "1"]),
                               ("--version", ["--version"]), ("--help", ["--help"])]:
            proc = subprocess.run([g, *command], capture_output=True, text=True, timeout=60, env=broken)
            check(f"{label} runs without MPI", proc.returncode == 0 and proc.stdout, proc.stderr[-300:])
        proc = subprocess.run([g, "wordcount", "--force", "-o", str(precious), str(text)],
                              capture_output=True, text=True, timeout=60, env=broken)
        check("(a job with MPI made to fail does fail, so the check above means something)",
              proc.returncode != 0, proc.stderr[-300:])

        # `gridmr` is a launcher on x86-64 (its builds sit beside it): copied alone, it says
        # what it misses instead of failing obscurely.
        if pathlib.Path(g).resolve().with_name("gridmr-x86-64").exists():
            alone = work / "launcher-alone"
            alone.mkdir()
            shutil.copy(g, alone / "gridmr")
            for env in (ENV, dict(ENV, GRIDMR_VARIANT="off")):
                expect("the launcher without its builds",
                       subprocess.run([str(alone / "gridmr"), "--version"], capture_output=True,
                                      text=True, timeout=60, env=env), 1,
                       f"cannot run '{alone / 'gridmr-x86-64'}'")

        expect("show of a missing file",
               subprocess.run([g, "show", str(work / "none.h5")], capture_output=True, text=True,
                              timeout=60, env=ENV), 2, "none.h5")
        expect("show of a non-result file",
               subprocess.run([g, "show", str(text)], capture_output=True, text=True,
                              timeout=60, env=ENV), 2, "not an HDF5 file")

        fifo = work / "fifo.h5"
        os.mkfifo(fifo)
        expect("show of a FIFO does not hang",
               subprocess.run([g, "show", str(fifo)], capture_output=True, text=True,
                              timeout=60, env=ENV), 2, "not a regular file")
        corrupt = work / "corrupt.h5"
        with h5py.File(corrupt, "w") as f:  # a result file another program got wrong
            for name, value in [("format", "gridmr-result"), ("job", "wordcount"),
                                ("gridmr_version", "x"), ("command_line", "x")]:
                f.attrs[name] = value
            for name in ("format_version", "ranks", "threads_per_rank"):
                f.attrs[name] = numpy.uint64(1)
            f.attrs["elapsed_seconds"] = 1.0
            group = f.create_group("wordcount")
            for name in ("total_words", "unique_words", "input_files", "input_bytes"):
                group.attrs[name] = numpy.uint64(1)
            group["keys/offsets"] = numpy.array([0, 5, 3, 100], dtype=numpy.uint64)
            group["keys/data"] = numpy.frombuffer(b"abcdefgh", dtype=numpy.uint8)
            group["counts"] = numpy.array([1, 2, 3], dtype=numpy.uint64)
        proc = subprocess.run([g, "show", str(corrupt)], capture_output=True, text=True, timeout=60,
                              env=ENV)
        expect("show of a file with broken key offsets says so", proc, 1, "is corrupt")

        # An unreadable input: root reads everything, so run as an unprivileged user when root.
        secret = work / "secret.txt"
        secret.write_text("hidden words\n")
        secret.chmod(0)
        work.chmod(0o777)
        command = ["mpirun", "-q", "-np", "2", "--bind-to", "none", g, "wordcount", "-o",
                   str(work / "s.h5"), str(text), str(secret)]
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            command = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                       "--clear-groups", "env", "HOME=/tmp", *command]
        expect("unreadable input", subprocess.run(command, capture_output=True, text=True,
                                                  timeout=60, env=ENV, cwd="/tmp"),
               2, "Permission denied", work / "s.h5")

    finish()


if __name__ == "__main__":
    main()
