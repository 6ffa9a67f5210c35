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
# The sample archive is the closed year 2022: the graph gets exactly its days.
export CALLAUDIT_LAST_DAY="${CALLAUDIT_LAST_DAY:-2022-12-31}"
exec .venv/bin/callaudit dev --port "${PORT:-3000}"
