#!/usr/bin/env bash
# The console's browser tests: Playwright (npm) driving Debian's chromium (no
# browser download) against `anju serve` on the small city. Installs chromium
# and a CJK font (for readable screenshots) from apt when missing; needs the
# console built (scripts/web.sh) and the debug `anju` binary that embeds it
# (ANJU_BIN overrides). Screenshots of every screen: web/test-results/screens/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

export CHROMIUM="${CHROMIUM:-$(bash scripts/chromium.sh)}"
export ANJU_BIN="${ANJU_BIN:-$CARGO_TARGET_DIR/debug/anju}"
if [ ! -x "$ANJU_BIN" ]; then
    cargo build -p cli --bin anju
fi
cd web
npx playwright test "$@"
