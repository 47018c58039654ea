#!/usr/bin/env bash
# Ingest benchmark: generates the town preset and a city-sized run (≥ 5M
# events), ingests each into a fresh store and prints throughput, peak memory
# and store size per million events. Not part of the tests.
#   scripts/bench.sh            # town + city (7 days, ≥ 5M events)
#   BENCH_ONLY=city scripts/bench.sh
#   BENCH_CITY_DAYS=21 scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p cli --bin anju
anju="$CARGO_TARGET_DIR/release/anju"
work="${BENCH_DIR:-$HOME/.cache/anju/bench}"
mkdir -p "$work"

run() {
    local name=$1 preset=$2 days=$3
    local data="$work/$name-data" store="$work/$name-store"
    rm -rf "$data" "$store"
    "$anju" fixtures --preset "$preset" --days "$days" --seed 1 --out "$data"
    echo "== $name: $preset preset, $days days, $(du -sh "$data" | cut -f1) of input"
    "$anju" --store "$store" ingest --progress none "$data" | tail -n 2
    "$anju" --store "$store" stats --json | python3 -c '
import json, sys
s = json.load(sys.stdin)
n = sum(s["events"].values())
mib = s["disk_bytes"] / 2**20
print("store: %.0f MiB for %d events = %.0f MiB per million events" % (mib, n, mib / (n / 1e6)))
'
}

only="${BENCH_ONLY:-town city}"
[[ " $only " == *" town "* ]] && run town town "${BENCH_TOWN_DAYS:-30}"
[[ " $only " == *" city "* ]] && run city city "${BENCH_CITY_DAYS:-7}"
exit 0
