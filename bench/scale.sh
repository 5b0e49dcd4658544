#!/usr/bin/env bash
# Scale benchmark, in one run on one machine:
#
#  1. `status --json --no-daemon` beside `lslocks -J` and `lsof FILE...` (and, with BASELINE=path,
#     an older cargo-lockwatch binary): 1/10/30/100 locks held by one process (fine-grained
#     locking) with a waiter on each, among 0/500/2,000 extra processes.
#  2. The same with a dead locker whose inherited descriptor lives on in a likely process
#     ("candidate": a build script adopted by pid 1, in the waiter's session) or an unlikely one
#     (another session, under a subreaper with 500/2,000 children): "newest", forked after all
#     of them (as a daemon's fork-and-exit leaves it), "hidden", forked half-way through
#     them in a session of its own (a daemon a build script left), "buried", forked
#     half-way through them and kept in their session (only its never having exec'd tells),
#     or "lookalike", the same but exec'd into `sleep` like them (nothing but its descriptors
#     tells), among 500/2,000 extra processes.
#     Measured twice: a first run (nothing written down: the search) and the next runs (which
#     check the heir the last run wrote in the runtime directory).
#     hyperfine, ROUNDS rounds with the commands in alternating order; medians over all runs.
#     Rows marked "after a pause" run every command PAUSE seconds after the last one ended, as a
#     user typing a command does: reading /proc/locks then waits for an RCU grace period in the
#     kernel (see bench/proc_locks.py), which runs back to back skip. Both columns are shown
#     because back-to-back runs flatter whichever tool is quickest: a run that takes longer
#     than the kernel's window (tens of ms) makes its own next run pay the wait again.
#  3. The daemon (and BASELINE's) per state — idle, held, contended, 100 held, 100 contended —
#     over DAEMON_SECS each: wakeups per second and CPU seconds per hour of every thread, from
#     /proc/PID/task/*/{schedstat,status} (nanoseconds and switch counts, not clock ticks).
#
#   bash bench/scale.sh
#   BASELINE=/tmp/old-cargo-lockwatch RUNS=20 ROUNDS=2 DAEMON_SECS=60 bash bench/scale.sh
#   PARTS=held PROCS="0 500" LOCKS="1 10" bash bench/scale.sh   # a quick partial run
#   PAUSE=0 bash bench/scale.sh   # no "after a pause" rows
#
# Everything runs in a temp CARGO_HOME and temp projects; every process started here is ended
# on exit (by pid; nothing else is signalled). Prints Markdown tables; asserts nothing.
#
# Unless ISOLATE=0, parts 1 and 3 run in a new PID namespace (unshare --pid --mount-proc, as
# root or with user namespaces): /proc and /proc/locks then show only the processes and locks
# made here, so other people's builds on a shared machine neither add work to `status` nor wake
# the daemons being measured; the namespace's end kills whatever is left. Part 2 cannot: inside
# a PID namespace the kernel hides a lock whose locker is gone (its pid translates to none), so
# it runs beside whatever else the machine runs.
set -euo pipefail

PARTS=${PARTS:-held dead daemon}
if [[ -z "${LOCKWATCH_SCALE_INSIDE:-}" && "${ISOLATE:-1}" != 0 ]] &&
	unshare --pid --fork --mount-proc true 2>/dev/null; then
	inside=$(tr ' ' '\n' <<<"$PARTS" | { grep -v '^dead$' || true; } | tr '\n' ' ')
	if [[ -n "${inside// /}" ]]; then
		env LOCKWATCH_SCALE_INSIDE=1 PARTS="$inside" \
			unshare --pid --fork --mount-proc bash "$0" "$@" ||
			echo "bench/scale.sh: the isolated part failed" >&2
	fi
	[[ " $PARTS " == *" dead "* ]] || exit 0
	PARTS=dead
fi
has_part() { [[ " $PARTS " == *" $1 "* ]]; }

RUNS=${RUNS:-20}
ROUNDS=${ROUNDS:-2}
WARMUP=${WARMUP:-3}
PROCS=${PROCS:-"0 500 2000"}
LOCKS=${LOCKS:-"1 10 30 100"}
DEAD_PROCS=${DEAD_PROCS:-"500 2000"}
HEIRS=${HEIRS:-"candidate newest hidden buried lookalike"}
PAUSE=${PAUSE:-0.1}
PAUSED_LOCKS=${PAUSED_LOCKS:-"1"}
DAEMON_SECS=${DAEMON_SECS:-60}
SETTLE=${SETTLE:-8}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOAD="$ROOT/bench/scale_load.py"

for tool in flock lslocks lsof hyperfine python3; do
	command -v "$tool" >/dev/null || {
		echo "bench/scale.sh: $tool is required (util-linux, lsof, hyperfine, python3)" >&2
		exit 2
	}
done

echo "building release binary..." >&2
cargo build --release --quiet --manifest-path "$ROOT/Cargo.toml" --bin cargo-lockwatch
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps --manifest-path "$ROOT/Cargo.toml" |
	sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
WORK=$(mktemp -d "${TMPDIR:-/tmp}/lockwatch-scale.XXXXXX")
# Private copies: a parallel build replacing a binary mid-run must not skew the timings.
cp "$TARGET_DIR/release/cargo-lockwatch" "$WORK/status"
BINS=(status)
if [[ -n "${BASELINE:-}" ]]; then
	cp "$BASELINE" "$WORK/baseline"
	BINS+=(baseline)
fi
PIDFILE="$WORK/pids"
: >"$PIDFILE"

# Ends every process this script started (listed in $PIDFILE), never anything else.
stop_started() {
	local p
	while read -r p; do
		[[ -n "$p" ]] && kill -KILL "$p" 2>/dev/null || true
	done <"$PIDFILE"
	: >"$PIDFILE"
}
cleanup() {
	# Waiters may have become holders; worlds' sleeps die with their process group.
	local p
	while read -r p; do
		[[ -n "$p" ]] && kill -KILL -- "-$p" 2>/dev/null || true
	done <"$WORK/groups" 2>/dev/null || true
	stop_started
	rm -rf "$WORK" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
: >"$WORK/groups"

export CARGO_HOME="$WORK/cargo-home" NO_COLOR=1
export LOCKWATCH_CONFIG_DIR="$WORK/lw/config" LOCKWATCH_DATA_DIR="$WORK/lw/data"
export LOCKWATCH_RUNTIME_DIR="$WORK/lw/run"
unset CARGO_TARGET_DIR
mkdir -p "$CARGO_HOME"
CACHE="$CARGO_HOME/.package-cache"
: >"$CACHE"
cd "$WORK"

wait_ready() { # $1: ready file
	local i
	for i in $(seq 600); do
		[[ -s "$1" ]] && return 0
		sleep 0.05
	done
	echo "bench/scale.sh: load did not come up ($1)" >&2
	exit 2
}

# A background process whose pid is recorded for the cleanup.
start() {
	"$@" &
	disown "$!" # ended by pid; no "Killed" notice from bash
	echo "$!" >>"$PIDFILE"
}

# $1 idle processes in their own session under a subreaper ($2: a lock for a dead locker,
# whose heir is forked after $3 of them, by default all; in a session of its own unless $4
# is "shared"; exec'd into `sleep` when $5 is "exec").
start_world() {
	local ready="$WORK/world.ready" extra=()
	rm -f "$ready"
	[[ -n "${2:-}" ]] && extra=(--dead-lock "$2")
	[[ -n "${3:-}" ]] && extra+=(--heir-after "$3")
	[[ -n "${4:-}" ]] && extra+=(--heir-session "$4")
	[[ "${5:-}" == exec ]] && extra+=(--heir-exec)
	python3 "$LOAD" world --pids "$PIDFILE" --ready "$ready" --idle "$1" "${extra[@]}" &
	disown "$!" # ended by pid; no "Killed" notice from bash
	echo "$!" >>"$WORK/groups"
	wait_ready "$ready"
}
stop_worlds() {
	local p
	while read -r p; do
		[[ -n "$p" ]] && kill -KILL -- "-$p" 2>/dev/null || true
	done <"$WORK/groups"
	: >"$WORK/groups"
}

# N project build locks held by one process, a waiting `flock` on each.
lock_files() { # $1: N
	local i
	for i in $(seq "$1"); do
		mkdir -p "$WORK/p$i/target/debug"
		: >"$WORK/p$i/target/debug/.cargo-lock"
		echo "$WORK/p$i/target/debug/.cargo-lock"
	done
}
start_holder() { # $1: N; $2: "wait" for a waiter on each
	local ready="$WORK/hold.ready" f
	rm -f "$ready"
	mapfile -t FILES < <(lock_files "$1")
	python3 "$LOAD" hold --pids "$PIDFILE" --ready "$ready" "${FILES[@]}" &
	disown "$!" # ended by pid; no "Killed" notice from bash
	wait_ready "$ready"
	if [[ "${2:-}" == wait ]]; then
		for f in "${FILES[@]}"; do start flock -x "$f" true; done
		wait_waiters "$1"
	fi
}
wait_waiters() { # $1: how many blocked requests must show in /proc/locks
	local i
	for i in $(seq 400); do
		(($(grep -c -- '->' /proc/locks || true) >= $1)) && return 0
		sleep 0.05
	done
	echo "bench/scale.sh: waiters did not block" >&2
	exit 2
}

declare -A MEDIAN
# Times the commands of one case; sets MEDIAN[name] (ms). PREPARE=cmd runs before each run.
measure() { # $1: case label; then name=command pairs
	local label=$1 r i names=() cmds=() args prep=()
	shift
	[[ -n "${PREPARE:-}" ]] && prep=(--prepare "$PREPARE")
	for pair in "$@"; do
		names+=("${pair%%=*}")
		cmds+=("${pair#*=}")
	done
	for ((r = 0; r < ROUNDS; r++)); do
		args=()
		for ((i = 0; i < ${#names[@]}; i++)); do
			local j=$i
			((r % 2)) && j=$((${#names[@]} - 1 - i))
			args+=(-n "${names[$j]}" "${cmds[$j]}")
		done
		hyperfine -N -i --warmup "$WARMUP" --runs "$RUNS" --style none "${prep[@]}" \
			--export-json "$WORK/hf-$r.json" "${args[@]}" >/dev/null 2>"$WORK/hf.log" || {
			cat "$WORK/hf.log" >&2
			exit 2
		}
	done
	while IFS='=' read -r name ms; do MEDIAN[$name]=$ms; done < <(python3 - "$WORK" "$ROUNDS" <<'EOF'
import json, statistics, sys
work, rounds = sys.argv[1], int(sys.argv[2])
times = {}
for r in range(rounds):
    for res in json.load(open(f"{work}/hf-{r}.json"))["results"]:
        times.setdefault(res["command"], []).extend(res["times"])
for name, t in times.items():
    print(f"{name}={statistics.median(t) * 1000:.2f}")
EOF
	)
	row "$label"
}

ROWS=()
row() {
	local label=$1 cells="" b
	for b in "${BINS[@]}"; do cells+=" ${MEDIAN[$b]} |"; done
	local ratio
	ratio=$(awk -v a="${MEDIAN[status]}" -v b="${MEDIAN[lslocks]}" 'BEGIN { printf "%.2f", a / b }')
	ROWS+=("| $label |$cells ${MEDIAN[lslocks]} | ${MEDIAN[lsof]} | ${ratio}x |")
	echo "${ROWS[-1]}" >&2
}

status_cmds() {
	local b
	for b in "${BINS[@]}"; do echo "$b=$WORK/$b status --json --no-daemon"; done
}

# Whether "after a pause" rows are measured.
paused() { [[ "$PAUSE" != 0 ]]; }

BASE_PROCS=$(find /proc -maxdepth 1 -name '[0-9]*' | wc -l)

# 1. Held and contended locks among idle processes.
has_part held && for procs in $PROCS; do
	start_world "$procs"
	for n in $LOCKS; do
		start_holder "$n" wait
		mapfile -t cmds < <(status_cmds)
		measure "$n held + contended, $procs extra processes" "${cmds[@]}" \
			"lslocks=lslocks -J" "lsof=lsof -- ${FILES[*]}"
		if paused && [[ " $PAUSED_LOCKS " == *" $n "* ]]; then
			PREPARE="sleep $PAUSE" \
				measure "$n held + contended, $procs extra processes, after a pause" "${cmds[@]}" \
				"lslocks=lslocks -J" "lsof=lsof -- ${FILES[*]}"
		fi
		stop_started
		sleep 0.2
	done
	stop_worlds
done

# 2. A dead locker: its heir likely ("candidate") or not ("newest", "hidden", "buried",
#    "lookalike").
has_part dead && for procs in $DEAD_PROCS; do
	for heir in $HEIRS; do
		case $heir in
		candidate)
			start_world "$procs"
			rm -f "$WORK/dead.ready"
			python3 "$LOAD" dead --pids "$PIDFILE" --ready "$WORK/dead.ready" "$CACHE"
			;;
		newest) start_world "$procs" "$CACHE" ;;
		hidden) start_world "$procs" "$CACHE" $((procs / 2)) ;;
		buried) start_world "$procs" "$CACHE" $((procs / 2)) shared ;;
		lookalike) start_world "$procs" "$CACHE" $((procs / 2)) shared exec ;;
		esac
		start flock -x "$CACHE" true
		wait_waiters 1
		json=$("$WORK/status" status --json --no-daemon || true)
		grep -q '"locker-dead"' <<<"$json" ||
			echo "note: status did not report the dead locker: $json" >&2
		mapfile -t cmds < <(status_cmds)
		# A run writes down the heir it found; the next checks it before any search.
		PREPARE="rm -f $LOCKWATCH_RUNTIME_DIR/heirs.json" \
			measure "dead locker, heir $heir, $procs extra processes, first run" "${cmds[@]}" \
			"lslocks=lslocks -J" "lsof=lsof -- $CACHE"
		if paused; then
			PREPARE="sh -c 'rm -f $LOCKWATCH_RUNTIME_DIR/heirs.json; sleep $PAUSE'" \
				measure "dead locker, heir $heir, $procs extra processes, first run after a pause" \
				"${cmds[@]}" "lslocks=lslocks -J" "lsof=lsof -- $CACHE"
		fi
		measure "dead locker, heir $heir, $procs extra processes, next runs" "${cmds[@]}" \
			"lslocks=lslocks -J" "lsof=lsof -- $CACHE"
		stop_started
		stop_worlds
		sleep 0.2
	done
done

if ((${#ROWS[@]})); then
echo
echo "## status --json vs lslocks -J and lsof (median ms; $ROUNDS rounds x $RUNS runs, alternating order)"
echo "machine: $(nproc) cores, $(uname -r); processes besides the extra ones: $BASE_PROCS;" \
	"isolated in a PID namespace: ${LOCKWATCH_SCALE_INSIDE:-no}"
header="| case |"
sep="|---|"
for b in "${BINS[@]}"; do
	header+=" $b |"
	sep+="---|"
done
echo "$header lslocks -J | lsof | status/lslocks |"
echo "$sep---|---|---|"
printf '%s\n' "${ROWS[@]}"
fi

has_part daemon || exit 0

# 3. The daemon per state. Over every thread: CPU nanoseconds and run count from
# /proc/PID/task/*/schedstat, and voluntary context switches from .../status (each one is a
# sleep, so the wakeup that ends it is counted once; involuntary switches are preemptions).
schedstat() { # $1: pid -> "ns runs voluntary"
	{
		cat /proc/"$1"/task/*/schedstat
		grep -h '^voluntary_ctxt_switches' /proc/"$1"/task/*/status
	} 2>/dev/null | awk '/^voluntary/ { vol += $2; next } { ns += $1; runs += $3 } END { print ns, runs, vol }'
}
declare -A DPID
for b in "${BINS[@]}"; do
	mkdir -p "$WORK/d-$b"
	LOCKWATCH_CONFIG_DIR="$WORK/d-$b/config" LOCKWATCH_DATA_DIR="$WORK/d-$b/data" \
		LOCKWATCH_RUNTIME_DIR="$WORK/d-$b/run" LOCKWATCH_NOTIFY_ENABLED=false \
		"$WORK/$b" daemon --headless >"$WORK/d-$b/log" 2>&1 &
	DPID[$b]=$!
	echo "${DPID[$b]}" >>"$WORK/daemons"
done
stop_daemons() {
	local p
	while read -r p; do kill -TERM "$p" 2>/dev/null || true; done <"$WORK/daemons"
	while read -r p; do wait "$p" 2>/dev/null || true; done <"$WORK/daemons"
}
trap 'stop_daemons; cleanup' EXIT
sleep 2

DROWS=()
daemon_state() { # $1: label
	local b s0 s1
	sleep "$SETTLE"
	declare -A before
	for b in "${BINS[@]}"; do before[$b]=$(schedstat "${DPID[$b]}"); done
	sleep "$DAEMON_SECS"
	local cells=""
	for b in "${BINS[@]}"; do
		s1=$(schedstat "${DPID[$b]}")
		s0=${before[$b]}
		cells+=$(awk -v a="$s0" -v b="$s1" -v t="$DAEMON_SECS" 'BEGIN {
			split(a, x, " "); split(b, y, " ")
			ns = y[1] - x[1]; runs = y[2] - x[2]; vol = y[3] - x[3]
			printf " %.2f/s (%.2f runs/s) | %.2f CPU-s/h (%.3f%% of a core) |",
				vol / t, runs / t, ns / 1e9 * 3600 / t, ns / 1e7 / t }')
	done
	DROWS+=("| $1 |$cells")
	echo "${DROWS[-1]}" >&2
}

daemon_state "idle (nothing held)"
rm -f "$WORK/hold.ready"
python3 "$LOAD" hold --pids "$PIDFILE" --ready "$WORK/hold.ready" "$CACHE" &
wait_ready "$WORK/hold.ready"
daemon_state "held (1 lock, nobody waits)"
start flock -x "$CACHE" true
wait_waiters 1
daemon_state "contended (1 lock, 1 waiter)"
stop_started
start_holder 100
daemon_state "100 held"
stop_started
start_holder 100 wait
daemon_state "100 held + contended"
stop_started

echo
echo "## daemon: wakeups per second and CPU per hour, every thread ($DAEMON_SECS s per state)"
echo "wakeups: voluntary context switches (runs: schedstat run count); CPU: schedstat ns"
header="| state |"
sep="|---|"
for b in "${BINS[@]}"; do
	header+=" $b wakeups | $b CPU |"
	sep+="---|---|"
done
echo "$header"
echo "$sep"
printf '%s\n' "${DROWS[@]}"
