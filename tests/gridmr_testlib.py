"""Shared helpers for the integration tests: run gridmr under mpirun, read results with h5py,
and count words independently with Python's re (the word rule of docs/records.md)."""
import collections
import os
import pathlib
import re
import subprocess
import sys

import h5py
import numpy

WORD = re.compile(rb"[A-Za-z0-9\x80-\xff]+")
LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1",
           PMIX_MCA_psec=os.environ.get("PMIX_MCA_psec", "native"),  # as scripts/env.sh
           HWLOC_COMPONENTS=os.environ.get("HWLOC_COMPONENTS", "-linuxio,-pci"))


def expected_counts(paths):
    """Word counts of every regular file under `paths`, by the word rule of docs/records.md."""
    counts = collections.Counter()
    for root in paths:
        root = pathlib.Path(root)
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for f in files:
            counts.update(w.translate(LOWER) for w in WORD.findall(f.read_bytes()))
    return counts


def partials(out):
    """The partial files of output `out` (OUT.partial-<random>) that exist now."""
    out = pathlib.Path(out)
    return sorted(out.parent.glob(out.name + ".partial*"))


def mpirun(gridmr, np, args, timeout=300, env=None):
    """Runs `mpirun -np N gridmr ARGS` (in `env`, default ENV); returns the CompletedProcess."""
    command = ["mpirun", "-q", "-np", str(np), "--bind-to", "none", os.path.abspath(gridmr), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env or ENV)


def mpirun_peak_rss(gridmr, np, args, timeout=300):
    """Runs `mpirun -np N gridmr ARGS`; returns (CompletedProcess, the peak resident size in MiB
    of any process it started: mpirun, the ranks, their children)."""
    probe = ("import resource, subprocess, sys\n"
             "r = subprocess.run(sys.argv[1:])\n"
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.exit(r.returncode)\n")
    command = ["mpirun", "-q", "-np", str(np), "--bind-to", "none", os.path.abspath(gridmr), *args]
    r = subprocess.run([sys.executable, "-c", probe, *command], capture_output=True, text=True,
                       env=ENV, timeout=timeout)
    return r, (int(r.stdout.split()[-1]) / 1024 if r.stdout.split() else 0)


def named_netns_possible():
    """Whether `ip netns add` can work here, found without making a named namespace (a failed
    one leaves a bind mount of /run/netns behind): network namespaces must be allowed, and the
    root must be a mount point (`ip` runs `mount --make-rslave /`, which a chroot refuses)."""
    return (subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0
            and subprocess.run(["mountpoint", "-q", "/"], capture_output=True).returncode == 0)


def read_result(path):
    """Every dataset (as numpy arrays) and attribute of a result file, by path."""
    datasets, attributes = {}, {}
    with h5py.File(path, "r") as f:
        attributes["/"] = dict(f.attrs)

        def visit(name, obj):
            attributes[name] = dict(obj.attrs)
            if isinstance(obj, h5py.Dataset):
                datasets[name] = obj[()]
        f.visititems(visit)
    return datasets, attributes


def words_of(datasets):
    """{word: count} from the CSR keys and the counts of a word count result."""
    offsets = datasets["wordcount/keys/offsets"]
    data = datasets["wordcount/keys/data"].tobytes()
    counts = datasets["wordcount/counts"]
    keys = [data[offsets[i]:offsets[i + 1]] for i in range(len(counts))]
    return keys, dict(zip(keys, (int(c) for c in counts)))


def same_datasets(a, b, skip_prefix="stats/"):
    """Names of datasets that differ between two results (stats aside)."""
    names = {n for n in set(a) | set(b) if not n.startswith(skip_prefix)}
    return sorted(n for n in names
                  if n not in a or n not in b or a[n].dtype != b[n].dtype
                  or not numpy.array_equal(a[n], b[n]))


_failures = []
_checks = 0


def launcher_lines(stderr):
    """stderr's lines without libevent's own warnings ("[warn] Epoll MOD(1) on fd 24 failed ...
    Bad file descriptor"), which Open MPI's event loop may print while mpirun, signalled, tears
    down its connections to ranks that already left (seen once, in a CI run of the late SIGTERM
    case; not reproduced in 110 runs since). They are not gridmr's; gridmr never writes
    "[warn] "."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("[warn] ")]


def check(label, ok, detail=""):
    """Records one check and prints 'ok' or 'FAIL' with the label (and detail)."""
    global _checks
    _checks += 1
    print(("ok   " if ok else "FAIL ") + label + (f": {detail}" if detail else ""), flush=True)
    if not ok:
        _failures.append(label)


def finish():
    """Prints the closing 'N passed, N failed' line and exits non-zero on any failure."""
    print(f"{_checks - len(_failures)} passed, {len(_failures)} failed")
    sys.exit(1 if _failures else 0)
