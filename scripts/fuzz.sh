#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the JSON Lines parser,
# the CSV base files, the GA/T 1400 mapper and the GraphQL request path
# (fuzz/fuzz_targets; the harnesses are ingest::fuzzing and server::fuzzing).
# A panic, a contract broken (a refusal that names no field, an error
# without a code or an internal one), more than 2 GiB of memory or more
# than 10 s on one input stops the run and fails; the input is kept in
# fuzz/artifacts/<target>/.
#   scripts/fuzz.sh                 # the long run: 10 minutes per target
#   scripts/fuzz.sh 15 jsonl csv viid   # 15 s per parser target (the tests run this: the
#                                       # graphql target builds the whole server in release,
#                                       # RocksDB's C++ included; its request path is
#                                       # property-fuzzed by the tests, cli/tests/it/reliability.rs)
#   scripts/fuzz.sh 300 jsonl viid  # some targets
# Needs the nightly toolchain and cargo-fuzz (installed here when missing).
# What the fuzzer found interesting is kept in ~/.cache/anju/fuzz-corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh

secs="${1:-600}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jsonl csv viid graphql)

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
# a target directory of its own: nightly and the coverage instrumentation
# would rebuild the workspace's
export CARGO_TARGET_DIR="$HOME/.cache/anju/fuzz-target"
corpus="$HOME/.cache/anju/fuzz-corpus"
flags=(--sanitizer none --debug-assertions)

for t in "${targets[@]}"; do
    mkdir -p "$corpus/$t"
    log="$HOME/.cache/anju/fuzz-$t.log"
    echo "== fuzz $t: ${secs}s (log: $log)"
    set +e
    features=()
    [ "$t" = graphql ] && features=(--features graphql)
    cargo +nightly fuzz run "${flags[@]}" "${features[@]}" "$t" "$corpus/$t" "fuzz/seeds/$t" -- \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1
    status=$?
    set -e
    grep -E '^(#[0-9]+\s+DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|thread .* panicked|Test unit written)' "$log" || true
    rm -rf /tmp/anju-fuzz-graphql-*
    if [ "$status" -ne 0 ]; then
        echo "fuzz $t FAILED (exit $status): the input is in fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
done
echo "fuzz: ${targets[*]}: no panic, no broken contract, no OOM, no hang"
