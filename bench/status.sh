#!/usr/bin/env bash
# Benchmarks `cargo-lockwatch status --json` against the tools a user would otherwise reach for
# (lslocks, lsof <file>, fuser <file>) on the case that matters: a held *and contended* Cargo
# lock (which makes status scan descriptors to name every real holder) on a machine with
# several hundred other processes.
#
# Not part of the test suite; CI runs it on request. Targets: status within 2x of lslocks and
# at least 20x faster than lsof.
#
#   bench/status.sh              # 400 idle processes, hyperfine if installed
#   IDLE=1000 RUNS=50 bench/status.sh
#   NO_HYPERFINE=1 bench/status.sh   # force the plain bash timing loop
#
# Everything runs in a temp CARGO_HOME; every process started here is killed on exit.
set -euo pipefail

IDLE=${IDLE:-400}
RUNS=${RUNS:-30}
WARMUP=${WARMUP:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

for tool in flock lslocks lsof fuser; do
	command -v "$tool" >/dev/null || {
		echo "bench/status.sh: $tool is required (util-linux, lsof, psmisc)" >&2
		exit 2
	}
done

echo "building release binary..." >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin cargo-lockwatch
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
	sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
BIN="$TARGET_DIR/release/cargo-lockwatch"
[[ -x "$BIN" ]] || {
	echo "bench/status.sh: no binary at $BIN" >&2
	exit 2
}
# Run a private copy: a parallel build replacing the binary mid-run must not skew the timings.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lockwatch-bench.XXXXXX")
cp "$BIN" "$WORK/cargo-lockwatch"
BIN="$WORK/cargo-lockwatch"

PIDS=()
# Never fails: under `set -e` one `kill` of a process that had just exited (the waiter's `true`)
# used to end the cleanup there and leave the 400 sleeps running.
cleanup() {
	set +e
	local p kids
	for p in "${PIDS[@]}"; do
		# flock's own child (the sleep it runs) first, then flock; only processes started here.
		kids=$(cat "/proc/$p/task/$p/children" 2>/dev/null)
		# shellcheck disable=SC2086
		[[ -n "$kids" ]] && kill -KILL $kids 2>/dev/null
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$WORK"
	return 0
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export CARGO_HOME="$WORK/cargo-home"
export LOCKWATCH_CONFIG_DIR="$WORK/lw/config" LOCKWATCH_DATA_DIR="$WORK/lw/data"
export LOCKWATCH_RUNTIME_DIR="$WORK/lw/run" NO_COLOR=1
unset CARGO_TARGET_DIR
mkdir -p "$CARGO_HOME"
LOCK="$CARGO_HOME/.package-cache"
: >"$LOCK"
INO=$(stat -c %i "$LOCK")

wait_lock_line() { # $1: grep pattern on /proc/locks lines of our inode
	local i
	for i in $(seq 200); do
		grep ":$INO " /proc/locks | grep -q -- "$1" && return 0
		sleep 0.05
	done
	echo "bench/status.sh: timed out waiting for '$1' on $LOCK" >&2
	exit 2
}

# Holder, then a waiter behind it (-o: the lock stays with flock, not the sleep it runs).
flock -x -o "$LOCK" sleep 3600 &
HOLDER=$!
PIDS+=("$HOLDER")
wait_lock_line "WRITE $HOLDER "
flock -x -o "$LOCK" true &
WAITER=$!
PIDS+=("$WAITER")
wait_lock_line "-> FLOCK.* $WAITER "

for _ in $(seq "$IDLE"); do
	sleep 3600 &
	PIDS+=("$!")
done
# Out of bash's job table: no "Killed" notice per process at cleanup (PIDS still lists them).
disown -a
NPROC=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)

# Run from the temp dir: not inside a project, so status lists only what it discovers.
cd "$WORK"
# Sanity: every tool sees the lock, and status names holder and waiter.
json=$("$BIN" status --json --no-daemon || true)
grep -q "\"pid\": $HOLDER" <<<"$json" && grep -q "\"pid\": $WAITER" <<<"$json" || {
	echo "bench/status.sh: status did not name holder $HOLDER and waiter $WAITER:" >&2
	echo "$json" >&2
	exit 2
}
lslocks -n -o PID,PATH | grep -q "$HOLDER" || echo "note: lslocks did not list $HOLDER" >&2
lsof "$LOCK" >/dev/null 2>&1 || echo "note: lsof found nothing on $LOCK" >&2

declare -A CMDS=(
	[status]="$BIN status --json --no-daemon"
	[lslocks]="lslocks"
	[lsof]="lsof $LOCK"
	[fuser]="fuser $LOCK"
)
ORDER=(status lslocks lsof fuser)
declare -A MEDIAN_MS

if command -v hyperfine >/dev/null && [[ -z "${NO_HYPERFINE:-}" ]]; then
	args=()
	for name in "${ORDER[@]}"; do args+=(-n "$name" "${CMDS[$name]}"); done
	hyperfine -N -i --warmup "$WARMUP" --runs "$RUNS" --style basic \
		--export-json "$WORK/hf.json" "${args[@]}" >&2
	for name in "${ORDER[@]}"; do
		MEDIAN_MS[$name]=$(python3 -c '
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    if r["command"] == sys.argv[2]:
        print("%.3f" % (r["median"] * 1000))
' "$WORK/hf.json" "$name")
	done
	METHOD="hyperfine ($RUNS runs, $WARMUP warmup)"
else
	for name in "${ORDER[@]}"; do
		read -r -a argv <<<"${CMDS[$name]}"
		for _ in $(seq "$WARMUP"); do "${argv[@]}" >/dev/null 2>&1 || true; done
		times=()
		for _ in $(seq "$RUNS"); do
			t0=$(date +%s%N)
			"${argv[@]}" >/dev/null 2>&1 || true
			t1=$(date +%s%N)
			times+=($(((t1 - t0) / 1000)))
		done
		MEDIAN_MS[$name]=$(printf '%s\n' "${times[@]}" | sort -n |
			awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.3f", m / 1000}')
	done
	METHOD="bash loop with date +%s%N ($RUNS runs, $WARMUP warmup)"
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
echo
echo "cargo-lockwatch status vs lslocks / lsof / fuser"
echo "processes: $NPROC ($IDLE idle sleeps); lock: held + contended; timing: $METHOD"
printf '%-10s %12s\n' tool "median ms"
for name in "${ORDER[@]}"; do printf '%-10s %12s\n' "$name" "${MEDIAN_MS[$name]}"; done
S=${MEDIAN_MS[status]}
R1=$(ratio "$S" "${MEDIAN_MS[lslocks]}")
R2=$(ratio "${MEDIAN_MS[lsof]}" "$S")
R3=$(ratio "${MEDIAN_MS[fuser]}" "$S")
echo
echo "status / lslocks = ${R1}x   (target <= 2)"
echo "lsof / status    = ${R2}x   (target >= 20)"
echo "fuser / status   = ${R3}x"
ok=1
awk -v r="$R1" 'BEGIN { exit !(r <= 2) }' || ok=0
awk -v r="$R2" 'BEGIN { exit !(r >= 20) }' || ok=0
if ((ok)); then echo "targets: met"; else echo "targets: MISSED"; fi
