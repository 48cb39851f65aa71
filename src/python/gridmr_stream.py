"""Your Python functions as the mapper, reducer and combiner of `gridmr stream`.

Write the functions, hand them to run(), and name the script once per role:

    # job.py
    import gridmr_stream

    def mapper(line):              # one input line, a str without its "\\n"
        for word in line.split():
            yield word.lower(), 1  # (key, value) pairs, as many as you like
                                   # (or return a list of pairs, or a dict)

    def reducer(key, values):      # one key and an iterator over all its values
        return sum(values)         # the key's result; None prints nothing for it

    if __name__ == "__main__":
        gridmr_stream.run(mapper, reducer)

    mpirun -np 4 gridmr stream --mapper "python3 job.py map" \\
        --reducer "python3 job.py reduce" -o out.h5 inputs/

`python3 job.py map` reads lines on stdin and prints `key<TAB>value` lines;
`python3 job.py reduce` (and `combine`, for --combiner) reads them sorted by
key and prints one `key<TAB>result` line per key. gridmr puts the folder of
this module on PYTHONPATH for the programs it starts, so `import gridmr_stream`
needs no installation step. With a built-in reducer (`--reducer sum`, `max`,
`collect`...) only the mapper is yours: run(mapper).

Text: a line is decoded as UTF-8, and bytes that are not UTF-8 pass through
unchanged both ways (surrogateescape); run(..., binary=True) hands the
functions bytes instead. Only the "\\n" is removed from a line (a "\\r" of a
CRLF file stays: use line.rstrip()). The file a line comes from is in
os.environ["GRIDMR_INPUT"]; with `gridmr stream --combine-files
--include-path` (one mapper for many small files) it leads the line instead:
path, _, text = line.partition("\\t").

Keys: str (bytes with binary=True), int or float; a key must not hold a tab
or a newline. Values: int, float (written so that they read back exactly),
str or bytes; a value must not hold a newline. bool counts as int, and other
integer and real number types (numpy's) as int and float.

A reducer's values arrive parsed: a value that reads as an integer as an
int, one that reads as a decimal number as a float, any other as str (or
bytes). Pass values=str (or int, float, json.loads...) to run() to parse them
yourself instead.

An exception in your function ends the program with its traceback; gridmr
then fails the job (exit 1) and shows the traceback's last line.

A worker of `gridmr farm --worker` (Pool.map over the cluster): serve(task)
calls task(item) for each item, a line of stdin, and prints the result as
one line (written before it waits for more items, or within a few
milliseconds), and the process lives for all the items of its thread:

    # task.py
    import gridmr_stream

    def task(item):               # "42" (--range) or a line of --items
        return int(item) ** 2     # str, bytes, int, float; None: an empty line;
                                  # a list, dict or tuple: as JSON

    if __name__ == "__main__":
        gridmr_stream.serve(task)

    mpirun -np 4 gridmr farm --range 1000 --worker "python3 task.py" -o out.h5

An exception in task() ends the worker: that item fails (and is retried
with --retries), and the next item starts a new worker.

Results back in Python, without h5py: rows(path) yields each row of a
result file as a tuple, as `gridmr cat` prints it (docs/result-format.md,
"As text"): the key (or the farm's item) as text, the other fields parsed
as a reducer's values are.

    counts = dict(gridmr_stream.rows("out.h5"))          # {word: count}
    for item, stdout, exit_code, *_ in gridmr_stream.rows("pi.h5"):
        hits, samples = map(int, stdout.split())

Or the script runs the job itself and gets Python values back, as with
Lithops' map_reduce() and Pool.map() (the functions at the top level, the
script's work under `if __name__ == "__main__":`, as multiprocessing asks:
the children import the script again to find the functions):

    if __name__ == "__main__":
        counts = gridmr_stream.map_reduce(mapper, "inputs/", reducer, np=2)
        squares = gridmr_stream.farm(task, range(1000), np=2)
"""
import importlib
import itertools
import json
import numbers
import os
import re
import sys
import threading
import time

# runpy, shlex, shutil and subprocess are imported where they are used (rows(),
# map_reduce(), farm() and their children's start): a mapper or worker needs
# none of them, and they would add about 15 ms to every one's start-up.

__all__ = ["run", "serve", "rows", "map_reduce", "farm"]

_INT = re.compile(rb"[-+]?[0-9]+")
_DECIMAL = re.compile(rb"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_ROLES = ("map", "reduce", "combine")
_IMMUTABLE = (int, float, str, bytes)  # parsed values that may be shared


def _fail(message):
    sys.stderr.write(f"gridmr_stream: {message}\n")
    sys.exit(2)


def _auto(raw):
    """A value's bytes as an int, a float or the text itself."""
    if _INT.fullmatch(raw):
        return int(raw)
    if _DECIMAL.fullmatch(raw):
        return float(raw)
    return raw


class _Codec:
    """Bytes on the pipes, str (or bytes) in the user's functions."""

    def __init__(self, binary):
        self.binary = binary

    def text(self, raw):
        return raw if self.binary else raw.decode("utf-8", "surrogateescape")

    def raw(self, item, what):
        if isinstance(item, bool):
            item = int(item)
        if isinstance(item, int):
            return b"%d" % item
        if isinstance(item, float):
            return repr(item).encode()  # the shortest text that reads back as the same double
        if isinstance(item, str):
            return item.encode("utf-8", "surrogateescape")
        if isinstance(item, (bytes, bytearray)):
            return bytes(item)
        if isinstance(item, numbers.Integral):  # numpy's integers, for one
            return b"%d" % int(item)
        if isinstance(item, numbers.Real):
            return repr(float(item)).encode()
        raise TypeError(f"gridmr_stream: a {what} must be str, bytes, int or float, "
                        f"not {type(item).__name__}: {item!r}")

    def key(self, key):
        raw = self.raw(key, "key")
        if b"\t" in raw or b"\n" in raw:
            raise ValueError(f"gridmr_stream: a key must not hold a tab or a newline: {key!r}")
        return raw

    def value(self, value):
        raw = self.raw(value, "value")
        if b"\n" in raw:
            raise ValueError(f"gridmr_stream: a value must not hold a newline: {value!r}")
        return raw


def _lines(stream):
    for line in stream:
        yield line[:-1] if line.endswith(b"\n") else line


def _pair(pair):
    """A (key, value) pair, or a TypeError that says what came instead."""
    try:
        if isinstance(pair, (str, bytes)):
            raise TypeError
        key, value = pair
    except (TypeError, ValueError):
        raise TypeError(f"gridmr_stream: the mapper must yield (key, value) pairs, "
                        f"not {pair!r}") from None
    return key, value


def _map(mapper, codec, source, out):
    # A line's (str key, int value) pairs, the common case, are formatted as
    # one text and encoded once, then checked by counting: each such pair
    # gives exactly one tab and one newline. (The general conversion of every
    # item took most of a simple mapper's time.) From the first other pair on,
    # the rest of the line takes the general way, so the order stays.
    binary = codec.binary
    fast_key = bytes if binary else str

    def flush(fast):
        raw = b"".join(fast) if binary else "".join(fast).encode("utf-8", "surrogateescape")
        n = len(fast) // 2
        if raw.count(b"\t") != n or raw.count(b"\n") != n:
            for key in fast[::2]:
                codec.key(key)  # raises, naming the key with a tab or a newline
        out.write(raw)

    for line in _lines(source):
        pairs = mapper(codec.text(line))
        if pairs is None:
            continue
        if isinstance(pairs, dict):
            pairs = pairs.items()
        fast, other = [], None
        for pair in pairs:
            key, value = pair if type(pair) is tuple and len(pair) == 2 else _pair(pair)
            if other is None and type(key) is fast_key and type(value) is int:
                fast.append(key)
                fast.append(b"\t%d\n" % value if binary else "\t%d\n" % value)
                continue
            if other is None:
                other = []
                if fast:
                    flush(fast)
            other.append(b"%s\t%s\n" % (codec.key(key), codec.value(value)))
        if other:
            out.write(b"".join(other))
        elif fast:
            flush(fast)


def _value_parser(codec, parse):
    """raw bytes -> a value: by `parse` (given the text), or as int, float or
    text as they read."""
    parsed = {}  # short values repeat (a count's "1"): each is parsed once (immutable results)

    def value_of(raw):
        value = parsed.get(raw)
        if value is not None:
            return value
        if parse is None:
            value = _auto(raw)
            if isinstance(value, bytes):
                value = codec.text(value)
        else:
            value = parse(codec.text(raw))
        if len(raw) <= 8 and len(parsed) < 4096 and type(value) in _IMMUTABLE:
            parsed[raw] = value
        return value
    return value_of


def _reduce(reducer, codec, parse, source, out):
    def split(line):
        tab = line.find(b"\t")
        return (line, b"") if tab < 0 else (line[:tab], line[tab + 1:])

    value_of = _value_parser(codec, parse)
    pairs = (split(line) for line in _lines(source))
    for raw_key, group in itertools.groupby(pairs, key=lambda pair: pair[0]):
        result = reducer(codec.text(raw_key), (value_of(raw) for _, raw in group))
        if result is not None:
            out.write(raw_key + b"\t" + codec.value(result) + b"\n")


def run(mapper=None, reducer=None, combiner=None, *, values=None, binary=False, argv=None):
    """Runs the role that the command line names (`map`, `reduce` or `combine`)
    on stdin and stdout. `combiner` defaults to `reducer`. `values`: how a
    reducer's values are parsed (default: int, float or text, as they read)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if len(args) != 1 or args[0] not in _ROLES:
        _fail(f"name the role: {' | '.join(_ROLES)} (as in --mapper \"python3 "
              f"{sys.argv[0]} map\"), got {' '.join(args) or 'nothing'}")
    role = args[0]
    function = {"map": mapper, "reduce": reducer, "combine": combiner or reducer}[role]
    if function is None:
        _fail(f"no {'mapper' if role == 'map' else 'reducer'} function was given to run() "
              f"for '{role}'")
    codec = _Codec(binary)
    # One system call per 64 KiB, whatever PYTHONUNBUFFERED says.
    out = open(sys.stdout.fileno(), "wb", buffering=1 << 16, closefd=False)
    source = open(sys.stdin.fileno(), "rb", buffering=1 << 16, closefd=False)
    if role == "map":
        _map(function, codec, source, out)
    else:
        _reduce(function, codec, values, source, out)
    out.flush()


class _Answers:
    """A worker's answers on their way out: written together before the
    worker waits for more items, and otherwise by a thread within a few
    milliseconds of the first held back (so that an answer never waits for
    the next item, however long that one runs). One write for a unit of
    small items instead of one each: 200,000 items through an identity
    task took 0.2 s instead of 0.67 s, piped alone. add() takes no lock
    (list.append is atomic); a writer takes the first n held and deletes
    just those, under a lock that keeps the writes in order."""

    def __init__(self, fd):
        self._fd = fd
        self._held = []
        self._write = threading.Lock()
        self._waiting = threading.Event()  # set: answers are held
        self._closing = False
        self._thread = threading.Thread(target=self._write_soon, name="gridmr-answers",
                                        daemon=True)
        self._thread.start()

    def add(self, raw):
        self._held.append(raw)
        if not self._waiting.is_set():
            self._waiting.set()

    def flush(self):
        with self._write:
            n = len(self._held)
            if n == 0:
                return
            data = memoryview(b"".join(self._held[:n]))
            del self._held[:n]
            while data:
                data = data[os.write(self._fd, data):]

    def close(self):
        self._closing = True
        self._waiting.set()
        self._thread.join()
        self.flush()

    def _write_soon(self):
        while True:
            self._waiting.wait()
            time.sleep(0.002)
            self._waiting.clear()  # before the write: an answer added after it sets it again
            if self._closing:  # close() sets _closing before it sets _waiting
                return
            try:
                self.flush()
            except OSError:  # gridmr has gone: the main loop finds out too
                return


def serve(task, *, items=None, binary=False):
    """The worker loop of `gridmr farm --worker`: task(item) for each line of
    stdin (without its newline; parsed by `items`, say int, if given), each
    result printed as one line. Answers are written before the worker waits
    for more items and otherwise within a few milliseconds (_Answers); an
    exception in task() writes those before it ends the worker."""
    codec = _Codec(binary)
    source = sys.stdin.fileno()
    answers = _Answers(sys.stdout.fileno())

    def answer(line):
        item = codec.text(line)
        result = task(items(item) if items is not None else item)
        if result is None:
            raw = b""
        elif isinstance(result, (list, tuple, dict)):
            raw = json.dumps(result).encode()
        else:
            raw = codec.raw(result, "result")
        if b"\n" in raw:
            raise ValueError(f"gridmr_stream: a result must be one line, without a newline: "
                             f"{result!r}")
        answers.add(raw + b"\n")

    pending = bytearray()  # input after the last whole line
    try:
        while True:
            answers.flush()  # before waiting for more items
            chunk = os.read(source, 1 << 16)
            if not chunk:
                break
            start = 0
            newline = chunk.find(b"\n")
            if newline >= 0 and pending:
                pending += chunk[:newline]
                answer(bytes(pending))
                pending.clear()
                start = newline + 1
                newline = chunk.find(b"\n", start)
            while newline >= 0:
                answer(chunk[start:newline])
                start = newline + 1
                newline = chunk.find(b"\n", start)
            pending += chunk[start:]
        if pending:
            answer(bytes(pending))  # a last line without its newline
    finally:
        answers.close()


_UNESCAPE = {b"t": b"\t", b"n": b"\n", b"r": b"\r", b"\\": b"\\"}
_ESCAPED = re.compile(rb"\\(.)")


def _unescape(field):
    """A field of `gridmr cat` back to its bytes (\\t, \\n, \\r and \\\\)."""
    if b"\\" not in field:
        return field
    return _ESCAPED.sub(lambda m: _UNESCAPE.get(m.group(1), m.group(0)), field)


def _gridmr_program(given):
    """The gridmr program: `given`, else $GRIDMR, else the one beside this
    module (PREFIX/bin/gridmr for PREFIX/share/gridmr/python, or a build
    folder's gridmr), else build/gridmr of the source tree it is in, else
    `gridmr` on PATH."""
    if given:
        return os.fspath(given)
    if os.environ.get("GRIDMR"):
        return os.environ["GRIDMR"]
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(here, "..", "..", "..", "bin", "gridmr"),
                      os.path.join(here, "..", "..", "..", "gridmr"),
                      os.path.join(here, "..", "..", "build", "gridmr")):
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.normpath(candidate)
    import shutil
    found = shutil.which("gridmr")
    if found:
        return found
    raise FileNotFoundError("gridmr_stream.rows: no gridmr program found: pass gridmr=PATH, "
                            "set GRIDMR, or put gridmr on PATH")


def rows(path, table=None, *, values=None, binary=False, gridmr=None):
    """Yields the rows of the result file `path` as tuples, as `gridmr cat
    path [table]` prints them, each field unescaped: the first (the key, the
    farm's item) as text, the others as a reducer's values are parsed (int,
    float or text; `values`, say str or json.loads, parses them instead).
    `table`: a group, dataset or key list of the file (default: the job's).
    binary=True gives bytes for text. A failure of `gridmr cat` (no such
    file, not a result) raises RuntimeError with its message; its notes go
    to stderr. `gridmr`: the program to run (see _gridmr_program)."""
    import subprocess
    codec = _Codec(binary)
    value_of = _value_parser(codec, values)
    command = [_gridmr_program(gridmr), "cat", "--", os.fspath(path), *([table] if table else [])]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            bufsize=1 << 16)
    finished = False
    text = codec.text
    try:
        for line in proc.stdout:
            fields = line[:-1].split(b"\t")  # gridmr cat ends every line
            if b"\\" in line:
                fields = [_unescape(f) for f in fields]
            yield (text(fields[0]), *map(value_of, fields[1:]))
        finished = True
    finally:
        if not finished and proc.poll() is None:  # the caller stopped early
            proc.kill()
        proc.stdout.close()
        message = proc.stderr.read().decode("utf-8", "replace")
        proc.stderr.close()
        status = proc.wait()
    if status != 0:
        raise RuntimeError(message.strip().splitlines()[-1] if message.strip()
                           else f"{' '.join(command)} exited with status {status}")
    if message:
        sys.stderr.write(message)


_in_child = False  # this process is a child that map_reduce() or farm() started


def _not_in_child(call):
    """A child that imports the script must not start jobs of its own."""
    if _in_child:
        raise RuntimeError(f"gridmr_stream: {call}() ran again in a mapper, reducer or worker "
                           f"that imports the script: put the script's own work under "
                           f"if __name__ == \"__main__\":")


def _reference(function, what):
    """'module:qualname' of a function that a child process can import again."""
    if function is None:
        return ""
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", "")
    if not module or not name or "<" in name:
        raise ValueError(f"gridmr_stream: the {what} must be a function defined at the top level "
                         f"of a module or script (as for multiprocessing), not {function!r}")
    if module == "__main__" and not os.path.isfile(sys.argv[0]):
        raise ValueError(f"gridmr_stream: the {what} {name} is defined in an interactive "
                         f"session: define it in a .py file, which the children can import")
    return f"{module}:{name}"


def _child_command(role, **functions):
    """The shell command that starts a child of this script: `python3 -m
    gridmr_stream ROLE NAME=REFERENCE... -- SCRIPT ARGS...` imports the script
    (not as __main__) and the modules of the functions, then runs the role."""
    import shlex
    script = [os.path.abspath(sys.argv[0]), *sys.argv[1:]] if os.path.isfile(sys.argv[0]) else []
    settings = [f"{name}={value}" for name, value in functions.items() if value]
    return shlex.join([sys.executable, "-m", "gridmr_stream", role, *settings, "--", *script])


def _child(args):
    """A child of map_reduce() or farm() (args: ROLE NAME=REFERENCE... --
    SCRIPT ARGS...): finds the functions again and runs the role on stdin and
    stdout. The script runs under the name __gridmr_child__, so its `if
    __name__ == "__main__":` block does not."""
    global _in_child
    _in_child = True
    end = args.index("--")
    role, spec = args[0], dict(setting.split("=", 1) for setting in args[1:end])
    sys.argv = args[end + 1:] or [""]  # the script and its arguments, as the driver had them
    script = sys.argv[0]
    if script:
        sys.path.insert(0, os.path.dirname(script))
    namespace = None

    def resolve(reference):
        nonlocal namespace
        if not reference:
            return None
        module, _, name = reference.partition(":")
        parts = name.split(".")
        if module == "__main__":
            if namespace is None:
                import runpy
                namespace = runpy.run_path(script, run_name="__gridmr_child__")
            found = namespace[parts.pop(0)]
        else:
            found = importlib.import_module(module)
        for part in parts:
            found = getattr(found, part)
        return found

    binary = spec.get("binary") == "1"
    if role == "worker":
        serve(resolve(spec.get("task")), items=int if spec.get("int") == "1" else None,
              binary=binary)
    else:
        run(resolve(spec.get("mapper")), resolve(spec.get("reducer")),
            resolve(spec.get("combiner")), values=resolve(spec.get("values")), binary=binary,
            argv=[role])


def _launch(args, out, np, options, force, quiet, gridmr, launcher, inputs=()):
    """Runs `LAUNCHER gridmr ARGS [options] -o OUT -- INPUTS`; a RuntimeError
    with gridmr's last stderr line if it fails."""
    import shlex
    import subprocess
    if launcher is not None and np is not None:
        raise ValueError("gridmr_stream: give np or launcher, not both")
    if launcher is None and np is None and os.environ.get("SLURM_JOB_ID"):
        launcher, options = _slurm_launch(options)
    if launcher is None:
        launcher = ["mpirun", "-np", str(np or 1)]
    command = [*launcher, _gridmr_program(gridmr), *args, *options,
               *(["--quiet"] if quiet else []), *(["--force"] if force else []),
               "-o", os.fspath(out), *(["--", *inputs] if inputs else [])]
    proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    lines = [line for line in proc.stderr.decode("utf-8", "replace").splitlines()
             if line.startswith("gridmr")]
    if proc.returncode != 0:
        raise RuntimeError(lines[-1] if lines else
                           f"{shlex.join(command)} exited with status {proc.returncode}")
    for line in lines:  # warnings and notes of a run that succeeded
        sys.stderr.write(line + "\n")


def _slurm_launch(options):
    """Inside a Slurm job: srun over all its tasks, a rank each, with the
    job's --cpus-per-task as gridmr's --threads (as slurm/job-common.sh does;
    srun of Slurm 22.05 does not inherit --cpus-per-task). Debian's Open MPI
    speaks PMIx only, hence --mpi=pmix."""
    launcher = ["srun", "--mpi=pmix", "--kill-on-bad-exit=1"]
    threads = os.environ.get("SLURM_CPUS_PER_TASK")
    if threads:
        launcher.append(f"--cpus-per-task={threads}")
        if "--threads" not in options:
            options = [*options, "--threads", threads]
    return launcher, options


_temporary_results = itertools.count()


def _result_path(out):
    """out, or a name of this process's own for a result read and removed."""
    if out is not None:
        return out
    return os.path.abspath(f".gridmr-{os.getpid()}-{next(_temporary_results)}.h5")


def map_reduce(mapper, inputs, reducer="sum", *, combiner=None, out=None, np=None,
               options=(), force=False, quiet=True, values=None, binary=False, gridmr=None,
               launcher=None):
    """Lithops' map_reduce(map, data, reduce) on gridmr: runs `gridmr stream`
    over `inputs` (a path, or a list of files and folders) with `mapper` and
    `reducer` (a function, or a built-in reducer's name: "sum", "min", "max",
    "count", "mean", "collect") and returns {key: value}; with "collect",
    {key: [(value, count), ...]}.

    As with multiprocessing, the functions must be defined at the top level of
    a module or of the script, and the script's own work must sit under `if
    __name__ == "__main__":`: every mapper and reducer process imports the
    script again to find them (with the same sys.argv), so code outside that
    block runs in each of them and must print nothing on stdout.

    np: ranks under `mpirun -np` (default 1; a rank runs a mapper per
    thread; inside a Slurm job, srun over all its tasks instead); launcher:
    the command instead (["srun", ...], ["mpirun", "--hostfile", ...]). out:
    the result file to keep (default: .gridmr-<pid>-<n>.h5 in the current folder,
    which all ranks must share, removed after reading). options: more `gridmr
    stream` options (["--threads", "4", "--values", "float"]). values, binary:
    as for run(). A failure raises RuntimeError with gridmr's line."""
    _not_in_child("map_reduce")
    functions = {"mapper": _reference(mapper, "mapper"),
                 "reducer": _reference(reducer, "reducer") if callable(reducer) else "",
                 "combiner": _reference(combiner, "combiner"),
                 "values": _reference(values, "values parser"), "binary": "1" if binary else ""}
    args = ["stream", "--mapper", _child_command("map", **functions), "--reducer",
            _child_command("reduce", **functions) if callable(reducer) else reducer]
    if combiner is not None:
        args += ["--combiner", _child_command("combine", **functions)]
    paths = [os.fspath(i) for i in ([inputs] if isinstance(inputs, (str, os.PathLike))
                                    else inputs)]
    path = _result_path(out)
    try:  # a file of our own name may be replaced
        _launch(args, path, np, options, force or out is None, quiet, gridmr, launcher, paths)
        if reducer != "collect":  # key, value (and mean's count)
            return {row[0]: row[1] for row in rows(path, values=values, binary=binary,
                                                   gridmr=gridmr)}
        result = {}
        for key, value, count in rows(path, values=values, binary=binary, gridmr=gridmr):
            result.setdefault(key, []).append((value, count))
        return result
    finally:
        if out is None and os.path.exists(path):
            os.unlink(path)


def farm(task, items, *, out=None, np=None, options=(), force=False, quiet=True,
         results=None, binary=False, gridmr=None, launcher=None):
    """Pool.map(task, items) on gridmr: runs `gridmr farm` with `task`
    served by serve() in a worker per thread of every rank, and returns the
    results in item order, each parsed as a reducer's value is (int, float or
    text; results=json.loads for a task that returns lists or dicts).
    items: range(N) (as --range N), or str, bytes or int (written one per line
    beside the result file, as --items); a task gets an int where every item
    is one, else the text. The task, like map_reduce()'s functions, must be
    defined at the top level of a module or of the script, whose own work
    sits under `if __name__ == "__main__":`. A failed item fails the job
    (RuntimeError with gridmr's line) unless options allow failures (say
    ["--max-failures", "10", "--retries", "2"]): its result is then None.
    np, launcher, out, options: as for map_reduce(). No items: [], and no
    job runs (Pool.map's answer; `out` is not written)."""
    _not_in_child("farm")
    task_reference = _reference(task, "task")
    if not isinstance(items, range):
        items = list(items)
    if len(items) == 0:
        return []
    path = _result_path(out)
    listing = None
    try:
        if isinstance(items, range) and items.start == 0 and items.step == 1:
            numeric, given = True, ["--range", str(len(items))]
        else:
            numeric = all(isinstance(i, int) and not isinstance(i, bool) for i in items)
            codec = _Codec(binary)
            lines = []
            for item in items:
                raw = codec.raw(item, "item")
                if b"\n" in raw:
                    raise ValueError(f"gridmr_stream: an item must be one line: {item!r}")
                lines.append(raw + b"\n")
            # Beside the result (rank 0 reads it), never over a file already there.
            name = os.fspath(path) + ".items"
            with open(name, "xb") as f:
                listing = name
                f.writelines(lines)
            given = ["--items", listing]
        worker = _child_command("worker", task=task_reference, int="1" if numeric else "",
                                binary="1" if binary else "")
        _launch(["farm", "--worker", worker, *given], path, np, options, force or out is None,
                quiet, gridmr, launcher)
        parse = _value_parser(_Codec(binary), results)
        return [parse(stdout) if exit_code == b"0" else None
                for _, stdout, exit_code, *_ in rows(path, values=bytes, binary=True,
                                                     gridmr=gridmr)]
    finally:
        if listing is not None:
            os.unlink(listing)
        if out is None and os.path.exists(path):
            os.unlink(path)


if __name__ == "__main__":  # python3 -m gridmr_stream ROLE ...: a child of map_reduce() or farm()
    import gridmr_stream  # the module the script imports, not this __main__ copy of it

    gridmr_stream._child(sys.argv[1:])
