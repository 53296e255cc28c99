#!/usr/bin/env bash
# Idempotently install what the real-component tests need (each script checks before installing).
set -euo pipefail
cd "$(dirname "$0")/.."
for s in scripts/ensure_postgres.sh scripts/ensure_chromium.sh; do
  if [ -f "$s" ]; then bash "$s"; fi
done
