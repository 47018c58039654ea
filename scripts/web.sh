#!/usr/bin/env bash
# Builds the web console (web/ → web/dist), which `anju` embeds when it is
# compiled: installs Node.js and npm from Debian's packages when missing,
# installs the console's dependencies from the committed lock file (`npm
# ci`, only when the lock file changed since the last install), type-checks
# and bundles it. Every asset is bundled: the console requests nothing from
# any other origin.
set -euo pipefail
cd "$(dirname "$0")/../web"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "installing nodejs and npm (apt)" >&2
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm >/dev/null
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
    # Debian 12's nodejs is 18: Vite builds the console with it, but the
    # browser tests' runner (Playwright) wants 20 or later (Debian 13's)
    echo "note: Node.js $(node -v) is older than 20: the console builds, the browser tests need Node.js >= 20" >&2
fi
stamp=node_modules/.anju-lock
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
    # Playwright drives Debian's chromium: it must not fetch a browser
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    cp package-lock.json "$stamp"
fi
npm run --silent build
