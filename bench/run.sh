#!/usr/bin/env bash
# The benchmark against the systems a user would pick instead, in one run
# (not part of the tests). On the same generated data, on this machine:
#
#   durable ingest               Anju's embedded store   vs PostgreSQL 15 (batched inserts, same indexes, synchronous_commit = on)
#   full person archive          Anju in process and over GraphQL   vs PostgreSQL
#   7-day trajectory in a polygon  Anju                  vs PostgreSQL + PostGIS
#   1/2/3-hop, shortest path     Anju on RocksDB and on the Neo4j backend (ArcadeDB)   vs FalkorDB
#   full-text                    Anju (tantivy)          vs PostgreSQL pg_trgm
#   face top-10 at recall ≥ 0.95 Anju's ANN index        vs faiss HNSW, and exact search
#   30-day tagging job           Anju's analysis         vs the same models in SQL
#
# It installs and starts the peers (bench/peers.sh: apt, PyPI; loopback;
# stopped by PID on exit), generates each dataset, loads it into each
# system, runs every workload BENCH_REPEATS times and writes
# bench/results/: report.md (the table), results.json, results.csv and
# report.html (with a chart), from the raw figures in results.jsonl.
#
#   bash bench/run.sh                         # town (30 days) + large (province preset, ≥ 1M persons, ≥ 20M events) + faces at 1M
#   BENCH_SIZES=town BENCH_FACES=0 bash bench/run.sh   # a quick run
#   BENCH_SIZES= BENCH_APPEND=1 bash bench/run.sh      # only the faces, added to the last run
#   BENCH_SIZES=town BENCH_FACES=0 BENCH_REUSE=1 BENCH_APPEND=1 bash bench/run.sh   # the queries again, on the loaded data
#   BENCH_REPEATS=3 BENCH_SAMPLES=300 BENCH_WORKERS=4 BENCH_FACES_N=1000000 BENCH_FACES_DIMS="128 512" BENCH_FACES_QUANT="i8 f16"
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

work="${BENCH_DIR:-$HOME/.cache/anju/bench}"
results="${BENCH_RESULTS:-bench/results}"
sizes="${BENCH_SIZES-town large}"
repeats="${BENCH_REPEATS:-3}"
samples="${BENCH_SAMPLES:-300}"
workers="${BENCH_WORKERS:-4}"
mkdir -p "$work" "$results"
raw="$results/results.jsonl"
# BENCH_APPEND=1 adds to the figures of an earlier run (say, faces alone)
[ "${BENCH_APPEND:-0}" = 1 ] || : >"$raw"

cargo build --release -p cli -p bench --features cli/neo4j,bench/neo4j,bench/peers
anju="$CARGO_TARGET_DIR/release/anju"
bench="$CARGO_TARGET_DIR/release/anju-bench"

bash bench/peers.sh start
trap 'bash bench/peers.sh stop' EXIT
eval "$(bash bench/peers.sh env)"
export ANJU_NEO4J_PASSWORD

dataset() { # size → preset and days
    case "$1" in
    small) echo "small 10" ;;
    town) echo "town 30" ;;
    large) echo "province ${BENCH_LARGE_DAYS:-6}" ;;
    *) echo "unknown size $1" >&2; exit 2 ;;
    esac
}

for size in $sizes; do
    read -r preset days < <(dataset "$size")
    data="$work/$size-data"
    store="$work/$size-store"
    echo "== $size: $preset preset, $days days"
    if [ ! -f "$data/.complete-$preset-$days" ]; then
        rm -rf "$data"
        "$anju" fixtures --preset "$preset" --days "$days" --seed 1 --out "$data" >/dev/null
        touch "$data/.complete-$preset-$days"
    fi
    cfg="$work/$size.toml"
    # the deployment the data describes; the large run attributes faces on
    # the devices (`identity.attribute_faces = false`, see the README)
    cp "$data/deployment.toml" "$cfg"
    if [ "$size" = large ]; then
        printf '\n[identity]\nattribute_faces = false\n' >>"$cfg"
    fi
    size_repeats=$repeats
    [ "$size" = large ] && size_repeats="${BENCH_LARGE_REPEATS:-1}"

    # BENCH_REUSE=1: the ingest figures and the store of an earlier run are
    # kept (the peers are loaded again: FalkorDB keeps nothing on disk)
    if [ "${BENCH_REUSE:-0}" != 1 ]; then
        "$bench" --config "$cfg" peers ingest --data "$data" --pg "$BENCH_PG" \
            --scratch "$work/scratch" --size "$size" --out "$raw" --repeats "$size_repeats"
        # the store the reads run on: ingested with every projection
        rm -rf "$store"
        "$anju" --config "$cfg" --store "$store" ingest --progress none "$data" | tail -n 1
    fi
    "$bench" --config "$cfg" --store "$store" peers load --pg "$BENCH_PG" --falkor "$BENCH_FALKOR" \
        --size "$size" --out "$raw" --repeats 1

    neo="$work/$size-neo4j.toml"
    cp "$cfg" "$neo"
    printf '\n[graph]\nbackend = "neo4j"\n[graph.neo4j]\nuri = "%s"\nuser = "%s"\ntimeout_secs = 3600\n' \
        "$ANJU_NEO4J_URI" "$ANJU_NEO4J_USER" >>"$neo"
    # the Neo4j backend on ArcadeDB: town only unless BENCH_LARGE_NEO4J=1
    # (copying a million-person graph over Bolt takes hours here)
    if [ "$size" != large ] || [ "${BENCH_LARGE_NEO4J:-0}" = 1 ]; then
        "$anju" --config "$cfg" --store "$store" graph copy --to "$neo"
    fi
    neo_arg=(--neo4j-config "$neo")
    [ "$size" = large ] && [ "${BENCH_LARGE_NEO4J:-0}" != 1 ] && neo_arg=()

    "$bench" --config "$cfg" --store "$store" peers query --pg "$BENCH_PG" --falkor "$BENCH_FALKOR" \
        "${neo_arg[@]}" --size "$size" --out "$raw" --repeats "$size_repeats" \
        --samples "$samples" --workers "$workers"

    # the archive over GraphQL: anju serve on loopback, an admin token, no
    # rate limit in the way, no background job beside the requests (the
    # analysis job and the elderly check, which reads every resident of a
    # million-person store at start)
    # Twice: with each audit entry synced before the answer (the default),
    # then with the audit log synced every 100 ms (auth.audit_sync_ms).
    port="${BENCH_PORT:-18282}"
    for audit_ms in 0 100; do
        serve="$work/$size-serve.toml"
        cp "$cfg" "$serve"
        printf '\n[auth]\nrate_per_minute = 100000000\nrate_burst = 1000000\naudit_sync_ms = %s\n[server]\nanalysis_every_mins = 0\nrequest_timeout_secs = 600\n[alerts]\nelderly_check_mins = 0\n' \
            "$audit_ms" >>"$serve"
        token=$("$anju" --config "$serve" --store "$store" token create --role admin --name bench --ttl 4h --quiet)
        "$anju" --config "$serve" --store "$store" serve --listen "127.0.0.1:$port" >"$work/$size-serve.log" 2>&1 &
        server=$!
        for _ in $(seq 1 1200); do
            curl -sf "http://127.0.0.1:$port/health" -H "Authorization: Bearer $token" >/dev/null 2>&1 && break
            sleep 0.5
        done
        "$bench" --config "$serve" --store "$store" peers http --url "http://127.0.0.1:$port/graphql" \
            --token "$token" --audit-sync-ms "$audit_ms" --size "$size" --out "$raw" --repeats "$size_repeats" \
            --samples "$samples" --workers "$workers" || true
        kill "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    done
done

if [ "${BENCH_FACES:-1}" = 1 ]; then
    n="${BENCH_FACES_N:-1000000}"
    for dim in ${BENCH_FACES_DIMS:-128}; do
        # each of Anju's quantisations builds its own graph of the same
        # vectors (the first, the default, beside the peers)
        peers=1
        for q in ${BENCH_FACES_QUANT:-i8 f16}; do
            echo "== faces: $n vectors of dim $dim, $q graph"
            rm -rf "$work/faces-$dim"
            "$bench" faces --n "$n" --dim "$dim" --quantisation "$q" --dir "$work/faces-$dim" \
                --out "$raw" --repeats "$repeats"
            if [ "$peers" = 1 ]; then
                "$BENCH_PYTHON" scripts/bench_faiss.py "$work/faces-$dim" "$dim" --out "$raw" --repeats "$repeats"
                peers=0
            fi
            rm -rf "$work/faces-$dim"
        done
    done
fi

python3 bench/report.py "$raw" "$results"
