#!/usr/bin/env bash
# Installs the reference tools the tests cross-check against (dtc, python3-libfdt for
# /usr/bin/python3, tmux, hexdump, and chromium for the `kho serve` page tests) when they are
# missing. Runs before `npm test`.
set -euo pipefail
need=()
command -v dtc >/dev/null || need+=(device-tree-compiler)
/usr/bin/python3 -c 'import libfdt' 2>/dev/null || need+=(python3-libfdt)
command -v tmux >/dev/null || need+=(tmux)
command -v hexdump >/dev/null || need+=(bsdextrautils)
[ -x /usr/bin/chromium ] || need+=(chromium)
((${#need[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "tests need: ${need[*]} (Debian packages); install them and run again" >&2
  exit 1
fi
echo "installing test tools: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
