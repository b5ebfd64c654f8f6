#!/usr/bin/env bash
# Installs what prsim needs on a fresh Debian (or Ubuntu) machine.
#
#   bash scripts/setup-debian.sh          # everything the tests need
#   bash scripts/setup-debian.sh --demo   # only what `make demo` needs
#
# --demo: make, a C toolchain and OpenSSL headers (the TPM simulator is cgo).
# Default: also swtpm, ffmpeg, chromium and xmllint (report tests), Node.js
# and npm, and shaka-packager 3.4.2 from npm into the project-local .tools/.
#
# Runs as root as is (no sudo needed); as another user it uses sudo if
# installed. apt-get update runs first when something is missing, so a
# machine whose package lists were never fetched works; when everything is
# present the script installs nothing and takes about a second.
# Go 1.26 itself must already be installed in /usr/local/go (Debian's own Go
# package is older): https://go.dev/doc/install.
set -euo pipefail
cd "$(dirname "$0")/.."

demo=0
case "${1:-}" in
  "") ;;
  --demo) demo=1 ;;
  *) echo "usage: $0 [--demo]" >&2; exit 2 ;;
esac

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "setup-debian.sh: not root and sudo is not installed: run this script as root" >&2
    exit 1
  fi
fi

pkgs=(make gcc libc6-dev libssl-dev)
if [ "$demo" -eq 0 ]; then
  pkgs+=(ffmpeg swtpm swtpm-tools chromium libxml2-utils ca-certificates)
  command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm)
fi
missing=()
for p in "${pkgs[@]}"; do
  # "install ok installed": dpkg -s also succeeds for removed-but-configured packages.
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup-debian.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$demo" -eq 0 ]; then
  packager=.tools/node_modules/shaka-packager/bin/packager-linux-x64
  if [ ! -x "$packager" ]; then
    mkdir -p .tools
    (cd .tools && npm install --no-audit --no-fund --loglevel=error shaka-packager@3.4.2)
  fi
  "$packager" --version >/dev/null
fi

go=go
command -v go >/dev/null 2>&1 || go=/usr/local/go/bin/go
if ! "$go" version >/dev/null 2>&1; then
  echo "setup-debian.sh: Go 1.26 is not installed: put it in /usr/local/go (https://go.dev/doc/install)" >&2
  exit 1
fi
if [ "$demo" -eq 1 ]; then
  echo "setup done: make, gcc, libssl-dev; $("$go" version)"
else
  echo "setup done: make, gcc, libssl-dev, ffmpeg, swtpm, chromium, xmllint, shaka-packager 3.4.2; $("$go" version)"
fi
