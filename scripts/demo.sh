#!/usr/bin/env bash
# The first command: build, generate the small demo city, ingest it into the
# embedded store, and show what the platform holds.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

cargo build --release -p api --bin anju
anju="$CARGO_TARGET_DIR/release/anju"
data="${ANJU_DATA:-data}"

"$anju" fixtures --preset small --seed 42 --out "$data/demo"
# ingesting again is harmless: every event is stored once
"$anju" --store "$data/store" ingest "$data/demo"
"$anju" --store "$data/store" stats
