#!/usr/bin/env bash
# Search benchmark (not part of the tests). Prints figures, asserts nothing.
#   * faces: `anju-bench faces` (usearch HNSW over quantised vectors with exact re-ranking, as Anju uses it) and
#     faiss-cpu IndexHNSWFlat (PyPI, installed into a venv here) on the same
#     clustered vectors, queries and exact top-10, for each dimension:
#     build vectors/s, size, peak RSS, and recall@10 against QPS over ef;
#   * text: `anju-bench text`: indexing docs/s and p50/p99 of name, pinyin,
#     partial plate and id-suffix queries.
#
#   scripts/bench-search.sh                         # BENCH_FACES_N=1000000, dims 128 and 512, text 1M docs
#   BENCH_FACES_N=100000 BENCH_TEXT_N=1000000 scripts/bench-search.sh
#   BENCH_ONLY=faces|text scripts/bench-search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p bench --bin anju-bench
bench="$CARGO_TARGET_DIR/release/anju-bench"
work="${BENCH_DIR:-$HOME/.cache/anju/bench-search}"
mkdir -p "$work"
only="${BENCH_ONLY:-all}"

if [ "$only" != text ]; then
    venv="$HOME/.cache/anju/bench-venv"
    if ! "$venv/bin/python" -c "import faiss, numpy" 2>/dev/null; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q faiss-cpu numpy
    fi
    n="${BENCH_FACES_N:-1000000}"
    for dim in ${BENCH_FACES_DIMS:-128 512}; do
        echo "== faces: $n vectors, dim $dim"
        rm -rf "$work/faces-$dim"
        "$bench" faces --n "$n" --dim "$dim" --dir "$work/faces-$dim"
        "$venv/bin/python" scripts/bench_faiss.py "$work/faces-$dim" "$dim"
        rm -rf "$work/faces-$dim"
    done
fi
if [ "$only" != faces ]; then
    echo "== text: ${BENCH_TEXT_N:-1000000} documents"
    rm -rf "$work/text"
    "$bench" text --n "${BENCH_TEXT_N:-1000000}" --dir "$work/text"
    rm -rf "$work/text"
fi
