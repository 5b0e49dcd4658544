#!/usr/bin/env bash
# Regenerates every PNG under assets/icons/png/ from the SVG sources next to this script.
#
#   assets/icons/render.sh           re-render in place
#   assets/icons/render.sh --check   render into a temp dir and fail (exit 1) if any committed PNG
#                                    differs or is missing or extra (CI runs this)
#
# Needs rsvg-convert (Debian/Ubuntu: librsvg2-bin; macOS: brew install librsvg). Output is
# byte-identical for a given librsvg version; if the versions differ, --check falls back to a
# pixel comparison with ImageMagick's `compare` when it is installed.
#
# Files, for each state in idle held contended stale paused:
#   <state>-22.png, <state>-22@2x.png                   colour, macOS menu bar size (22 pt)
#   <state>-template-22.png, <state>-template-22@2x.png black + alpha, macOS template images
#   <state>-32.png, <state>-32@2x.png                   colour, Linux tray size
# under png/, and app-512.png, app-1024.png (next to this script) for the macOS .app bundle's icns.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
states=(idle held contended stale paused)

mode=render
case "${1:-}" in
  "") ;;
  --check) mode=check ;;
  -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v rsvg-convert >/dev/null 2>&1; then
  echo "render.sh: rsvg-convert not found (install librsvg2-bin or librsvg)" >&2
  exit 2
fi

# $out mirrors assets/icons/: state icons in $out/png, the app icon images at the top.
if [[ $mode == check ]]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
else
  out="$here"
fi
mkdir -p "$out/png"

render() { # svg size dest [extra rsvg-convert args…]
  local svg=$1 size=$2 dest=$3
  shift 3
  rsvg-convert "$@" --width "$size" --height "$size" --keep-aspect-ratio \
    --background-color none --output "$out/$dest" "$here/$svg"
}

for s in "${states[@]}"; do
  render "$s.svg" 22 "png/$s-22.png"
  render "$s.svg" 44 "png/$s-22@2x.png"
  render "$s.svg" 22 "png/$s-template-22.png" --stylesheet "$here/template.css"
  render "$s.svg" 44 "png/$s-template-22@2x.png" --stylesheet "$here/template.css"
  render "$s.svg" 32 "png/$s-32.png"
  render "$s.svg" 64 "png/$s-32@2x.png"
done
render app.svg 512 app-512.png
render app.svg 1024 app-1024.png

if [[ $mode == render ]]; then
  echo "rendered $(find "$out" -name '*.png' | wc -l | tr -d ' ') PNGs under $out (rsvg-convert $(rsvg-convert --version | awk '{print $NF}'))"
  exit 0
fi

status=0
same_pixels() { # a b
  command -v compare >/dev/null 2>&1 || return 1
  local diff
  diff="$(compare -metric AE -fuzz 1% "$1" "$2" null: 2>&1 || true)"
  [[ $diff == 0 ]]
}
check_one() { # committed fresh label
  local committed=$1 fresh=$2 label=$3
  if [[ ! -f $committed ]]; then
    echo "missing: $label (run assets/icons/render.sh)"; status=1
  elif ! cmp -s "$committed" "$fresh"; then
    if same_pixels "$committed" "$fresh"; then
      echo "note: $label differs in bytes but not in pixels (another librsvg version?)"
    else
      echo "stale: $label differs from its SVG source (run assets/icons/render.sh)"; status=1
    fi
  fi
}
for fresh in "$out"/png/*.png "$out"/*.png; do
  name="${fresh#"$out"/}"
  check_one "$here/$name" "$fresh" "$name"
done
for committed in "$here"/png/*.png; do
  [[ -e $committed ]] || continue
  name="$(basename "$committed")"
  if [[ ! -f "$out/png/$name" ]]; then
    echo "extra: png/$name has no SVG source (delete it or add it to render.sh)"; status=1
  fi
done
if [[ $status == 0 ]]; then
  echo "icons up to date ($(find "$out" -name '*.png' | wc -l | tr -d ' ') PNGs)"
fi
exit $status
