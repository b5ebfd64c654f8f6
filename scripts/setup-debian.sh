#!/usr/bin/env bash
# Installs what prsim's tests need on a fresh Debian machine (run as root or
# with sudo): a C toolchain and OpenSSL headers for the TPM simulator (cgo),
# swtpm, ffmpeg and Node.js/npm for the interop test media, and
# shaka-packager 3.4.2 from npm into the project-local .tools/ folder.
# Go 1.26 itself must already be installed (Debian bookworm's is older).
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
pkgs="gcc libc6-dev libssl-dev make ffmpeg swtpm swtpm-tools"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
if [ ! -x .tools/node_modules/shaka-packager/bin/packager-linux-x64 ]; then
  mkdir -p .tools
  (cd .tools && npm install --no-audit --no-fund --loglevel=error shaka-packager@3.4.2)
fi
.tools/node_modules/shaka-packager/bin/packager-linux-x64 --version >/dev/null
echo "setup done: gcc, libssl-dev, ffmpeg, swtpm, shaka-packager 3.4.2"
