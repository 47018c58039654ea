#!/usr/bin/env bash
# Analysis benchmark (not part of the tests): a full analysis job (every
# model) over the `town` preset (30 days, ~1.1M events) and over the `city`
# preset (26 days, >= 20M events), each ingested once into a cached store
# (BENCH_DIR, default ~/.cache/anju/bench-analysis). Prints per run the
# events read, the wall time, events/s and the peak RSS (GNU time), then the
# per-model precision/recall against the generator's truth (with the
# deployment the generated city assumes, its deployment.toml). Then, inside
# `anju serve`, two scheduled-style jobs through `runAnalysis`: the first
# reads its whole window, the second only what arrived since (incremental).
#
#   scripts/bench-analysis.sh            # town and city
#   BENCH_PRESETS=town scripts/bench-analysis.sh
#
# The city is ingested with `identity.attribute_faces = false` (faces
# matched on the devices): server-side face attribution runs at ~340
# events/s at city scale (the face index's build and search; see the
# README), which would take the ingest past a day. Its ingest then takes
# about an hour on 2 cores and ~25 GB of disk while the generated files
# exist (they are deleted once ingested).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p cli --bin anju
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
    config="$work/$preset.toml"
    if [ ! -f "$work/$preset.ingested" ]; then
        rm -rf "$data" "$store"
        "$anju" fixtures --preset "$preset" --seed 1 --out "$data"
        cp "$data/deployment.toml" "$config"
        [ "$preset" = city ] && printf '\n[identity]\nattribute_faces = false\n' >>"$config"
        /usr/bin/time -f "ingest: peak RSS %M KiB, wall %e s" \
            "$anju" --config "$config" --store "$store" ingest --progress none "$data" 2>&1 | tail -n 2
        mkdir -p "$work/$preset-truth"
        cp "$data"/truth.json "$data"/faces-truth.csv "$work/$preset-truth/"
        rm -rf "$data"
        touch "$work/$preset.ingested"
    fi
    echo "== $preset: full analysis job (all models), afresh"
    /usr/bin/time -f "peak RSS %M KiB, wall %e s" \
        "$anju" --config "$config" --store "$store" analyze --afresh 2>&1 | grep -E "^analysis of|^peak RSS"
    "$anju" --store "$store" evaluate --truth "$work/$preset-truth/truth.json" | head -n 40

    echo "== $preset: jobs inside anju serve (runAnalysis): a full read, then an incremental one"
    port="${BENCH_PORT:-18182}"
    # a city-sized job outlasts the default 30 s request timeout
    { cat "$config"; printf '\n[server]\nanalysis_every_mins = 0\nrequest_timeout_secs = 3600\n'; } >"$work/serve.toml"
    token=$("$anju" --config "$work/serve.toml" --store "$store" token create --role admin --name bench-analysis --ttl 2h --quiet)
    "$anju" --config "$work/serve.toml" --store "$store" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    server=$!
    trap 'kill $server 2>/dev/null || true' EXIT
    for _ in $(seq 1 3600); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
        sleep 0.5
    done
    for job in full incremental; do
        curl -s --max-time 3600 -H 'Content-Type: application/json' -H "Authorization: Bearer $token" "http://127.0.0.1:$port/graphql" \
            -d '{"query":"mutation { runAnalysis { days sightingsRead seconds alertsRaised } }"}' |
            python3 -c "import json,sys; r=json.load(sys.stdin)['data']['runAnalysis']; print('$job job: %d day end(s), %d sightings read, %.2f s' % (r['days'], r['sightingsRead'], r['seconds']))"
    done
    kill "$server"
    wait "$server" 2>/dev/null || true
done
