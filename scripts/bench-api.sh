#!/usr/bin/env bash
# API benchmark (not part of the tests): the `town` preset (30 days) served by
# `anju serve` on loopback, and `wrk` (installed from apt if missing) as
# concurrent HTTP clients. For each workload — a full person archive, a
# 7-day trajectory, a 2-hop subgraph, a full-text search, a dashboard — it
# prints requests/s, p50 and p99 latency and the share of responses with
# GraphQL errors, then the server's peak RSS. Each run lasts BENCH_SECS (20)
# at BENCH_CONNS (16) connections on 2 wrk threads.
#
#   scripts/bench-api.sh
#   BENCH_CONNS=64 BENCH_SECS=30 scripts/bench-api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

if ! command -v wrk >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get install -y -qq wrk >/dev/null
fi
cargo build --release -p cli --bin anju
anju="$CARGO_TARGET_DIR/release/anju"
work="${BENCH_DIR:-$HOME/.cache/anju/bench-api}"
conns="${BENCH_CONNS:-16}"
secs="${BENCH_SECS:-20}"
port="${BENCH_PORT:-18181}"
mkdir -p "$work"

data="$work/town-data"
store="$work/town-store"
if ! "$anju" --store "$store" stats >/dev/null 2>&1; then
    rm -rf "$data" "$store"
    "$anju" fixtures --preset town --days 30 --seed 1 --out "$data"
    "$anju" --store "$store" ingest --progress none "$data" | tail -n 1
fi

# the workloads run under one admin token, with the per-token rate limit
# out of the way (it is what is measured elsewhere)
printf 'version = 1\n[auth]\nrate_per_minute = 100000000\nrate_burst = 1000000\n' >"$work/serve.toml"
token=$("$anju" --config "$work/serve.toml" --store "$store" token create --role admin --name bench-api --ttl 2h --quiet)
"$anju" --config "$work/serve.toml" --store "$store" serve --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
done

# a person with relations (a planted companion), a name to search for
person=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models"]["companion"][0]["id"].split("|")[0])' "$data/truth.json")
name=$(python3 -c 'import json,sys; print(next(d["name"] for d in map(json.loads, open(sys.argv[1])) if d.get("type") == "person" and d.get("name")))' "$data/base.jsonl")
surname=${name:0:1}

query() { python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$1" >"$work/$2.json"; }
# the archive as bench/run.sh sends it: bench/archive.graphql, the person a variable
python3 -c 'import json,sys; print(json.dumps({"query": open(sys.argv[1]).read(), "variables": {"id": sys.argv[2]}}))' \
    bench/archive.graphql "$person" >"$work/archive.json"
query "{ trajectory(subject: \"person:$person\", from: \"2026-10-24\", to: \"2026-10-31\") {
  points { time device lon lat } stays { start end sightings community } footholds { community nights } byHour } }" trajectory
query "{ subgraph(seeds: [\"person:$person\"], hops: 2, maxNodes: 200) { truncated nodes { hop entity { ref label } } edges { kind from to strength } } }" subgraph
query "{ search(query: \"$surname\", first: 20) { totalCount facets { kinds { key count } communities { key count } } edges { node { score entity { ref label } } } } }" search
query "{ dashboard(from: \"2026-10-24\", to: \"2026-10-31\") { persons houses vehicles devices events eventsPerDay { day type count } alertsByKind { key count } topCommunities { community events } } }" dashboard

cat >"$work/post.lua" <<'EOF'
local f = io.open(os.getenv("BODY"), "r")
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
local errors = 0
local bad = 0
response = function(status, headers, body)
    if status ~= 200 then bad = bad + 1 end
    if string.find(body, '"errors"', 1, true) then errors = errors + 1 end
end
done = function(summary, latency, requests)
    io.write(string.format("RESULT %.1f %.2f %.2f %d %d %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.requests, errors + bad, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
EOF

echo "== town preset, 30 days: $(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:$port/health")"
printf '%-12s %10s %10s %10s %10s %8s\n' workload "req/s" "p50 ms" "p99 ms" requests errors
for w in archive trajectory subgraph search dashboard; do
    # one request first: it must answer without errors
    if curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data-binary @"$work/$w.json" "http://127.0.0.1:$port/graphql" | grep -q '"errors"'; then
        echo "$w: the query fails:"
        curl -s -H 'Content-Type: application/json' -H "Authorization: Bearer $token" --data-binary @"$work/$w.json" "http://127.0.0.1:$port/graphql" | head -c 600
        echo
        exit 1
    fi
    line=$(TOKEN="$token" BODY="$work/$w.json" wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$work/post.lua" "http://127.0.0.1:$port/graphql" | grep '^RESULT')
    read -r _ rps p50 p99 n errs neterrs <<<"$line"
    printf '%-12s %10s %10s %10s %10s %8s\n' "$w" "$rps" "$p50" "$p99" "$n" "$((errs + neterrs))"
done
rss=$(grep VmHWM "/proc/$server/status" | awk '{print $2}')
echo "server peak RSS: $((rss / 1024)) MiB ($conns connections, ${secs} s per workload, 2 wrk threads on the same 2 cores)"
