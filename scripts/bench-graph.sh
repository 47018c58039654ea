#!/usr/bin/env bash
# Relationship-graph benchmark (not part of the tests): for the town preset
# and a larger graph (the metro preset, ≥ 1M relations), prints
#   * ingest events/s without and with relation maintenance, and the
#     projection's own rate when it catches up afterwards;
#   * p50/p99 of 1-hop neighbours, 2- and 3-hop subgraphs, shortest path and
#     a 7-day trajectory, on the embedded RocksDB backend and on the Neo4j
#     backend (ArcadeDB over Bolt, started and stopped here), with the time
#     to load the graph into it (town: a rebuild projecting into Neo4j;
#     large: `anju graph copy`).
#
#   scripts/bench-graph.sh                  # town (30 days) + large (metro preset, BENCH_LARGE_DAYS, default 5)
#   BENCH_ONLY=large scripts/bench-graph.sh
#   BENCH_NEO4J=0 scripts/bench-graph.sh    # without the Neo4j backend
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p cli -p bench --features cli/neo4j,bench/neo4j
anju="$CARGO_TARGET_DIR/release/anju"
bench="$CARGO_TARGET_DIR/release/anju-bench"
work="${BENCH_DIR:-$HOME/.cache/anju/bench-graph}"
samples="${BENCH_SAMPLES:-300}"
mkdir -p "$work"

neo4j="${BENCH_NEO4J:-1}"
if [ "$neo4j" = 1 ]; then
    export ANJU_ARCADEDB_PORT="${ANJU_ARCADEDB_PORT:-27687}"
    export ANJU_ARCADEDB_DIR="$work/arcadedb"
    bash scripts/arcadedb.sh start
    trap 'bash scripts/arcadedb.sh stop' EXIT
    eval "$(bash scripts/arcadedb.sh env)"
    export ANJU_NEO4J_PASSWORD
fi

cat >"$work/plain.toml" <<EOF
version = 1
[graph]
maintain_on_ingest = false
EOF
cat >"$work/neo4j.toml" <<EOF
version = 1
[graph]
backend = "neo4j"
[graph.neo4j]
uri = "${ANJU_NEO4J_URI:-127.0.0.1:7687}"
user = "${ANJU_NEO4J_USER:-root}"
timeout_secs = 600
EOF

rate() { grep -o '[0-9]* events/s' | head -n 1; }

run() {
    local name=$1 preset=$2 days=$3 neo4j_load=$4
    local data="$work/$name-data"
    rm -rf "$data" "$work/$name-plain" "$work/$name-graph"
    "$anju" fixtures --preset "$preset" --days "$days" --seed 1 --out "$data" >/dev/null
    echo "== $name: $preset preset, $days days"
    local plain with
    plain=$("$anju" --config "$work/plain.toml" --store "$work/$name-plain" ingest --progress none "$data" | tail -n 1)
    echo "ingest without relations: $(rate <<<"$plain")   ($plain)"
    with=$("$anju" --store "$work/$name-graph" ingest --progress none "$data" | tail -n 1)
    echo "ingest with relations:    $(rate <<<"$with")   ($with)"
    "$anju" --store "$work/$name-graph" project | tail -n 1 | sed 's/^/  /'
    if [ "$neo4j_load" = rebuild ]; then
        echo "projection catching up afterwards (the store without relations):"
        "$anju" --store "$work/$name-plain" project | sed 's/^/  /'
    fi
    echo "-- RocksDB backend"
    "$bench" --store "$work/$name-graph" graph --samples "$samples"
    if [ "$neo4j" = 1 ]; then
        if [ "$neo4j_load" = rebuild ]; then
            echo "-- Neo4j backend (ArcadeDB): loaded by a rebuild (projection writing to Neo4j)"
            "$anju" --config "$work/neo4j.toml" --store "$work/$name-graph" rebuild | sed 's/^/  /'
        else
            echo "-- Neo4j backend (ArcadeDB): loaded by copying the embedded graph"
            "$anju" --store "$work/$name-graph" graph copy --to "$work/neo4j.toml" | sed 's/^/  /'
        fi
        "$bench" --config "$work/neo4j.toml" --store "$work/$name-graph" graph --samples "$((samples / 3))"
    fi
}

only="${BENCH_ONLY:-town large}"
[[ " $only " == *" town "* ]] && run town town "${BENCH_TOWN_DAYS:-30}" rebuild
# the metro preset (~320k persons) gives >= 1M relations within 5 days of events
[[ " $only " == *" large "* ]] && run large metro "${BENCH_LARGE_DAYS:-5}" copy
exit 0
