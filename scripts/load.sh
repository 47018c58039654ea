#!/usr/bin/env bash
# Load test (not part of the tests): `anju serve` on the `town` preset (30
# days, in a store of its own) under concurrent GraphQL clients — a mix
# of person archives, searches, 7-day trajectories and 2-hop subgraphs — for
# LOAD_SECS (60) at LOAD_CONNS (16) connections, while live intake posts new
# events over HTTP at about LOAD_INGEST (500) events/s, after a 10 s warm-up. Prints requests/s,
# p50/p99, the share of non-200 answers and of GraphQL errors, the events/s
# acknowledged and any intake failure, and the server's RSS over the run
# (first and last 10 s, peak) to show whether memory stays flat.
#
#   scripts/load.sh
#   LOAD_SECS=120 LOAD_CONNS=32 scripts/load.sh
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
secs="${LOAD_SECS:-60}"
conns="${LOAD_CONNS:-16}"
rate="${LOAD_INGEST:-500}"
port="${LOAD_PORT:-18183}"
mkdir -p "$work"

data="$work/town-data"
# a store of its own (the live intake adds to it; the API benchmark's stays as generated)
store="$work/load-store"
if ! "$anju" --store "$store" stats >/dev/null 2>&1; then
    rm -rf "$store"
    [ -f "$data/truth.json" ] || "$anju" fixtures --preset town --days 30 --seed 1 --out "$data"
    "$anju" --store "$store" ingest --progress none "$data" | tail -n 1
fi
# new events for the intake: a small city's, with ids of their own
live="$work/load-events"
rm -rf "$live" "$work/load-city"
"$anju" fixtures --preset small --seed 77 --days 35 --out "$work/load-city" >/dev/null
mkdir -p "$live"
cat "$work"/load-city/events/*.jsonl | python3 -c '
import json, sys, random
run = "%08x" % random.getrandbits(32)
for l in sys.stdin:
    d = json.loads(l); d["id"] = "load-" + run + "-" + d["id"]; print(json.dumps(d, ensure_ascii=False))
' >"$live/events.jsonl"

printf 'version = 1\n[server]\nanalysis_every_mins = 0\n[auth]\nrate_per_minute = 100000000\nrate_burst = 1000000\n' >"$work/load.toml"
token=$("$anju" --config "$work/load.toml" --store "$store" token create --role admin --name load --ttl 2h --quiet)
"$anju" --config "$work/load.toml" --store "$store" serve --listen "127.0.0.1:$port" >"$work/load-serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.5
done

person=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models"]["companion"][0]["id"].split("|")[0])' "$data/truth.json")
name=$(python3 -c 'import json,sys; print(next(d["name"] for d in map(json.loads, open(sys.argv[1])) if d.get("type") == "person" and d.get("name")))' "$data/base.jsonl")
python3 - "$work/load-bodies.lua" "$person" "${name:0:1}" <<'EOF'
import json, sys
out, person, surname = sys.argv[1], sys.argv[2], sys.argv[3]
qs = [
    '{ person(id: "%s") { label person { name idNumber } cohabitants { total items { node { ref label } } } companions(limit: 10) { total items { node { ref } strength } } sightings(first: 20) { edges { node { time device } } } trajectorySummary(days: 30) { footholds { community nights } } } }' % person,
    '{ search(query: "%s", first: 20) { totalCount facets { kinds { key count } } edges { node { score entity { ref label } } } } }' % surname,
    '{ trajectory(subject: "person:%s", from: "2026-10-24", to: "2026-10-31") { points { time device } stays { start end } footholds { community nights } } }' % person,
    '{ subgraph(seeds: ["person:%s"], hops: 2, maxNodes: 200) { nodes { hop entity { ref label } } edges { kind from to } } }' % person,
]
with open(out, "w") as f:
    f.write("bodies = {\n" + ",\n".join("  [[%s]]" % json.dumps({"query": q}) for q in qs) + "\n}\n")
EOF
cat >>"$work/load-bodies.lua" <<'EOF'
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
request = function()
    n = n + 1
    return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])
end
local errors, bad = 0, 0
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

# a warm-up (caches, the first reads), not measured
TOKEN="$token" wrk -t2 -c"$conns" -d10s --timeout 10s -s "$work/load-bodies.lua" "http://127.0.0.1:$port/graphql" >/dev/null

# memory, once a second
( while kill -0 "$server" 2>/dev/null; do
    awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null || true
    sleep 1
done ) >"$work/load-rss.txt" &
sampler=$!

# the live intake, paced
python3 - "$live/events.jsonl" "http://127.0.0.1:$port/ingest" "$token" "$rate" "$secs" >"$work/load-ingest.txt" <<'EOF' &
import sys, time, json, urllib.request, urllib.error
path, url, token, rate, secs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
lines = open(path, encoding="utf-8").read().splitlines()
batch = max(1, rate // 4)
acked = failed = sent = 0
t0 = time.time()
i = 0
while time.time() - t0 < secs and i < len(lines):
    body = ("\n".join(lines[i:i + batch]) + "\n").encode()
    i += batch
    req = urllib.request.Request(url, data=body, headers={"Authorization": "Bearer " + token})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            res = json.load(r)
            acked += res["accepted"] + res["duplicates"]
    except urllib.error.HTTPError as e:
        failed += 1
        print("intake HTTP", e.code, e.read()[:200], file=sys.stderr)
    except Exception as e:
        failed += 1
        print("intake", e, file=sys.stderr)
    sent += 1
    wait = t0 + sent * batch / rate - time.time()
    if wait > 0:
        time.sleep(wait)
dt = time.time() - t0
print("INGEST %.0f %d %d %.1f" % (acked / dt, acked, failed, dt))
EOF
ingester=$!

echo "== load: $conns connections for ${secs} s (archive, search, trajectory, subgraph in turn) while intake posts ~$rate events/s"
line=$(TOKEN="$token" wrk -t2 -c"$conns" -d"${secs}s" --timeout 10s -s "$work/load-bodies.lua" "http://127.0.0.1:$port/graphql" | grep '^RESULT')
wait "$ingester" || true
kill "$sampler" 2>/dev/null || true
read -r _ rps p50 p99 n errs neterrs <<<"$line"
read -r _ ev_s acked failed dt <"$work/load-ingest.txt"
printf 'queries: %s req/s, p50 %s ms, p99 %s ms, %s requests, %s with errors or non-200, %s socket errors\n' "$rps" "$p50" "$p99" "$n" "$errs" "$neterrs"
printf 'intake: %s events/s acknowledged (%s events in %s s), %s failed batches\n' "$ev_s" "$acked" "$dt" "$failed"
python3 - "$work/load-rss.txt" <<'EOF'
import sys
xs = [int(x) for x in open(sys.argv[1]).read().split() if x.strip().isdigit()]
if len(xs) >= 20:
    first, last = sum(xs[:10]) / 10, sum(xs[-10:]) / 10
    print("server RSS: first 10 s %.0f MiB, last 10 s %.0f MiB, peak %.0f MiB (%d samples)" % (first / 1024, last / 1024, max(xs) / 1024, len(xs)))
EOF
kill "$server"
wait "$server" 2>/dev/null || true
