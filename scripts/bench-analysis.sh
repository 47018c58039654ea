#!/usr/bin/env bash
# Analysis benchmark (not part of the tests): a full analysis job (every
# model) over the `town` preset (30 days, ~1.1M events) and over the `city`
# preset (26 days, >= 20M events), each ingested once into a cached store
# (BENCH_DIR, default ~/.cache/anju/bench-analysis). Prints per run the
# events read, the wall time, events/s and the peak RSS (GNU time), then the
# per-model precision/recall against the generator's truth.
#
#   scripts/bench-analysis.sh            # town and city
#   BENCH_PRESETS=town scripts/bench-analysis.sh
#
# The city ingest takes one to two hours on 2 cores and ~25 GB of disk
# while its generated files exist (they are deleted once ingested).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p api --bin anju
anju="$CARGO_TARGET_DIR/release/anju"
work="${BENCH_DIR:-$HOME/.cache/anju/bench-analysis}"
mkdir -p "$work"
command -v /usr/bin/time >/dev/null 2>&1 || {
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y -qq time >/dev/null
}

for preset in ${BENCH_PRESETS:-town city}; do
    data="$work/$preset-data"
    store="$work/$preset-store"
    if [ ! -f "$work/$preset.ingested" ]; then
        rm -rf "$data" "$store"
        "$anju" fixtures --preset "$preset" --seed 1 --out "$data"
        "$anju" --store "$store" ingest --progress plain "$data" | tail -n 1
        mkdir -p "$work/$preset-truth"
        cp "$data"/truth.json "$data"/faces-truth.csv "$work/$preset-truth/"
        rm -rf "$data"
        touch "$work/$preset.ingested"
    fi
    echo "== $preset: full analysis job (all models), afresh"
    /usr/bin/time -f "peak RSS %M KiB, wall %e s" \
        "$anju" --store "$store" analyze --afresh 2>&1 | tail -n 4
    "$anju" --store "$store" evaluate --truth "$work/$preset-truth/truth.json" | head -n 40
done
