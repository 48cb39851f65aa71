#!/usr/bin/python3
"""Compressed inputs: a folder mixing plain, gzip (Python's gzip module, several members), zstd
(the zstd tool, several frames), bzip2 and xz (Python's bz2 and lzma, two streams each) files
counts as its text does, by Python's re over the
decompressed bytes, at several rank, thread and unit-size counts with identical datasets; one
big BGZF .gz, multistream .bz2, single-stream .bz2 (cut between its blocks), multi-frame .zst,
xz of blocks and xz of joined streams file (streams and blocks cut inside words and lines) are
cut into many units and count the same; files read whole by one of two threads (the other
decoding ahead) count the same and report damage the same; a streaming mapper and --include-path see the same
lines; a damaged file is one error line, exit code 1, no output file and no process left."""
import argparse
import bz2
import collections
import gzip
import lzma
import os
import pathlib
import re
import shutil
import struct
import subprocess
import tempfile
import zlib

from gridmr_testlib import (ENV, LOWER, WORD, check, finish, launcher_lines, mpirun, partials,
                            read_result, same_datasets, words_of)


def zstd(data, level=3):
    return subprocess.run(["zstd", "-q", "-c", f"-{level}"], input=data, capture_output=True,
                          check=True).stdout


def xz_blocks(data, block):
    """xz in blocks of `block` bytes of text, as `xz -T0` writes it (the xz tool)."""
    return subprocess.run(["xz", "-q", "-c", "-6", f"--block-size={block}"], input=data,
                          capture_output=True, check=True).stdout


def bgzf(data, block=20000):
    """bgzip's layout: gzip members of raw deflate, each with its size in a BC extra field, and
    the empty member bgzip ends a file with."""
    out = bytearray()
    for at in [*range(0, len(data), block), len(data)]:
        chunk = data[at:at + block]
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        deflated = packer.compress(chunk) + packer.flush()
        out += (b"\x1f\x8b\x08\x04\0\0\0\0\0\xff\x06\0BC\x02\0"
                + struct.pack("<H", 18 + len(deflated) + 8 - 1) + deflated
                + struct.pack("<II", zlib.crc32(chunk), len(chunk)))
    return bytes(out)


def split_files(text):
    """One text as the layouts whose streams or blocks gridmr finds: BGZF, multistream bzip2 (as
    pbzip2 and Wikipedia's dumps), one bzip2 stream of 100 kB blocks (as bzip2 -1), zstd
    frames with skippable frames between (as pzstd), xz of 64 KiB blocks (as xz -T0 with a
    smaller block) and xz streams of one block each, joined (as cat a.xz b.xz)."""
    skippable = struct.pack("<III", 0x184D2A50, 4, 7)
    return {
        "big.bgzf.gz": bgzf(text),
        "big.multi.bz2": b"".join(bz2.compress(text[at:at + 30011])
                                  for at in range(0, len(text), 30011)),
        "big.single.bz2": bz2.compress(text, 1),
        "big.blocks.xz": xz_blocks(text, 65536),
        "big.multi.xz": b"".join(lzma.compress(text[at:at + 40009])
                                 for at in range(0, len(text), 40009)),
        "big.frames.zst": b"".join(skippable + zstd(text[at:at + 25013])
                                   for at in range(0, len(text), 25013)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gridmr", required=True)
    parser.add_argument("--inputs", required=True)
    args = parser.parse_args()
    books = sorted(p for p in (pathlib.Path(args.inputs) / "kjv").rglob("*") if p.is_file())
    with tempfile.TemporaryDirectory(prefix="gridmr-compressed-") as work:
        work = pathlib.Path(work)
        corpus = work / "corpus"
        (corpus / "sub").mkdir(parents=True)
        texts = {}  # file name -> the text it holds
        for i, book in enumerate(books):
            text = book.read_bytes()
            kind = i % 6
            if kind == 0:
                name, data = book.name + ".gz", gzip.compress(text)
            elif kind == 1:  # three members, as `cat a.gz b.gz c.gz`
                third = len(text) // 3
                name = book.name + ".gz"
                data = b"".join(gzip.compress(part) for part in
                                (text[:third], text[third:2 * third], text[2 * third:]))
            elif kind == 2:  # two frames
                name, data = book.name + ".zst", zstd(text[:1000]) + zstd(text[1000:], 19)
            elif kind == 3:
                name, data = book.name, text
            elif kind == 4:
                name = book.name + ".bz2"
                data = bz2.compress(text[:5000]) + bz2.compress(text[5000:])
            else:
                name = book.name + ".xz"
                data = lzma.compress(text[:5000]) + lzma.compress(text[5000:])
            (corpus / name).write_bytes(data)
            texts[name] = text
        # All the books in one file (more than the reader's chunks and buffers), no final newline,
        # with non-ASCII words.
        big = b"".join(texts.values()) + "caf\u00e9 na\u00efve END".encode()
        (corpus / "sub" / "all.txt.zst").write_bytes(zstd(big))
        texts["sub/all.txt.zst"] = big
        (corpus / "sub" / "all.txt.gz").write_bytes(gzip.compress(big))
        texts["sub/all.txt.gz"] = big
        (corpus / "empty.gz").write_bytes(b"")
        texts["empty.gz"] = b""
        for name, data in split_files(big).items():
            (corpus / "sub" / name).write_bytes(data)
            texts["sub/" + name] = big
        want = collections.Counter()
        for text in texts.values():
            want.update(w.translate(LOWER) for w in WORD.findall(text))
        disk_bytes = sum(p.stat().st_size for p in corpus.rglob("*") if p.is_file())

        first = None
        for np, threads, unit in ((1, 1, "16MiB"), (2, 1, "4KiB"), (3, 1, "64KiB"),
                                  (1, 2, "1KiB")):
            out = work / f"words-{np}-{threads}.h5"
            r = mpirun(args.gridmr, np, ["wordcount", "--threads", str(threads), "--unit-size", unit,
                                         "--quiet", "-o", str(out), str(corpus)])
            label = f"wordcount np {np} x {threads} threads, units of {unit}"
            check(f"{label}: exit 0", r.returncode == 0, r.stderr[-500:])
            if r.returncode != 0:
                continue
            datasets, attributes = read_result(out)
            _, got = words_of(datasets)
            check(f"{label}: every count is Python's over the decompressed text", got == want,
                  f"{len(got)} words vs {len(want)}")
            check(f"{label}: input_files counts every file, input_bytes their size on disk",
                  attributes["wordcount"]["input_files"] == len(texts)
                  and attributes["wordcount"]["input_bytes"] == disk_bytes,
                  str(attributes["wordcount"]))
            if first is None:
                first = datasets
            else:
                check(f"{label}: datasets identical to np 1", same_datasets(first, datasets) == [])

        # Each big file alone is cut into units that ranks share, and counts as its text does.
        want_big = collections.Counter(w.translate(LOWER) for w in WORD.findall(big))
        for name in split_files(b""):
            out = work / f"split-{name}.h5"
            r = mpirun(args.gridmr, 2, ["wordcount", "--threads", "1", "--unit-size", "16KiB",
                                        "--quiet", "-o", str(out), str(corpus / "sub" / name)])
            check(f"{name} alone, np 2, 16 KiB units: exit 0", r.returncode == 0,
                  r.stderr[-500:])
            if r.returncode != 0:
                continue
            datasets, _ = read_result(out)
            units = datasets["stats/ranks"]["units"]
            size = (corpus / "sub" / name).stat().st_size
            check(f"{name}: cut into one unit per 16 KiB, both ranks given some",
                  sum(units) == -(-size // 16384) and min(units) > 0, str(list(units)))
            check(f"{name}: every count is Python's", words_of(datasets)[1] == want_big)

        # A file read whole by one thread, with a second thread that has nothing to map: that
        # thread's core decodes ahead (from the text's first MiB on) while the first maps. Each
        # such file alone, then all of them at once (the last one's thread gets the spare core),
        # count as Python does; damage found ahead is the same one error line.
        long_text = big * 4
        want_long = collections.Counter(w.translate(LOWER) for w in WORD.findall(long_text))
        ahead = work / "ahead"
        ahead.mkdir()
        gz_long = gzip.compress(long_text)
        whole_files = {
            "long.gz": gz_long,
            "members.gz": b"".join(gzip.compress(long_text[at:at + 300007])
                                   for at in range(0, len(long_text), 300007)),
            "long.zst": zstd(long_text),
            "long.bz2": bz2.compress(long_text),
            "long.xz": lzma.compress(long_text),
        }
        for name, data in whole_files.items():
            (ahead / name).write_bytes(data)
        bound = dict(ENV, OMP_PROC_BIND="true", OMP_PLACES="cores")
        for target, env in [*((name, None) for name in whole_files), (None, None),
                            ("long.gz", bound)]:
            label = f"{target} alone" if target else "all of them"
            label += ", threads bound to cores" if env else ""
            out = work / f"ahead-{target}-{env is None}.h5"
            r = mpirun(args.gridmr, 1, ["wordcount", "--threads", "2", "--unit-size", "1TiB",
                                        "--quiet", "-o", str(out),
                                        str(ahead / target) if target else str(ahead)], env=env)
            check(f"{label}, np 1 x 2 threads, read whole: exit 0", r.returncode == 0,
                  r.stderr[-500:])
            if r.returncode != 0:
                continue
            datasets, _ = read_result(out)
            times = 1 if target else len(whole_files)
            check(f"{label}, np 1 x 2 threads, read whole: every count is Python's",
                  words_of(datasets)[1] == collections.Counter(
                      {w: n * times for w, n in want_long.items()}))
        # One rank per core: the rank that reads the file has one thread, and the other rank, its
        # map over, lends its core and waits idle. Given out on request (rank 1 gets the unit) or
        # in shares (rank 0 does), with ranks unbound or bound to a core each (mpirun's default).
        noted = dict(ENV, GRIDMR_DEBUG_NOTE_DECODE_AHEAD="1")
        for schedule, binding in (("dynamic", "none"), ("static", "none"), ("dynamic", "core")):
            label = f"long.gz alone, np 2 x 1 thread, {schedule} schedule, bound to {binding}"
            out = work / f"ahead-ranks-{schedule}-{binding}.h5"
            r = subprocess.run(
                ["mpirun", "-q", "-np", "2", "--bind-to", binding, "-x",
                 "GRIDMR_DEBUG_NOTE_DECODE_AHEAD", os.path.abspath(args.gridmr), "wordcount",
                 "--threads", "1", "--schedule", schedule, "--quiet", "-o", str(out),
                 str(ahead / "long.gz")], capture_output=True, text=True, timeout=300, env=noted)
            check(f"{label}: exit 0", r.returncode == 0, r.stderr[-500:])
            if r.returncode != 0:
                continue
            check(f"{label}: decoded ahead on the other rank's core",
                  r.stderr.count(f"decoding '{ahead / 'long.gz'}' ahead on a spare core") == 1,
                  r.stderr[-500:])
            datasets, _ = read_result(out)
            check(f"{label}: every count is Python's", words_of(datasets)[1] == want_long)
        for name, data in {"cut.gz": gz_long[:len(gz_long) // 2],
                           "crc.gz": gz_long[:-6] + bytes([gz_long[-6] ^ 1]) + gz_long[-5:]}.items():
            (work / name).write_bytes(data)
            out = work / f"ahead-{name}.h5"
            r = mpirun(args.gridmr, 1, ["wordcount", "--threads", "2", "--quiet", "-o", str(out),
                                        str(work / name)])
            lines = launcher_lines(r.stderr)
            check(f"damaged {name} alone, np 1 x 2 threads: exit 1, one line naming it",
                  r.returncode == 1 and len(lines) == 1
                  and f"cannot decompress '{work / name}' (gzip): " in lines[0]
                  and ("cut short" in lines[0]) == name.startswith("cut"),
                  f"{r.returncode} {r.stderr[-400:]}")
            check(f"damaged {name} alone: no output file, no partial file",
                  not out.exists() and partials(out) == [])

        # A mapper gets the decompressed lines on stdin, each ending with a newline (a file's last
        # line too, so that --combine-files never joins two files' lines).
        mapper = work / "mapper.py"
        mapper.write_text("import sys\n"
                          "for line in sys.stdin.buffer:\n"
                          "    tag = b'lines' if line.endswith(b'\\n') else b'unterminated'\n"
                          "    sys.stdout.buffer.write(tag + b'\\t1\\n')\n"
                          "    for w in line.split():\n"
                          "        sys.stdout.buffer.write(w + b'\\t1\\n')\n")
        lines = sum(text.count(b"\n") + (1 if text and not text.endswith(b"\n") else 0)
                    for text in texts.values())
        want_stream = collections.Counter(w for text in texts.values() for w in text.split())
        want_stream[b"lines"] += lines
        for np in (1, 2):
            out = work / f"stream-{np}.h5"
            r = mpirun(args.gridmr, np, ["stream", "--mapper", f"/usr/bin/python3 {mapper}",
                                         *(["--combine-files", "--unit-size", "16KiB"]
                                           if np == 2 else []),
                                         "--quiet", "-o", str(out), str(corpus)])
            check(f"stream np {np}: exit 0", r.returncode == 0, r.stderr[-500:])
            if r.returncode != 0:
                continue
            datasets, _ = read_result(out)
            offsets, data = datasets["stream/keys/offsets"], datasets["stream/keys/data"].tobytes()
            got = {data[offsets[i]:offsets[i + 1]]: int(v)
                   for i, v in enumerate(datasets["stream/values"])}
            check(f"stream np {np}{' --combine-files, 16 KiB units' if np == 2 else ''}: the "
                  "mapper's words "
                  "and newline-ended lines are Python's over the text",
                  got == dict(want_stream), f"lines {got.get(b'lines')} vs {lines}")
        # --include-path: every line tagged with its file's path.
        tagger = work / "tagger.py"
        tagger.write_text("import sys\n"
                          "for line in sys.stdin.buffer:\n"
                          "    sys.stdout.buffer.write(line.split(b'\\t', 1)[0] + b'\\t1\\n')\n")
        out = work / "paths.h5"
        r = mpirun(args.gridmr, 2, ["stream", "--mapper", f"/usr/bin/python3 {tagger}",
                                    "--include-path", "--unit-size", "16KiB", "--quiet", "-o",
                                    str(out), str(corpus)])
        check("stream --include-path: exit 0", r.returncode == 0, r.stderr[-500:])
        if r.returncode == 0:
            datasets, _ = read_result(out)
            offsets, data = datasets["stream/keys/offsets"], datasets["stream/keys/data"].tobytes()
            got = {data[offsets[i]:offsets[i + 1]].decode(): int(v)
                   for i, v in enumerate(datasets["stream/values"])}
            want_paths = {str(corpus / name): len(text.split(b"\n")) - (text.endswith(b"\n"))
                          for name, text in texts.items() if text}
            check("stream --include-path: each compressed file's lines under its own path",
                  got == want_paths, str(sorted(got.items())[:3]))

        # Damaged files: one line naming the file, exit 1, nothing left behind.
        good = gzip.compress(big)
        damaged = {
            "cut.gz": good[:len(good) // 2],
            "cut.zst": zstd(big)[:5000],
            "plain-text.gz": big[:5000],
            "crc.gz": good[:-6] + bytes([good[-6] ^ 1]) + good[-5:],
            "random.zst": bytes(range(256)) * 4,
            "cut.bz2": bz2.compress(big)[:30000],
            "cut.xz": lzma.compress(big)[:30000],
            "plain-text.xz": big[:5000],
        }
        for name, data in damaged.items():
            folder = work / f"bad-{name}"
            shutil.copytree(corpus, folder)
            (folder / name).write_bytes(data)
            out = work / f"bad-{name}.h5"
            r = mpirun(args.gridmr, 2, ["wordcount", "--quiet", "--unit-size", "64KiB", "-o",
                                        str(out), str(folder)])
            lines = launcher_lines(r.stderr)
            check(f"damaged {name}: exit 1, one line naming the file and the format",
                  r.returncode == 1 and len(lines) == 1
                  and re.match(rf"gridmr: error: (rank \d: )?cannot decompress "
                               rf"'{re.escape(str(folder / name))}' "
                               r"\((gzip|zstd|bzip2|xz)\): ", lines[0])
                  and ("cut short" in lines[0]) == name.startswith("cut"),
                  f"{r.returncode} {r.stderr[-400:]}")
            check(f"damaged {name}: no output file, no partial file",
                  not out.exists() and partials(out) == [])
        orphans = subprocess.run(["pgrep", "-f", "gridmr wordcount"], capture_output=True,
                                 text=True).stdout.strip()
        check("no gridmr process is left", orphans == "", orphans)
    finish()


if __name__ == "__main__":
    main()
