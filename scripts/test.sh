#!/usr/bin/env bash
# The second command: every check and test of the workspace. `.ci/run` calls it.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

echo "== fmt"
cargo fmt --all --check
echo "== dependency direction"
bash scripts/check-deps.sh
echo "== clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== doc"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
echo "== tests"
cargo nextest run --workspace --no-fail-fast
