#!/usr/bin/env bash
# The crates are layers (ARCHITECTURE.md): fail when one depends on what it
# must not see.
set -euo pipefail
cd "$(dirname "$0")/.."

forbid() {
    local crate=$1
    shift
    local deps
    deps=$(cargo tree -p "$crate" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
    for bad in "$@"; do
        if grep -qx "$bad" <<<"$deps"; then
            echo "dependency direction violated: $crate depends on $bad" >&2
            exit 1
        fi
    done
}

top="server cli bench"
forbid model ingest graph search analysis fixtures $top rocksdb tantivy neo4rs
forbid ingest graph search analysis fixtures $top rocksdb tantivy neo4rs
forbid graph ingest search analysis fixtures $top tantivy
forbid search ingest graph analysis fixtures $top rocksdb neo4rs
forbid fixtures ingest graph search analysis $top rocksdb tantivy
forbid analysis ingest fixtures $top
# the server is a library under the binaries: never the CLI or the
# benchmarks, nor the benchmarks' peers' clients
forbid server cli bench postgres redis
forbid cli bench postgres redis
# no circle of imports between a crate's modules but the pairs named in
# ARCHITECTURE.md (a module and the helpers it owns are one room)
python3 scripts/module-cycles.py
echo "dependency direction ok"
