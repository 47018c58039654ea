#!/usr/bin/env bash
# The console's benchmark (not a test): builds the console and the release
# binary, makes the town preset (kept in ~/.cache/anju/bench-console between
# runs; ANJU_BENCH_PRESET=small for a quick look), serves it and measures in
# headless Chromium (web/bench/console.mjs): initial bundle size, archive page
# navigation → interactive (p50/p95 over 50), a 2,000-node subgraph laid out
# and drawn, and frames per second while panning it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

preset="${ANJU_BENCH_PRESET:-town}"
bash scripts/web.sh
# ANJU_BENCH_PROFILE=debug serves with the debug binary (the tests' build:
# the API is slower, the browser's side the same)
profile="${ANJU_BENCH_PROFILE:-release}"
if [ "$profile" = release ]; then
    cargo build --release -p cli --bin anju
else
    cargo build -p cli --bin anju
fi
anju="$CARGO_TARGET_DIR/$profile/anju"
dir="${ANJU_BENCH_DIR:-$HOME/.cache/anju/bench-console}/$preset-$profile"
mkdir -p "$dir"
if [ ! -f "$dir/ready" ]; then
    rm -rf "$dir/city" "$dir/store"
    "$anju" fixtures --preset "$preset" --seed 42 --out "$dir/city"
    "$anju" --store "$dir/store" ingest --progress none "$dir/city"
    touch "$dir/ready"
fi
printf 'version = 1\n[server]\nanalysis_every_mins = 0\n[alerts]\nelderly_check_mins = 0\n[auth]\nrate_per_minute = 1000000\nrate_burst = 100000\n' >"$dir/serve.toml"
token=$("$anju" --config "$dir/serve.toml" --store "$dir/store" token create --role admin --name bench --ttl 2h --quiet)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$anju" --config "$dir/serve.toml" --store "$dir/store" serve --listen "127.0.0.1:$port" >"$dir/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
    sleep 0.2
done
chromium=$(bash scripts/chromium.sh)
cd web
BASE="http://127.0.0.1:$port" TOKEN="$token" CHROMIUM="${CHROMIUM:-$chromium}" node bench/console.mjs
