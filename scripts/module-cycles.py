#!/usr/bin/env python3
"""Fails on a circle of imports between the top-level modules of a crate,
except the pairs ARCHITECTURE.md names (its "Deliberate pairs" lines:
`crate: a <-> b`). A module's files are its file or folder; a reference is
any `crate::m` path, a `use crate::{m, ...}` list or a `super::m` from a
top-level file."""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
crates = ["model", "ingest", "graph", "search", "analysis", "fixtures", "server", "cli", "bench"]
allowed = set()
for line in (root / "ARCHITECTURE.md").read_text().splitlines():
    m = re.match(r"\s*[*-]\s*`(\w+): (\w+) <-> (\w+)`", line)
    if m:
        c, a, b = m.groups()
        allowed.add((c, a, b))
        allowed.add((c, b, a))

failed = False
for crate in crates:
    src = root / crate / "src"
    mods = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).parts
        if rel in (("lib.rs",), ("main.rs",)):
            continue
        top = rel[0].removesuffix(".rs")
        mods.setdefault(top, []).append(f)
    edges = {m: set() for m in mods}
    for m, files in mods.items():
        for f in files:
            text = re.sub(r"//[^\n]*", "", f.read_text())
            refs = set(re.findall(r"\bcrate::(\w+)", text))
            for group in re.findall(r"\bcrate::\{([^}]*)\}", text):
                refs |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
            if f.parent == src:
                refs |= set(re.findall(r"\bsuper::(\w+)", text))
            edges[m] |= {r for r in refs if r in mods and r != m}
    # a named pair is one room: its two edges are left out
    for a in edges:
        edges[a] = {b for b in edges[a] if (crate, a, b) not in allowed}
    # strongly connected components (Tarjan)
    index, low, stack, on, comps = {}, {}, [], set(), []
    def visit(v, counter=[0]):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            comps.append(comp)
    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    for comp in comps:
        if len(comp) < 2:
            continue
        pairs = [(a, b) for a in comp for b in edges[a] if b in comp]
        if True:
            failed = True
            print(f"import circle in {crate}: {' -> '.join(sorted(comp))} "
                  f"({', '.join(f'{a}->{b}' for a, b in sorted(pairs))})", file=sys.stderr)
sys.exit(1 if failed else 0)
