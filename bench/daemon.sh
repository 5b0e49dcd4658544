#!/usr/bin/env bash
# Daemon benchmark: detection latency (acquire/release -> visible over IPC; target p95 <= 2 ms)
# and idle cost (CPU seconds per idle hour from schedstat, wakeups per second, RSS), headless
# and, when a display or Xvfb is available and the tray feature builds, with the tray. With
# BASELINE=path, an older binary is measured the same way (headless). Prints figures; asserts
# nothing.
#
# Unless ISOLATE=0 the measurements run in a new PID namespace (unshare --pid --mount-proc), so
# that other people's builds on a shared machine (their locks are in /proc/locks otherwise) do
# not wake the daemon being measured.
#   bash bench/daemon.sh [--idle SECS] [--rounds N]
#   NO_TRAY=1 BASELINE=/tmp/old-cargo-lockwatch bash bench/daemon.sh --idle 180
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z "${LOCKWATCH_DAEMON_BENCH_INSIDE:-}" ]]; then
  cargo build --release --quiet
  cargo build --release --quiet --example daemon_bench
  tray=
  if [[ -z "${NO_TRAY:-}" ]] &&
    cargo build --release --quiet --features tray --target-dir target/tray 2>/dev/null; then
    cargo build --release --quiet --features tray --target-dir target/tray --example daemon_bench
    tray=1
  fi
  if [[ "${ISOLATE:-1}" != 0 ]] && unshare --pid --fork --mount-proc true 2>/dev/null; then
    exec env LOCKWATCH_DAEMON_BENCH_INSIDE=1 TRAY_BUILT="$tray" \
      unshare --pid --fork --mount-proc bash "$0" "$@"
  fi
  export TRAY_BUILT="$tray"
fi

./target/release/examples/daemon_bench ./target/release/cargo-lockwatch "$@"
if [[ -n "${BASELINE:-}" ]]; then
  echo
  echo "baseline: $BASELINE"
  ./target/release/examples/daemon_bench "$BASELINE" "$@"
fi
if [[ -n "${TRAY_BUILT:-}" ]]; then
  if [[ -z "${DISPLAY:-}" ]] && command -v Xvfb >/dev/null; then
    export DISPLAY=:93
    Xvfb :93 -screen 0 640x240x24 >/dev/null 2>&1 &
    xvfb=$!
    trap 'kill $xvfb 2>/dev/null' EXIT
    sleep 1
  fi
  if [[ -n "${DISPLAY:-}" ]]; then
    echo
    dbus-run-session -- ./target/tray/release/examples/daemon_bench \
      ./target/tray/release/cargo-lockwatch --tray "$@"
  fi
fi
