#!/usr/bin/env bash
# Daemon benchmark: detection latency (acquire/release -> visible over IPC; target p95 <= 50 ms)
# and idle cost (CPU seconds per idle hour <= 1, RSS <= 20 MB), headless and, when a display or
# Xvfb is available and the tray feature builds, with the tray. Prints figures; asserts nothing.
#   bash bench/daemon.sh [--idle SECS] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
cargo build --release --quiet --example daemon_bench
./target/release/examples/daemon_bench ./target/release/cargo-lockwatch "$@"
if cargo build --release --quiet --features tray --target-dir target/tray 2>/dev/null; then
  cargo build --release --quiet --features tray --target-dir target/tray --example daemon_bench
  if [ -z "${DISPLAY:-}" ] && command -v Xvfb >/dev/null; then
    export DISPLAY=:93
    Xvfb :93 -screen 0 640x240x24 >/dev/null 2>&1 & xvfb=$!
    trap 'kill $xvfb 2>/dev/null' EXIT
    sleep 1
  fi
  if [ -n "${DISPLAY:-}" ]; then
    echo
    dbus-run-session -- ./target/tray/release/examples/daemon_bench ./target/tray/release/cargo-lockwatch --tray "$@"
  fi
fi
