#!/usr/bin/env bash
# The first command: build the web console and the binary that embeds it,
# generate the small demo city, ingest it into the embedded store, show what
# the platform holds, run the analysis models and measure them against the
# city's ground truth, then serve the console, the GraphQL API and its
# playground on localhost (ANJU_LISTEN, default 127.0.0.1:8080;
# ANJU_DEMO_NO_SERVE=1 stops before serving).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

# the console first: the binary embeds web/dist when it is compiled
bash scripts/web.sh
cargo build --release -p cli --bin anju
anju="$CARGO_TARGET_DIR/release/anju"
data="${ANJU_DATA:-data}"

"$anju" fixtures --preset small --seed 42 --out "$data/demo"
# a demo store written by an earlier, incompatible version is started afresh
# (the output is kept first: under pipefail a failing `stats | grep` pipe is false)
if [ -d "$data/store" ] && ! stats=$("$anju" --store "$data/store" stats 2>&1) && grep -q "this build reads" <<<"$stats"; then
    echo "the demo store is from an earlier version of the store format: starting it afresh"
    rm -rf "$data/store"
fi
# ingesting again is harmless: every event is stored once
"$anju" --store "$data/store" ingest "$data/demo"
"$anju" --store "$data/store" stats
# relations were kept current during ingest: this only reports the graph
"$anju" --store "$data/store" project
# an investigator's first questions, about the city's planted companions
pair=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["models"]["companion"][0]["id"])' "$data/demo/truth.json")
a=${pair%%|*}
b=${pair##*|}
echo "== who is person:$a linked to, strongest first"
"$anju" --store "$data/store" graph neighbours "person:$a" --limit 5
echo "== how are person:$a and person:$b connected"
"$anju" --store "$data/store" graph path "person:$a" "person:$b" --max-paths 1
name=$(python3 -c 'import json,sys; print(next(d["name"] for d in map(json.loads, open(sys.argv[1])) if d.get("type") == "person" and d.get("name")))' "$data/demo/base.jsonl")
suffix=$(python3 -c 'import json,sys; print(next(d["id_number"][-4:] for d in map(json.loads, open(sys.argv[1])) if d.get("type") == "person" and d.get("id_number")))' "$data/demo/base.jsonl")
echo "== search: $name, and the persons whose identity number ends in $suffix"
"$anju" --store "$data/store" search "$name" --per-page 3
"$anju" --store "$data/store" search "$suffix" --kind person --per-page 3
echo "== one archive per person: stranger clustering against the city's ground truth"
"$anju" --store "$data/store" evaluate-faces "$data/demo/faces-truth.csv"
echo "== analysis: the judgement models over every day of the city, kept as tags and alerts"
# the deployment the generated city assumes: its high-risk plate prefixes
# and sensitive periods (deployment.toml, written by anju fixtures)
"$anju" --config "$data/demo/deployment.toml" --store "$data/store" analyze
echo "== the models against the city's planted ground truth (the e-bike rule runs in the server, once it has served)"
"$anju" --config "$data/demo/deployment.toml" --store "$data/store" evaluate --truth "$data/demo/truth.json"
if [ -n "${ANJU_DEMO_NO_SERVE:-}" ]; then
    exit 0
fi
listen="${ANJU_LISTEN:-127.0.0.1:8080}"
# every request needs a bearer token: one for the demo's user, an admin
# (all regions, identifiers unmasked) valid for a day
token=$("$anju" --config "$data/demo/deployment.toml" --store "$data/store" token create --role admin --name demo --ttl 24h --quiet)
echo "== the console: sign in by opening this link (the token travels in the fragment, which"
echo "   browsers never send; the console keeps it for this tab only):"
echo "   http://$listen/#token=$token"
echo "   (\"anju token create --role officer --region CODE\" makes a regional one: see README, Access control)"
echo "== the API: GraphQL at http://$listen/graphql with the header"
echo "   Authorization: Bearer $token"
echo "   (the playground is the console's http://$listen/playground, opened on example queries); Ctrl-C stops"
exec "$anju" --config "$data/demo/deployment.toml" --store "$data/store" serve --listen "$listen"
