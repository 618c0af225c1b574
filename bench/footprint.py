#!/usr/bin/env python3
"""Summarise a window of a valgrind lackey trace (bench/footprint.sh).

footprint.py LABEL TRACE WINDOW MAPS PINGS: TRACE is lackey's --trace-mem output, WINDOW
holds two byte offsets into it (before and after the measured pings), MAPS the traced
process's /proc/PID/maps. Prints per ping the instructions and data accesses, the
distinct 64-byte lines and 4 KiB pages of code and data over the window, and the same
for the lines of every ping: the window cut into PINGS equal parts by trace records, a
line counted if at least half of the parts touch it. That leaves out what periodic timers
touch once a second (memory trimming, the URL tokens' refill once per 32 requests), which
a ping does not wait for. Then the every-ping code lines per object file and the
functions with the most of them (nearest symbol below the address, from the object's
separate debug file when installed, e.g. libc6-dbg; in a stripped library without one
that may be the exported function before a static one).
"""

import bisect
import os
import subprocess
import sys
from collections import defaultdict

LINE = 6  # log2(64)
PAGE = 12  # log2(4096)


def read_maps(path):
    maps = []
    with open(path) as f:
        for line in f:
            p = line.split()
            lo, hi = (int(x, 16) for x in p[0].split("-"))
            name = p[5] if len(p) >= 6 else "[anon]"
            maps.append((lo, hi, int(p[2], 16), p[1], name))
    return maps


class Symbols:
    """Function symbols per object file, from nm (static ones too where not stripped)."""

    def __init__(self):
        self.by_obj = {}

    @staticmethod
    def debug_file(obj):
        """The separate debug file of obj by its build ID (Debian's -dbg and -dbgsym
        packages put them there), which names static functions too; else obj."""
        out = subprocess.run(["readelf", "-n", obj], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if "Build ID:" in line:
                bid = line.split()[-1]
                path = f"/usr/lib/debug/.build-id/{bid[:2]}/{bid[2:]}.debug"
                if os.path.exists(path):
                    return path
        return obj

    def table(self, obj):
        if obj not in self.by_obj:
            syms = []
            src = self.debug_file(obj)
            for flags in (["--defined-only"], ["-D", "--defined-only"]):
                out = subprocess.run(
                    ["nm", "-n", *flags, src], capture_output=True, text=True
                ).stdout
                for line in out.splitlines():
                    p = line.split()
                    if len(p) == 3 and p[1] in "tTwWiI":
                        syms.append((int(p[0], 16), p[2]))
                if syms:
                    break
            syms.sort()
            self.by_obj[obj] = ([a for a, _ in syms], [n for _, n in syms])
        return self.by_obj[obj]

    def name(self, obj, offset):
        addrs, names = self.table(obj)
        i = bisect.bisect_right(addrs, offset) - 1
        return names[i] if i >= 0 else "?"


def main():
    label, trace, window, maps_path, pings = sys.argv[1:6]
    pings = int(pings)
    with open(window) as f:
        start, end = (int(x) for x in f.read().split())
    maps = read_maps(maps_path)
    starts = [m[0] for m in maps]
    with open(trace, "rb") as f:
        f.seek(start)
        text = f.read(end - start).decode(errors="replace").splitlines()[1:-1]
    n_instr = n_data = 0
    recs = []  # (is code, line) in trace order
    for line in text:
        kind = line[:2].strip()
        try:
            addr = int(line[3:].split(",", 1)[0], 16)
        except ValueError:
            continue
        if kind == "I":
            n_instr += 1
            recs.append((True, addr >> LINE))
        elif kind in ("L", "S", "M"):
            n_data += 1
            recs.append((False, addr >> LINE))
    code = {ln for is_code, ln in recs if is_code}
    data = {ln for is_code, ln in recs if not is_code}
    parts = defaultdict(int)  # (is code, line) -> parts of the window touching it
    for k in range(pings):
        part = recs[len(recs) * k // pings : len(recs) * (k + 1) // pings]
        for key in set(part):
            parts[key] += 1
    every_code = {ln for (c, ln), n in parts.items() if c and 2 * n >= pings}
    every_data = {ln for (c, ln), n in parts.items() if not c and 2 * n >= pings}

    def region(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < maps[i][1]:
            return maps[i]
        return None

    syms = Symbols()
    per_obj = defaultdict(set)
    per_fn = defaultdict(set)
    for ln in every_code:
        m = region(ln << LINE)
        if not m:
            per_obj["?"].add(ln)
            continue
        obj = m[4]
        per_obj[obj.rsplit("/", 1)[-1]].add(ln)
        if obj.startswith("/"):
            fn = syms.name(obj, (ln << LINE) - m[0] + m[2])
            per_fn[(obj.rsplit("/", 1)[-1], fn)].add(ln)
    pages = lambda lines: len({x >> (PAGE - LINE) for x in lines})  # noqa: E731
    print(f"\n{label}: {pings} pings")
    print(
        f"  per ping: {n_instr / pings:.0f} instructions, {n_data / pings:.0f} data accesses"
    )
    print(
        f"  touched: code {len(code)} lines in {pages(code)} pages, "
        f"data {len(data)} lines in {pages(data)} pages"
    )
    print(
        f"  every ping: code {len(every_code)} lines in {pages(every_code)} pages, "
        f"data {len(every_data)} lines in {pages(every_data)} pages"
    )
    print("  every-ping code lines by object: " + ", ".join(
        f"{o} {len(s)}" for o, s in sorted(per_obj.items(), key=lambda x: -len(x[1]))
    ))
    top = sorted(per_fn.items(), key=lambda x: -len(x[1]))[:12]
    print("  most every-ping code lines: " + ", ".join(f"{fn} {len(s)}" for (_, fn), s in top))


if __name__ == "__main__":
    main()
