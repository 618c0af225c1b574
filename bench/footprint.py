#!/usr/bin/env python3
"""Summarise a window of a valgrind lackey trace (bench/footprint.sh).

footprint.py LABEL TRACE WINDOW MAPS PINGS: TRACE is lackey's --trace-mem output, WINDOW
holds two byte offsets into it (before and after the measured pings), MAPS the traced
process's /proc/PID/maps. Prints per ping the instructions and data accesses, the
distinct 64-byte lines and 4 KiB pages of code and data over the window, code lines per
object file, and the functions with the most code lines (nearest symbol below the
address: in a stripped library that may be the exported function before a static one).
"""

import bisect
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

    def table(self, obj):
        if obj not in self.by_obj:
            syms = []
            for flags in (["--defined-only"], ["-D", "--defined-only"]):
                out = subprocess.run(
                    ["nm", "-n", *flags, obj], capture_output=True, text=True
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
    code, data = set(), set()
    for line in text:
        kind = line[:2].strip()
        try:
            addr = int(line[3:].split(",", 1)[0], 16)
        except ValueError:
            continue
        if kind == "I":
            n_instr += 1
            code.add(addr >> LINE)
        elif kind in ("L", "S", "M"):
            n_data += 1
            data.add(addr >> LINE)

    def region(addr):
        i = bisect.bisect_right(starts, addr) - 1
        if i >= 0 and addr < maps[i][1]:
            return maps[i]
        return None

    syms = Symbols()
    per_obj = defaultdict(set)
    per_fn = defaultdict(set)
    for ln in code:
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
    print("  code lines by object: " + ", ".join(
        f"{o} {len(s)}" for o, s in sorted(per_obj.items(), key=lambda x: -len(x[1]))
    ))
    top = sorted(per_fn.items(), key=lambda x: -len(x[1]))[:12]
    print("  most code lines: " + ", ".join(f"{fn} {len(s)}" for (_, fn), s in top))


if __name__ == "__main__":
    main()
