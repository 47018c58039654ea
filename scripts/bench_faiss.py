"""The peer of `anju bench-faces`: faiss-cpu HNSW (IndexHNSWFlat, M=16,
efConstruction=128, inner product on unit vectors = cosine) on the same
vectors, queries and exact top-10 that `anju bench-faces` wrote to DIR.

    python scripts/bench_faiss.py DIR DIM [EF,EF,...]
"""
import os
import resource
import sys
import time

import faiss
import numpy as np


def main() -> None:
    d, dim = sys.argv[1], int(sys.argv[2])
    efs = [int(x) for x in (sys.argv[3] if len(sys.argv) > 3 else "16,32,64,128,256").split(",")]
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
    for ef in efs:
        index.hnsw.efSearch = max(ef, 10)
        lat = []
        found = 0
        t0 = time.time()
        for q, t in zip(xq, truth):
            t1 = time.perf_counter()
            _, ids = index.search(q.reshape(1, -1), 10)
            lat.append((time.perf_counter() - t1) * 1000)
            found += len(set(ids[0].tolist()) & set(t.tolist()))
        secs = time.time() - t0
        lat.sort()
        p = lambda x: lat[min(len(lat) - 1, round((len(lat) - 1) * x))]
        print(
            f"faiss ef={ef:<4} recall@10 {found / (len(xq) * 10):.4f}  {len(xq) / secs:>7.0f} QPS (1 thread)  "
            f"p50 {p(0.5):.2f} ms  p99 {p(0.99):.2f} ms",
            flush=True,
        )


if __name__ == "__main__":
    main()
