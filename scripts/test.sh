#!/usr/bin/env bash
# The second command: every check and test of the workspace. `.ci/run` calls it.
# The Neo4j backend's suites run against a real Bolt server (ArcadeDB, started
# here and stopped on exit); ANJU_SKIP_NEO4J=1 runs without it (they say skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== console (web/ → web/dist, embedded by the build below)"
bash scripts/web.sh
export ANJU_EXPECT_CONSOLE=1
echo "== fmt"
cargo fmt --all --check
echo "== dependency direction"
bash scripts/check-deps.sh
echo "== clippy"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings
echo "== doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --all-features --no-deps --quiet
echo "== tests"
if [ -z "${ANJU_SKIP_NEO4J:-}" ]; then
    # ArcadeDB on a port of its own, so a developer's server is left alone
    export ANJU_ARCADEDB_PORT="${ANJU_ARCADEDB_PORT:-17687}"
    export ANJU_ARCADEDB_DIR="${ANJU_ARCADEDB_DIR:-$HOME/.cache/anju/arcadedb-test}"
    bash scripts/arcadedb.sh start
    trap 'bash scripts/arcadedb.sh stop' EXIT
    eval "$(bash scripts/arcadedb.sh env)"
    export ANJU_NEO4J_URI ANJU_NEO4J_USER ANJU_NEO4J_PASSWORD
fi
cargo nextest run --workspace --all-features --no-fail-fast
# (the run above built the `anju` binary the browser tests serve with)
echo "== console in a browser (Playwright, Debian's chromium, the small city)"
bash scripts/browser-tests.sh
echo "== fuzz (coverage-guided, ${ANJU_FUZZ_SECS:-15} s per parser target; scripts/fuzz.sh runs all four)"
bash scripts/fuzz.sh "${ANJU_FUZZ_SECS:-15}" jsonl csv viid
