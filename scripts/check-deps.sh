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

forbid model ingest graph search analysis api fixtures rocksdb tantivy neo4rs
forbid ingest graph search analysis api fixtures rocksdb tantivy neo4rs
forbid graph ingest search analysis api fixtures tantivy
forbid search ingest graph analysis api fixtures rocksdb neo4rs
forbid fixtures ingest graph search analysis api rocksdb tantivy
forbid analysis ingest api fixtures
echo "dependency direction ok"
