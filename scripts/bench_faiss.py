"""The peer of `anju bench-faces`: faiss-cpu HNSW (IndexHNSWFlat, M=16,
efConstruction=128, inner product on unit vectors = cosine) on the same
vectors, queries and exact top-10 that `anju bench-faces` wrote to DIR; and
exact search (IndexFlatIP) one query at a time.

    python scripts/bench_faiss.py DIR DIM [--ef 16,32,...] [--out FILE --target-recall 0.95 --repeats 3]

With --out, the QPS at the smallest ef reaching the target recall (over
--repeats passes), and exact search's QPS, are appended to FILE as JSON lines
(the figures of bench/run.sh).
"""
import argparse
import json
import os
import resource
import time

import faiss
import numpy as np


def passes(index, xq, truth, k=10):
    """recall@10, QPS (one thread), p50 ms, p99 ms of one pass."""
    lat = []
    found = 0
    t0 = time.time()
    for q, t in zip(xq, truth):
        t1 = time.perf_counter()
        _, ids = index.search(q.reshape(1, -1), k)
        lat.append((time.perf_counter() - t1) * 1000)
        found += len(set(ids[0].tolist()) & set(t.tolist()))
    secs = time.time() - t0
    lat.sort()
    p = lambda x: lat[min(len(lat) - 1, round((len(lat) - 1) * x))]
    return found / (len(xq) * 10), len(xq) / secs, p(0.5), p(0.99)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("dim", type=int)
    ap.add_argument("--ef", default="16,24,32,48,64,96,128,160,192,224,256,288,320,384,512,768,1024")
    ap.add_argument("--out")
    ap.add_argument("--target-recall", type=float, default=0.95)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    d, dim = a.dir, a.dim
    efs = [int(x) for x in a.ef.split(",")]
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    xb = np.fromfile(os.path.join(d, "vectors.f32"), dtype="<f4").reshape(-1, dim)
    xq = np.fromfile(os.path.join(d, "queries.f32"), dtype="<f4").reshape(-1, dim)
    truth = np.fromfile(os.path.join(d, "truth.u32"), dtype="<u4").reshape(-1, 10)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    index = faiss.IndexHNSWFlat(dim, 16, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 128
    t0 = time.time()
    index.add(xb)
    build = time.time() - t0
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        f"faiss (IndexHNSWFlat M=16, in memory): built {len(xb)} in {build:.1f} s = "
        f"{len(xb) / build:.0f} vectors/s ({faiss.omp_get_max_threads()} threads); "
        f"peak RSS {rss1 / 1024:.0f} MiB (before the index: {rss0 / 1024:.0f} MiB)",
        flush=True,
    )
    faiss.omp_set_num_threads(1)
    sweep = []
    for ef in efs:
        index.hnsw.efSearch = max(ef, 10)
        recall, qps, p50, p99 = passes(index, xq, truth)
        sweep.append((ef, recall, qps))
        print(
            f"faiss ef={ef:<4} recall@10 {recall:.4}  {qps:>7.0f} QPS (1 thread)  "
            f"p50 {p50:.2f} ms  p99 {p99:.2f} ms",
            flush=True,
        )
    flat = faiss.IndexFlatIP(dim)
    flat.add(xb)
    # exact search's speed does not depend on the query: 100 of them
    xe, te = xq[:100], truth[:100]
    recall, qps, p50, p99 = passes(flat, xe, te)
    print(f"faiss exact (IndexFlatIP) recall@10 {recall:.4}  {qps:>7.0f} QPS (1 thread)  p50 {p50:.2f} ms", flush=True)
    if a.out:
        ok = [s for s in sweep if s[1] >= a.target_recall]
        ef, recall, _ = ok[0] if ok else max(sweep, key=lambda s: s[1])
        index.hnsw.efSearch = max(ef, 10)
        runs = [passes(index, xq, truth)[1] for _ in range(a.repeats)]
        exact = [qps] + [passes(flat, xe, te)[1] for _ in range(a.repeats - 1)]
        size = f"faces {len(xb)} × {dim}"
        workload = f"face top-10 at recall ≥ {a.target_recall}"
        with open(a.out, "a") as f:
            for system, r, note in [
                ("faiss HNSW (IndexHNSWFlat, f32)", runs, f"ef {ef}, recall@10 {recall:.3}; build {len(xb) / build:.0f} vectors/s, 2 threads"),
                ("exact search (faiss IndexFlatIP)", exact, "recall 1.0"),
            ]:
                f.write(json.dumps({"size": size, "workload": workload, "system": system, "metric": "qps",
                                    "better": "higher", "runs": r, "note": note}, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
