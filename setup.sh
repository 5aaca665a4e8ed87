#!/usr/bin/env bash
# Set up windvane on a fresh Debian machine: system packages, a virtualenv, the package.
# Idempotent: rerunning it only installs what is missing. Never runs `playwright install`:
# the browser is Debian's Chromium (/usr/bin/chromium), driven by Python Playwright.
set -euo pipefail
cd "$(dirname "$0")"

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
APT_PKGS="chromium fonts-noto-cjk antiword catdoc redis-server"
missing=""
for p in $APT_PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "setup: installing Debian packages:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]' 2>&1 | grep -v "is ignored: it is neither" || true
.venv/bin/python -c "import windvane, scrapy, playwright" 
echo "setup: done. Run .venv/bin/windvane demo"
