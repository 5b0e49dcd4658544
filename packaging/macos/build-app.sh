#!/usr/bin/env bash
# Builds Lockwatch.app around the release binary: Contents/MacOS/cargo-lockwatch,
# Contents/Info.plist (from packaging/macos/Info.plist, version from Cargo.toml, LSUIElement so
# there is no Dock icon) and Contents/Resources/app.icns when an icon is available.
#
# macOS shows notifications only for a process with a bundle identifier, so the login agent
# should run the binary inside the bundle:
#   packaging/macos/build-app.sh && mv target/app/Lockwatch.app /Applications/
#   /Applications/Lockwatch.app/Contents/MacOS/cargo-lockwatch install
#
# Usage: build-app.sh [--binary PATH] [--out DIR] [--sign IDENTITY]
#   --binary PATH    bundle this binary instead of running `cargo build --release`
#   --out DIR        where Lockwatch.app goes (default: target/app)
#   --sign IDENTITY  codesign identity ("Developer ID Application: …"); default: ad-hoc ("-")
#                    when codesign exists. A real identity also enables the hardened runtime
#                    and a secure timestamp, as notarization requires.
# Environment: FEATURES (default "tray"), CARGO_TARGET_DIR, LSREGISTER (LaunchServices'
#   registration tool; default: the system's, which exists on macOS only).
#
# On macOS the bundle is registered with LaunchServices (`lsregister -f`): macOS shows a
# notification as the app whose bundle id LaunchServices knows, else as Terminal's (or drops
# it). Elsewhere the registration is skipped with a message.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$root/target}
binary=""
out="$target_dir/app"
identity="-"

while [ $# -gt 0 ]; do
  case "$1" in
    --binary) binary=${2:?--binary needs a path}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --sign) identity=${2:?--sign needs an identity}; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-app.sh: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
done

version=$(awk '
  /^\[package\]/ { in_package = 1; next }
  /^\[/ { in_package = 0 }
  in_package && /^version[[:space:]]*=/ {
    sub(/^version[[:space:]]*=[[:space:]]*"/, ""); sub(/".*$/, ""); print; exit
  }' "$root/Cargo.toml")
if [ -z "$version" ]; then
  echo "build-app.sh: cannot read the package version from $root/Cargo.toml" >&2
  exit 1
fi

if [ -z "$binary" ]; then
  features=${FEATURES-tray}
  echo "building cargo-lockwatch $version (release, features: ${features:-none})"
  cargo build --release --locked --manifest-path "$root/Cargo.toml" \
    ${features:+--features "$features"}
  binary="$target_dir/release/cargo-lockwatch"
fi
if [ ! -x "$binary" ]; then
  echo "build-app.sh: $binary is not an executable; build it first or pass --binary" >&2
  exit 1
fi

app="$out/Lockwatch.app"
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
cp "$binary" "$app/Contents/MacOS/cargo-lockwatch"
chmod 755 "$app/Contents/MacOS/cargo-lockwatch"
sed "s/{{VERSION}}/$version/g" "$here/Info.plist" > "$app/Contents/Info.plist"
printf 'APPL????' > "$app/Contents/PkgInfo"

icns="$root/assets/icons/app.icns"
png="$root/assets/icons/app-1024.png"
if [ -f "$icns" ]; then
  cp "$icns" "$app/Contents/Resources/app.icns"
  echo "icon: assets/icons/app.icns"
elif [ -f "$png" ] && command -v sips >/dev/null && command -v iconutil >/dev/null; then
  iconset=$(mktemp -d)/app.iconset
  mkdir -p "$iconset"
  for size in 16 32 128 256 512; do
    sips -z "$size" "$size" "$png" --out "$iconset/icon_${size}x${size}.png" >/dev/null
    double=$((size * 2))
    sips -z "$double" "$double" "$png" --out "$iconset/icon_${size}x${size}@2x.png" >/dev/null
  done
  iconutil -c icns "$iconset" -o "$app/Contents/Resources/app.icns"
  rm -rf "$(dirname "$iconset")"
  echo "icon: generated from assets/icons/app-1024.png (add assets/icons/app.icns to pin it)"
else
  echo "note: no app icon: assets/icons/app.icns does not exist (and sips/iconutil cannot make" \
       "one from app-1024.png here); the bundle shows the generic icon" >&2
fi

if command -v plutil >/dev/null; then
  plutil -lint "$app/Contents/Info.plist" >/dev/null
fi
if command -v codesign >/dev/null; then
  if [ "$identity" = "-" ]; then
    codesign --force --sign - "$app"
  else
    codesign --force --options runtime --timestamp --sign "$identity" "$app"
  fi
  echo "signed with ${identity/#-/an ad-hoc signature}"
fi

lsregister=${LSREGISTER:-/System/Library/Frameworks/CoreServices.framework/Frameworks/LaunchServices.framework/Support/lsregister}
if [ -x "$lsregister" ]; then
  "$lsregister" -f "$app"
  echo "registered with LaunchServices ($lsregister -f): notifications show as Lockwatch"
elif [ "$(uname -s)" = Darwin ]; then
  echo "warning: $lsregister is missing, so the bundle is not registered with LaunchServices;" \
       "notifications may show as Terminal's until the app is opened once in Finder" >&2
else
  echo "not registered with LaunchServices: this is not macOS (there, lsregister -f registers it)"
fi

echo "built $app (version $version)"
echo "next: move it to /Applications, then run" \
     "/Applications/Lockwatch.app/Contents/MacOS/cargo-lockwatch install" \
     "(after a move, \`lsregister -f /Applications/Lockwatch.app\` updates the registration)"
