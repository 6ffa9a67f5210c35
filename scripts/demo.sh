#!/usr/bin/env bash
# The sample year end to end on local defaults: generate a synthetic 2022 archive,
# backfill it through Dagster (recorded in ./dagster_home), write data/reports/2022/.
# SCALE (default 0.01, about 10 million calls) and SEED can be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export GX_ANALYTICS_ENABLED=false
SCALE="${SCALE:-0.01}"
SEED="${SEED:-2022}"
if [ ! -f data/truth/manifest.json ] || ! grep -q "\"scale\": $SCALE," data/truth/manifest.json \
   || ! grep -q "\"seed\": $SEED," data/truth/manifest.json; then
  rm -rf data/raw data/truth data/contracts.yaml
  .venv/bin/callaudit generate --scale "$SCALE" --seed "$SEED" --out data
fi
.venv/bin/callaudit backfill --start 2022-01-01 --end 2022-12-31
if [ -f data/truth/flags.csv ]; then
  .venv/bin/callaudit evaluate --truth data/truth
fi
