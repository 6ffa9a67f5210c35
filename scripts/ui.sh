#!/usr/bin/env bash
# Open the Dagster UI on 127.0.0.1:3000 (PORT to change) with the sample year already
# materialised: runs the demo first if there is no warehouse yet.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -d data/warehouse/usage_daily ]; then
  scripts/demo.sh
fi
scripts/setup.sh
export GX_ANALYTICS_ENABLED=false
# The partitions are the archive's days (2022 for the sample), read from its folders.
# A home made before the template said `nux: enabled: false` gets Dagster's own
# "pop-up seen" mark instead, so the community pop-up does not cover the UI either.
home="${DAGSTER_HOME:-dagster_home}"
if [ -f "$home/dagster.yaml" ] && ! grep -q '^nux:' "$home/dagster.yaml"; then
  mkdir -p "$home/.nux" && echo "seen: 1" > "$home/.nux/nux.yaml"
fi
exec .venv/bin/callaudit dev --port "${PORT:-3000}"
