#!/usr/bin/env bash
# Our Linux per-process fact reading against sysinfo 0.37 refreshing only the needed pids,
# side by side (bench/sysinfo-vs-proc). The figures and the decision are in docs/macos.md
# ("sysinfo") and docs/performance.md. Not part of the test suite.
#
#   bench/sysinfo.sh            # 2000 runs per cell
#   RUNS=500 bench/sysinfo.sh
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench/sysinfo-vs-proc"
# Start from the project's lock file so lockwatch's dependencies are the ones it is tested with.
[ -f "$BENCH/Cargo.lock" ] || cp "$ROOT/Cargo.lock" "$BENCH/Cargo.lock"
cargo run --release --quiet --manifest-path "$BENCH/Cargo.toml" \
  --target-dir "$ROOT/target/bench-sysinfo"
