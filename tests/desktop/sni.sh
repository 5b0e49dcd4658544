#!/usr/bin/env bash
# Desktop run on a StatusNotifierItem host (what GNOME's AppIndicator extension, KDE and waybar
# are): Xvfb, a D-Bus session, status-notifier-watcher and gtk-sni-tray-standalone (Debian's
# haskell-status-notifier-item-utils and haskell-gtk-sni-tray-utils), the daemon built with the
# `tray-sni` feature, a stopped lock holder and a real waiting cargo. Checks the item's id, that
# its tooltip gives the verdict, that the icon changes colour, that the menu (dbusmenu) offers
# Terminate for the blocker, that clicking it kills the blocker and lets cargo proceed, and that
# the icon is registered again when the watcher restarts.
#   bash tests/desktop/sni.sh BINARY   (BINARY built with --features tray-sni)
set -euo pipefail
bin=$(readlink -f "$1")
work=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
for n in $(seq 121 160); do [ -e "/tmp/.X$n-lock" ] || [ -e "/tmp/.X11-unix/X$n" ] || { disp=$n; break; }; done
export CARGO_HOME=$work/home LOCKWATCH_RUNTIME_DIR=$work/run LOCKWATCH_DATA_DIR=$work/data \
  LOCKWATCH_CONFIG_DIR=$work/cfg LOCKWATCH_STALE_STOPPED_GRACE=1s LOCKWATCH_STALE_SAMPLE_INTERVAL=300ms \
  LOCKWATCH_STALE_SAMPLES=2 LOCKWATCH_WATCH_POLL_INTERVAL=300ms LOCKWATCH_NOTIFY_ENABLED=false \
  DISPLAY=:$disp WORK=$work BIN=$bin
mkdir -p "$CARGO_HOME" "$work/app/src"; touch "$CARGO_HOME/.package-cache"
printf '[package]\nname = "app"\nversion = "0.1.0"\nedition = "2021"\n' > "$work/app/Cargo.toml"
echo 'fn main() {}' > "$work/app/src/main.rs"
Xvfb :$disp -screen 0 640x240x24 >/dev/null 2>&1 & sleep 1
# The icon sits at the host's left edge, at the bottom of the screen.
mean() { convert "$1" -crop 30x30+0+210 +repage -format '%[fx:mean.r] %[fx:mean.g] %[fx:mean.b]' info:; }
export -f mean
fail() { echo "FAIL: $*"; echo "--- daemon.log"; cat "$work/daemon.log"; echo "--- tooltip"; cat "$work/tooltip" 2>/dev/null; exit 1; }
dbus-run-session -- bash -c '
  set -euo pipefail
  # Whatever this session started ends with it, even when a check fails.
  trap "kill \$(jobs -p) 2>/dev/null || true" EXIT
  status-notifier-watcher >/dev/null 2>&1 & watcher=$!; sleep 1
  gtk-sni-tray-standalone --bottom >/dev/null 2>&1 & sleep 1
  "$BIN" daemon > "$WORK/daemon.log" 2>&1 &
  items() { gdbus call --session --dest org.kde.StatusNotifierWatcher --object-path /StatusNotifierWatcher \
    --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierWatcher RegisteredStatusNotifierItems; }
  for i in $(seq 1 80); do items | grep -q StatusNotifierItem && break; sleep 0.25; done
  svc=$(items | grep -oE "org\.kde\.StatusNotifierItem-[0-9]+-[0-9]+" | head -1)
  prop() { gdbus call --session --dest "$svc" --object-path /StatusNotifierItem \
    --method org.freedesktop.DBus.Properties.Get org.kde.StatusNotifierItem "$1" | sed "s/\[byte[^]]*\]/[bytes]/g"; }
  prop Id > "$WORK/id"
  sleep 1; import -window root "$WORK/idle.png"
  flock -x "$CARGO_HOME/.package-cache" sleep 600 & holder=$!; sleep 0.5
  kill -STOP $holder
  (cd "$WORK/app" && exec cargo generate-lockfile --offline) > "$WORK/cargo.log" 2>&1 &
  for i in $(seq 1 120); do prop ToolTip | grep -q "STALE: flock $holder" && break; sleep 0.25; done
  prop ToolTip > "$WORK/tooltip"
  sleep 1; import -window root "$WORK/stale.png"
  menu=$(prop Menu | sed -E "s/.*'"'"'(\/[^'"'"']*)'"'"'.*/\1/")
  gdbus call --session --dest "$svc" --object-path "$menu" --method com.canonical.dbusmenu.GetLayout \
    -- 0 -1 "@as []" > "$WORK/layout"
  id=$(grep -oE "\(([0-9]+), \{[^}]*'"'"'label'"'"': <'"'"'Terminate flock $holder'"'"'>" "$WORK/layout" \
    | head -1 | grep -oE "^\([0-9]+" | tr -d "(")
  echo "holder=$holder terminate_item=$id" > "$WORK/pids"
  [ -n "$id" ] && gdbus call --session --dest "$svc" --object-path "$menu" \
    --method com.canonical.dbusmenu.Event -- "$id" clicked "<@s \"\">" 0 >/dev/null
  for i in $(seq 1 40); do [ -e "$WORK/app/Cargo.lock" ] && break; sleep 0.5; done
  # The panel restarts its watcher (at once: the new one misses a registration made while it
  # starts up): the icon must be listed again. A watcher started while the old one still owns
  # the bus name exits at once, so the old one must be gone first (slow on a loaded machine).
  kill $watcher; wait $watcher 2>/dev/null || true
  owned() { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner org.kde.StatusNotifierWatcher | grep -q true; }
  for i in $(seq 1 40); do owned || break; sleep 0.25; done
  status-notifier-watcher > "$WORK/watcher.log" 2>&1 &
  for i in $(seq 1 60); do items 2>/dev/null | grep -q "$svc" && break; sleep 0.25; done
  items > "$WORK/items-after-restart" 2>&1 || true
  ! kill -0 $holder 2>/dev/null || touch "$WORK/holder-alive"
  "$BIN" daemon --stop >/dev/null || true; sleep 1
' || fail "a step of the desktop session failed (exit $?): see the lines above"
grep -q "(menu bar:" "$work/daemon.log" || fail "the daemon ran headless: build the binary with --features tray-sni"
grep -q "'cargo-lockwatch'" "$work/id" || fail "the item's id is $(cat "$work/id"), not cargo-lockwatch"
. "$work/pids"
grep -q "STALE: flock $holder" "$work/tooltip" || fail "the tooltip does not give the verdict"
idle=$(mean "$work/idle.png"); stale=$(mean "$work/stale.png")
echo "SNI icon mean colour: idle [$idle] stale [$stale]"
[ "$idle" != "$stale" ] || fail "the icon did not change"
[ -n "$terminate_item" ] || fail "the menu has no 'Terminate flock $holder': $(grep -o "'label': <'[^']*'>" "$work/layout" | head -20)"
[ -e "$work/app/Cargo.lock" ] || fail "the waiting cargo did not proceed after Terminate"
[ ! -e "$work/holder-alive" ] || fail "holder $holder still alive"
grep -q StatusNotifierItem "$work/items-after-restart" \
  || fail "the icon was not registered again after the watcher restarted: $(cat "$work/items-after-restart" "$work/watcher.log")"
echo "desktop SNI e2e: 6 passed, 0 failed"
