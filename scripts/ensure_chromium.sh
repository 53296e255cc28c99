#!/usr/bin/env bash
# Install Debian's chromium (for the headless report/browser tests) when /usr/bin/chromium is missing.
# Idempotent and quiet: does nothing when Chromium is already there. Needs root (or sudo) and apt.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "ensure_chromium: /usr/bin/chromium missing and not root (no sudo); install the 'chromium' package" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null

if [ ! -x /usr/bin/chromium ]; then
  echo "ensure_chromium: apt installed 'chromium' but /usr/bin/chromium is still missing" >&2
  exit 1
fi
