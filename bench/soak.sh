#!/usr/bin/env bash
# Soak benchmark for the daemon (issue 10): a headless daemon runs for 10 minutes while a lock is
# taken and released every 100 ms and 2,000 clients subscribe and leave (half read a snapshot
# first, half hang up at once; a few send half a request and go silent). Every --every seconds it
# prints the daemon's RSS, open descriptors, and the sizes of its history and log files, so you
# can see they stay flat. The history and log bounds are set low (512 kB, 256 kB) so that ten
# minutes of churn crosses them several times. Prints figures; asserts nothing. Not run in CI.
#   bash bench/soak.sh [--minutes 10] [--clients 2000] [--every 30] [--history-max B] [--log-max B]
# Everything lives in a temp dir (its own CARGO_HOME, config, data and runtime dirs); only
# processes this script started are signalled.
set -euo pipefail
cd "$(dirname "$0")/.."

minutes=10 clients=2000 every=30 history_max=524288 log_max=262144
while (($#)); do
  case "$1" in
    --minutes) minutes=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --every) every=$2; shift 2 ;;
    --history-max) history_max=$2; shift 2 ;;
    --log-max) log_max=$2; shift 2 ;;
    *)
      echo "usage: bash bench/soak.sh [--minutes N] [--clients N] [--every SECS]" \
        "[--history-max BYTES] [--log-max BYTES]" >&2
      exit 2
      ;;
  esac
done
command -v flock >/dev/null || { echo "needs flock (util-linux)" >&2; exit 2; }
command -v python3 >/dev/null || { echo "needs python3 for the socket clients" >&2; exit 2; }
[ -r /proc/self/status ] || { echo "needs Linux /proc for the figures" >&2; exit 2; }

cargo build --release --quiet
bin=$PWD/target/release/cargo-lockwatch
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockwatch-soak.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

export CARGO_HOME=$tmp/cargo-home LOCKWATCH_CONFIG_DIR=$tmp/config LOCKWATCH_DATA_DIR=$tmp/data
export LOCKWATCH_RUNTIME_DIR=$tmp/run LOCKWATCH_NOTIFY_ENABLED=false
export LOCKWATCH_DAEMON_HISTORY_MAX_BYTES=$history_max LOCKWATCH_DAEMON_LOG_MAX_BYTES=$log_max
mkdir -p "$CARGO_HOME"
lock=$CARGO_HOME/.package-cache
: >"$lock"
"$bin" daemon --headless >"$tmp/daemon.log" 2>&1 &
daemon=$!
pids+=("$daemon")
socket=$tmp/run/lockwatch.sock
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { echo "the daemon did not start:"; cat "$tmp/daemon.log"; exit 1; }

secs=$((minutes * 60))
end=$(($(date +%s) + secs))

# Churn: a lock held for 50 ms every 100 ms.
(
  while (($(date +%s) < end)); do
    flock -x "$lock" sleep 0.05
    sleep 0.05
  done
) &
pids+=("$!")

# Clients: subscribe and leave, spread over the run.
python3 - "$socket" "$clients" "$secs" >"$tmp/clients.log" 2>&1 <<'EOF' &
import socket, sys, time
path, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
gap = secs / max(n, 1) * 0.9
ok = refused = errors = 0
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    try:
        s.connect(path)
        if i % 100 == 99:
            s.sendall(b'{"type":"hel')      # half a request, then silence: the daemon times it out
            time.sleep(0.05)
        else:
            s.sendall(b'{"type":"hello","version":2,"client":"soak"}\n{"type":"subscribe"}\n')
            if i % 2 == 0:
                f = s.makefile("rb")
                f.readline()                    # hello
                line = f.readline()             # first snapshot (or a refusal)
                if b'"snapshot"' in line:
                    ok += 1
                else:
                    refused += 1
            else:
                ok += 1                         # hangs up without reading
    except OSError:
        errors += 1
    finally:
        s.close()
    time.sleep(gap)
print(f"clients: {ok} subscribed and left, {refused} refused, {errors} errors")
EOF
pids+=("$!")

size() { stat -c %s "$1" 2>/dev/null || echo 0; }
hist_size() { echo $(($(size "$tmp/data/history.jsonl") + $(size "$tmp/data/history.1.jsonl"))); }
echo "soak: ${minutes} min, lock churn every 100 ms, $clients clients;" \
  "history bound $history_max B (x2 with the rotated file), log bound $log_max B"
printf '%8s %10s %6s %12s %12s\n' "elapsed" "rss_kB" "fds" "history_B" "log_B"
start=$(date +%s)
sample() {
  local rss fds
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$daemon/status")
  fds=$(find "/proc/$daemon/fd" -mindepth 1 -maxdepth 1 | wc -l)
  printf '%7ss %10s %6s %12s %12s\n' "$(($(date +%s) - start))" "$rss" "$fds" "$(hist_size)" "$(size "$tmp/daemon.log")"
}
while (($(date +%s) < end)); do
  sample
  sleep "$every"
done
sleep 2
sample
wait "${pids[2]}" 2>/dev/null || true
cat "$tmp/clients.log"
echo "daemon peak RSS: $(awk '/^VmHWM/ {print $2, $3}' "/proc/$daemon/status")"
echo "history events: $(cat "$tmp"/data/history*.jsonl 2>/dev/null | wc -l) lines"
