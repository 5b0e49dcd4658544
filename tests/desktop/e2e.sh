#!/usr/bin/env bash
# Desktop end-to-end run on Linux (issue: tray + notifications): Xvfb, a system tray (trayer),
# a D-Bus session with a real notification server (dunst), the daemon with its tray, an idle
# lock holder and a real waiting cargo. Checks that the tray icon changes colour, that the
# notification names the waiting cargo and its blocker, that its Terminate action (the menu's path)
# kills the holder and the waiting cargo proceeds. Saves screenshots under docs/ when asked.
#   bash tests/desktop/e2e.sh BINARY [--screenshots]
set -euo pipefail
bin=$(readlink -f "$1"); shots=${2:-}
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
# A display number nobody uses (a crashed run may have left its X lock behind).
for n in $(seq 87 120); do [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { disp=$n; break; }; done
export CARGO_HOME=$work/home LOCKWATCH_RUNTIME_DIR=$work/run LOCKWATCH_DATA_DIR=$work/data \
  LOCKWATCH_CONFIG_DIR=$work/cfg LOCKWATCH_STALE_STOPPED_GRACE=1s LOCKWATCH_STALE_SAMPLE_INTERVAL=300ms \
  LOCKWATCH_STALE_STALE_AFTER=2s LOCKWATCH_STALE_IDLE_WINDOW=1s LOCKWATCH_STALE_IDLE_CHILD_AFTER=1s \
  LOCKWATCH_STALE_SAMPLES=2 LOCKWATCH_WATCH_POLL_INTERVAL=300ms DISPLAY=:$disp
mkdir -p "$CARGO_HOME" "$work/app/src"; touch "$CARGO_HOME/.package-cache"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n' > "$work/app/Cargo.toml"
echo 'fn main() {}' > "$work/app/src/main.rs"
cp -r "$work/app" "$work/app2"; sed -i 's/"app"/"app2"/' "$work/app2/Cargo.toml"
Xvfb :$disp -screen 0 640x240x24 >/dev/null 2>&1 & sleep 1
trayer --edge top --align right --widthtype request --height 32 --transparent false --tint 0xffffff >/dev/null 2>&1 & sleep 1
mean() { convert "$1" -crop 32x32+608+0 +repage -format '%[fx:mean.r] %[fx:mean.g] %[fx:mean.b]' info:; }
fail() { echo "FAIL: $*"; echo "--- daemon.log"; cat "$work/daemon.log"; echo "--- notifications"; cat "$work/mon.log" | head -40; exit 1; }
dbus-run-session -- bash -c '
  set -euo pipefail
  # Whatever this session started ends with it, even when a check fails.
  trap "kill \$(jobs -p) 2>/dev/null || true" EXIT
  dunst >/dev/null 2>&1 & sleep 0.5
  dbus-monitor "interface='"'"'org.freedesktop.Notifications'"'"'" > "'"$work"'/mon.log" 2>&1 &
  "'"$bin"'" daemon > "'"$work"'/daemon.log" 2>&1 & sleep 3
  import -window root "'"$work"'/idle.png"
  # Idle, not stopped: the notification about a stopped holder offers Resume first, which dunstctl
  # cannot tell from Terminate.
  flock -x "$CARGO_HOME/.package-cache" sleep 600 & holder=$!; sleep 0.5
  # Only our notification may be on screen when its Terminate is pressed: the daemon sees every
  # lock on the machine, and another stale lock would be notified too.
  dunstctl close-all || true
  (cd "'"$work"'/app" && exec cargo generate-lockfile --offline) > "'"$work"'/cargo.log" 2>&1 & waiter=$!
  for i in $(seq 1 60); do grep -q "blocked by flock $holder" "'"$work"'/mon.log" 2>/dev/null && break; sleep 0.5; done
  sleep 1; import -window root "'"$work"'/stale.png"
  echo "holder=$holder waiter=$waiter" > "'"$work"'/pids"
  # Is the menu open? Its window is ours, mapped, and taller than the tray icon.
  menu_open() {
    for w in $(xdotool search --onlyvisible --classname cargo-lockwatch 2>/dev/null); do
      xdotool getwindowgeometry "$w"; done | grep -E "Geometry: [0-9]+x([5-9][0-9]|[0-9]{3})" >/dev/null
  }
  xdotool mousemove 623 16 click 3; sleep 1; import -window root "'"$work"'/menu.png"
  menu_open && echo opened >> "'"$work"'/menu.log"
  # A second cargo starts waiting while the menu is open: a new row, and the menu stays open.
  (cd "'"$work"'/app2" && exec cargo generate-lockfile --offline) > "'"$work"'/cargo2.log" 2>&1 &
  sleep 2.5; menu_open && echo "still open" >> "'"$work"'/menu.log"; xdotool key Escape || true
  # Never press a notification about a process this test did not start.
  if [ "$(dunstctl count displayed)" = 1 ]; then dunstctl action 0 || true
  else echo "other notifications on screen: $(dunstctl count displayed)" > "'"$work"'/not-pressed"; fi
  for i in $(seq 1 40); do [ -e "'"$work"'/app/Cargo.lock" ] && break; sleep 0.5; done
  sleep 0.5; ! kill -0 $holder 2>/dev/null || touch "'"$work"'/holder-alive"
  "'"$bin"'" daemon --stop >/dev/null || true; sleep 1
' || fail "a step of the desktop session failed (exit $?): see the lines above"
grep -q "(menu bar:" "$work/daemon.log" || fail "the daemon ran headless: build the binary with --features tray"
[ ! -e "$work/not-pressed" ] || fail "$(cat "$work/not-pressed"): other stale Cargo locks on this machine?"
grep -q opened "$work/menu.log" || fail "the menu did not open"
grep -q "still open" "$work/menu.log" || fail "the open menu closed when a second cargo started waiting"
idle=$(mean "$work/idle.png"); stale=$(mean "$work/stale.png")
echo "tray icon mean colour: idle [$idle] stale [$stale]"
[ "$idle" != "$stale" ] || fail "tray icon did not change"
grep -q 'string "cargo generate-lockfile in .* waits .*blocked by flock' "$work/mon.log" \
  || fail "no notification naming the waiting cargo and the blocker"
grep -q '"terminate"' "$work/mon.log" || fail "notification has no Terminate action"
[ -e "$work/app/Cargo.lock" ] || fail "the waiting cargo did not proceed after Terminate"
for i in $(seq 1 20); do [ -e "$work/app2/Cargo.lock" ] && break; sleep 0.5; done
[ -e "$work/app2/Cargo.lock" ] || fail "the second waiting cargo did not proceed after Terminate"
[ -n "$(find "$work/run" -name '*.png' 2>/dev/null)" ] || [ -n "$(find "$work/run" -path '*tray-icons*' 2>/dev/null)" ] \
  || fail "the tray's icon files are not in our runtime dir"
. "$work/pids"; [ ! -e "$work/holder-alive" ] || fail "holder $holder still alive"
if [ "$shots" = --screenshots ]; then
  convert "$work/stale.png" -crop 640x40+0+0 "$root/docs/tray-stale.png"
  cp "$work/menu.png" "$root/docs/tray-menu-live.png"
fi
echo "desktop e2e: 5 passed, 0 failed"
