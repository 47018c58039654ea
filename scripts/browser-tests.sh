#!/usr/bin/env bash
# The console's browser tests: Playwright (npm) driving Debian's chromium (no
# browser download) against `anju serve` on the small city. Installs chromium
# and a CJK font (for readable screenshots) from apt when missing; needs the
# console built (scripts/web.sh) and the debug `anju` binary that embeds it
# (ANJU_BIN overrides). Screenshots of every screen: web/test-results/screens/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (apt)" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
export CHROMIUM="${CHROMIUM:-$(command -v chromium)}"
export ANJU_BIN="${ANJU_BIN:-$CARGO_TARGET_DIR/debug/anju}"
if [ ! -x "$ANJU_BIN" ]; then
    cargo build -p cli --bin anju
fi
cd web
npx playwright test "$@"
