#!/usr/bin/env bash
# Create .venv and install callaudit with its test tools. Idempotent; safe to re-run.
# Set CALLAUDIT_INSTALL_BROWSER=1 to also install Debian's chromium (needs root + apt),
# which the report's PDF rendering and the browser tests use, and
# CALLAUDIT_INSTALL_SERVICES=1 to install Debian's postgresql and redis-server, which the
# scale-out tests (tests/scaleout) start on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.callaudit-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".[dev,celery]"
  touch "$stamp"
fi

if [ "${CALLAUDIT_INSTALL_BROWSER:-0}" = "1" ] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
  else
    echo "setup: chromium not installed (needs root and apt-get); browser tests will skip" >&2
  fi
fi

if [ "${CALLAUDIT_INSTALL_SERVICES:-0}" = "1" ] \
   && { [ -z "$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" ] || ! command -v redis-server >/dev/null 2>&1; }; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  else
    echo "setup: postgresql/redis-server not installed (needs root and apt-get); scale-out tests will skip" >&2
  fi
fi
