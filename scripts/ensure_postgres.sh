#!/usr/bin/env bash
# Install PostgreSQL server binaries (initdb, pg_ctl) from Debian packages for the storage tests; no-op if present.
# The tests start their own throwaway cluster; nothing here starts a server.
set -euo pipefail
for bin in /usr/lib/postgresql/*/bin; do
  if [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ]; then exit 0; fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "error: PostgreSQL is not installed and installing it needs root: sudo apt-get install -y postgresql" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql >/dev/null
ls /usr/lib/postgresql/*/bin/initdb >/dev/null
