#!/usr/bin/python3
"""Scheduling and statistics: under --schedule dynamic and static, at np 1-3, every unit is
mapped exactly once (also with more ranks than units, and with a single unit), the counts equal
the independent count, both schedules give identical datasets, the statistics rows add up to
their totals, rank 0 reports progress unless --quiet, and long units are shared from the start."""
import argparse
import math
import os
import pathlib
import re
import tempfile

import subprocess

from gridmr_testlib import ENV, check, expected_counts, finish, mpirun, read_result, same_datasets, words_of



def files_under(paths):
    out = []
    for p in map(pathlib.Path, paths):
        out += [p] if p.is_file() else sorted(f for f in p.rglob("*") if f.is_file())
    return out


def table_rows(stdout):
    """The rows of the --stats table: (rank, units, percent)."""
    rows = []
    for line in stdout.splitlines():
        m = re.match(r"\s*(\d+|total)\s+\S*\s+(\d+)\s+([\d.]+)%", line)
        if m:
            rows.append((m.group(1), int(m.group(2)), float(m.group(3))))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    g = args.gridmr
    with tempfile.TemporaryDirectory(prefix="gridmr-sched-") as work:
        work = pathlib.Path(work)
        single = work / "single.txt"
        single.write_text("one unit only: more ranks than units\n")
        cases = [
            ("a single unit", [str(single)], "16MiB"),
            ("two units", [str(pathlib.Path(args.inputs) / "kjv/john.txt")], "64KiB"),
            ("hundreds of units", [args.inputs], "3KiB"),
        ]
        for label, inputs, unit in cases:
            expected = expected_counts(inputs)
            sizes = [f.stat().st_size for f in files_under(inputs)]
            units = sum(math.ceil(s / (int(unit[:-3]) * 1024 if unit.endswith("KiB") else
                                       int(unit[:-3]) * 1024 * 1024)) for s in sizes)
            reference = None
            for schedule in ("dynamic", "static"):
                for np in (1, 2, 3):
                    out = work / f"{schedule}-{np}.h5"
                    proc = mpirun(g, np, ["wordcount", "--schedule", schedule, "--threads", "2",
                                          "--unit-size", unit, "--stats", "--force", "-o", str(out),
                                          *inputs])
                    name = f"{label}, {schedule}, np={np}"
                    if proc.returncode != 0:
                        check(name, False, proc.stderr.strip())
                        continue
                    datasets, attrs = read_result(out)
                    stats = datasets["stats/ranks"]
                    check(f"{name}: counts equal the independent count",
                          words_of(datasets)[1] == expected)
                    check(f"{name}: every unit mapped exactly once ({units} units)",
                          int(stats["units"].sum()) == units and
                          int(stats["input_bytes"].sum()) == sum(sizes),
                          f"per rank {list(stats['units'])}")
                    check(f"{name}: bytes sent add up to bytes received",
                          int(stats["bytes_sent"].sum()) == int(stats["bytes_received"].sum()))
                    rows = table_rows(proc.stdout)
                    body, total = rows[:-1], rows[-1] if rows else None
                    check(f"{name}: --stats rows sum to the total row",
                          total is not None and total[0] == "total" and len(body) == np
                          and sum(r[1] for r in body) == total[1] == units
                          and abs(sum(r[2] for r in body) - 100) <= 0.1 * np,
                          proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "no table")
                    if reference is None:
                        reference = datasets
                    else:
                        differ = same_datasets(reference, datasets)
                        check(f"{name}: datasets identical to the first run", not differ, str(differ))

        # The static scatter in rounds of at most N units per rank (GRIDMR_DEBUG_SCATTER_ROUND_UNITS;
        # by default N keeps every byte count below INT_MAX): many rounds, same result.
        label, inputs, unit = cases[-1]
        expected = expected_counts(inputs)
        for np, round_units in ((2, 1), (3, 7)):
            out = work / f"rounds-{np}.h5"
            proc = subprocess.run(
                ["mpirun", "-q", "-np", str(np), "--bind-to", "none", os.path.abspath(g), "wordcount",
                 "--schedule", "static", "--threads", "1", "--unit-size", unit, "-o", str(out), *inputs],
                capture_output=True, text=True, timeout=300,
                env=dict(ENV, GRIDMR_DEBUG_SCATTER_ROUND_UNITS=str(round_units)))
            ok = proc.returncode == 0
            if ok:
                datasets, _ = read_result(out)
                stats = datasets["stats/ranks"]
                ok = words_of(datasets)[1] == expected and int(stats["units"].sum()) == units
            check(f"static scatter in rounds of {round_units} unit(s) per rank, np={np}: every unit "
                  f"mapped once, exact counts", ok, proc.stderr.strip())

        # Progress: plain lines when stderr is not a terminal; nothing with --quiet. The run
        # must last a few seconds (about 3 s with VAES, 7 s without).
        proc = mpirun(g, 2, ["montecarlo", "--threads", "1", "--samples", "1.5e10", "--force", "-o",
                             str(work / "p.h5")])
        lines = [l for l in proc.stderr.splitlines() if l.startswith("gridmr: ")]
        pattern = (r"gridmr: map \d+/\d+ units \(\d+%\), [\d.]+ (G|M) samples/s, "
                   r"\d+:\d\d elapsed, ETA ((\d+:)?\d+:\d\d|--)$")
        phase = (r"gridmr: (shuffle done in \d+ rounds? \([\d.]+ s\)|reduce done: \d+ keys "
                 r"\([\d.]+ s\); writing), \d+:\d\d elapsed$")
        check("a long run prints progress lines (units, rate, ETA), its phases, then what it wrote",
              proc.returncode == 0 and len(lines) >= 3 and all(re.match(pattern, l) for l in lines[:-2])
              and all(re.match(phase, l) for l in lines[-2:])
              and re.match(r"gridmr: wrote '.*p\.h5' \([\d.]+ KiB\): \d+ keys in [\d.]+ s on 2 ranks "
                           r"x 1 thread$", proc.stdout), str(lines) + proc.stdout)
        proc = mpirun(g, 2, ["montecarlo", "--quiet", "--threads", "1", "--samples", "5e9", "--force",
                             "-o", str(work / "p.h5")])
        check("--quiet prints no progress", proc.returncode == 0 and proc.stderr == "", proc.stderr)
        check("--quiet prints no summary line either", proc.stdout == "", proc.stdout)
        long_mc = ["montecarlo", "--threads", "1", "--samples", "1e10", "--force", "-o", str(work / "p.h5")]
        proc = mpirun(g, 2, [*long_mc, "--progress", "none"])
        check("--progress none: no progress, and the summary line on stdout",
              proc.returncode == 0 and proc.stderr == "" and proc.stdout.startswith("gridmr: wrote "),
              proc.stderr + proc.stdout)
        proc = mpirun(g, 2, [*long_mc, "--progress", "tty"])
        # (Python's text mode reads the carriage return as a newline; the erase-line code stays.)
        check("--progress tty: the line is redrawn in place even through a pipe",
              proc.returncode == 0 and "gridmr: map " in proc.stderr and "\x1b[K" in proc.stderr,
              repr(proc.stderr[:300]))
        # A shuffle in many rounds on a run already past its first second says so as it goes.
        proc = mpirun(g, 2, ["wordcount", "--threads", "1", "--memory", "64KiB", "--force", "-o",
                             str(work / "rounds.h5"), args.inputs], env=dict(ENV, GRIDMR_DEBUG_MAP_DELAY_MS="1200"))
        rounds = [l for l in proc.stderr.splitlines() if l.startswith("gridmr: shuffle round ")]
        check("a long shuffle prints a line as its rounds go (round, bytes received, elapsed)",
              proc.returncode == 0 and rounds and all(
                  re.match(r"gridmr: shuffle round [2-9]\d*, [\d.]+ (B|KiB|MiB|GiB) received by rank 0, \d+:\d\d "
                           r"elapsed$", l) for l in rounds), proc.stderr)

        # The phases' start times in /stats/ranks, and `gridmr plot` drawing them.
        out = work / "timeline.h5"
        proc = mpirun(g, 3, ["wordcount", "--threads", "1", "--unit-size", "64KiB", "--quiet", "-o", str(out),
                             args.inputs])
        stats = read_result(out)[0]["stats/ranks"]
        ordered = all(r["map_start_seconds"] <= r["shuffle_start_seconds"] <= r["reduce_start_seconds"]
                      <= r["write_start_seconds"] <= r["write_start_seconds"] + r["write_seconds"]
                      <= r["wall_seconds"] + 1e-6 for r in stats)
        check("/stats/ranks: the phases start in order on every rank, and end by the wall time",
              proc.returncode == 0 and len(stats) == 3 and ordered, str(stats))
        png = work / "timeline.png"
        proc = subprocess.run([g, "plot", str(out), "-o", str(png)], capture_output=True, text=True, env=ENV)
        made = png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        check("gridmr plot writes a PNG picture and says so on stdout",
              proc.returncode == 0 and made and proc.stdout.startswith("gridmr: wrote "),
              f"exit {proc.returncode}: {proc.stderr.strip()} {proc.stdout.strip()}")
        before = png.read_bytes() if png.exists() else b""
        proc = subprocess.run([g, "plot", str(out), "-o", str(png)], capture_output=True, text=True, env=ENV)
        check("gridmr plot does not replace a picture without --force: exit 2, one line",
              proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and png.read_bytes() == before,
              proc.stderr.strip())
        proc = subprocess.run([g, "plot", str(out), "-o", str(png), "--force"], capture_output=True, text=True,
                              env=ENV)
        check("gridmr plot --force replaces it", proc.returncode == 0, proc.stderr.strip())
        (work / "not.h5").write_text("not hdf5\n")
        proc = subprocess.run([g, "plot", str(work / "not.h5"), "-o", str(work / "n.png")], capture_output=True,
                              text=True, env=ENV)
        check("gridmr plot of a file that is not a result: exit 2, one line, no picture",
              proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and not (work / "n.png").exists(),
              proc.stderr.strip())
        check("gridmr plot leaves no partial picture", not list(work.glob("*.png.partial*")),
              str(list(work.glob("*.png.partial*"))))
        # Long units: every rank gets its first batch at the start, not once rank 0's first unit
        # (here about a second of sampling) has ended. Four units at 2 x 1: two each.
        out = work / "long-units.h5"
        proc = mpirun(g, 2, ["montecarlo", "--threads", "1", "--quiet", "--samples", "8e9",
                             "--unit-samples", "2e9", "-o", str(out)])
        check("4 long units at 2 ranks x 1 thread: exit 0", proc.returncode == 0, proc.stderr.strip())
        if proc.returncode == 0:
            units = list(read_result(out)[0]["stats/ranks"]["units"])
            check("4 long units at 2 ranks x 1 thread: two on each rank", units == [2, 2], str(units))
        proc = mpirun(g, 2, [*long_mc, "--progress", "sometimes"])
        lines = proc.stderr.splitlines()
        check("--progress with an unknown mode is a usage error",
              proc.returncode == 2 and len(lines) == 1 and "--progress" in lines[0], str(lines))

        # mpirun's default binding (one core per rank at up to 2 ranks) with a hybrid program: a
        # note after the summary when the threads share a core, or when cores stay idle and no
        # thread count was chosen; none when the user chose the binding, or under --quiet.
        cores = len(os.sched_getaffinity(0))
        reference = work / "bind-reference.h5"
        mpirun(g, 1, ["wordcount", "--threads", "1", "--quiet", "-o", str(reference), args.inputs])
        for label, mpirun_options, options, note in [
                ("mpirun -np 1, default binding", [], [],
                 f"mpirun bound each rank to 1 core (its default), so {cores - 1} of the {cores} "
                 "cores of this node stay" if cores > 1 else None),
                ("mpirun -np 1, default binding, --threads 2", [], ["--threads", "2"],
                 "each rank runs 2 threads on the 1 core it is bound to (mpirun's default binding)"
                 if cores > 1 else None),
                ("mpirun -np 1 --bind-to core --threads 2", ["--bind-to", "core"],
                 ["--threads", "2"], "each rank runs 2 threads on the 1 core it is bound to "
                 "(the launcher's binding)" if cores > 1 else None),
                ("mpirun -np 1 --bind-to core", ["--bind-to", "core"], [], None),
                ("mpirun -np 1 --bind-to none", ["--bind-to", "none"], [], None),
                ("mpirun -np 1, default binding, --threads 1", [], ["--threads", "1"], None),
                ("mpirun -np 1, default binding, --quiet", [], ["--quiet"], None)]:
            out = work / "bind.h5"
            proc = subprocess.run(["mpirun", "-q", "-np", "1", *mpirun_options, os.path.abspath(g),
                                   "wordcount", "--force", *options, "-o", str(out), args.inputs],
                                  capture_output=True, text=True, env=ENV, timeout=120)
            lines = proc.stderr.splitlines()
            check(f"{label}: exit 0, counts as before", proc.returncode == 0
                  and not same_datasets(read_result(reference)[0], read_result(out)[0]),
                  proc.stderr[-300:])
            if note is None:
                check(f"{label}: no note", lines == [], str(lines))
            else:
                check(f"{label}: the summary, and one note naming the way out", len(lines) == 1
                      and lines[0].startswith("gridmr: note: " + note)
                      and "`mpirun --bind-to none`" in lines[0]
                      and proc.stdout.startswith("gridmr: wrote"), str(lines))
    finish()


if __name__ == "__main__":
    main()
