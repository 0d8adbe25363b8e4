#!/usr/bin/env bash
# Runs lint, the whole suite on PostgreSQL + Redis, then the API suite on SQLite.
# Expects TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL, as scripts/with-services.sh sets.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

echo "== lint (ruff, mypy)"
"$bin/ruff" check .
"$bin/mypy"

# The date-sensitive suites at two wall-clock hours where the stores' day (Asia/Shanghai,
# UTC+8) and UTC's differ or have just turned: a test that builds a UTC date fails here.
# libfaketime moves the clock of the test process only (servers keep real time).
date_suites=(
  tests/integration/test_doctor.py
  tests/integration/test_subscription_renewals.py
  tests/integration/test_subscription_smoke.py
  tests/integration/test_subscription_concurrency.py
  tests/api/test_subscriptions_api.py
  tests/integration/test_prepaid_subscriptions.py
  tests/integration/test_points_ledger.py
  tests/api/test_points_api.py
  tests/api/test_orders_lifecycle.py
  tests/integration/test_jobs.py
  # engagement: store-local days, months and hours (quiet hours, birthdays, rollups, windows)
  tests/api/test_automations.py
  tests/api/test_automation_birthday_tags.py
  tests/api/test_automations_segments.py
  tests/api/test_automations_caps.py
  tests/api/test_automations_sms.py
  tests/api/test_member_birthday.py
  tests/api/test_tags_facts.py
  tests/api/test_segments.py
  tests/api/test_engagement_metrics.py
  tests/api/test_engagement_metrics_cohorts.py
  tests/api/test_metrics_rollups.py
  tests/api/test_seed_shelf.py
  # growth: group-buy and assist expiry, a guide's reward month
  tests/api/test_group_buys.py
  tests/integration/test_group_buy_concurrency.py
  tests/api/test_assists.py
  tests/api/test_guides.py
)
for hour in 23:30 00:30; do
  echo "== date-sensitive suites with the wall clock at $hour UTC"
  faketime -f "@$(date -u +%F) $hour:00" "$bin/pytest" -q -p no:cacheprovider "${date_suites[@]}"
done

echo "== whole suite on PostgreSQL + Redis"
"$bin/pytest" -q -p no:cacheprovider tests

echo "== API, integration and end-to-end suites on SQLite"
sqlite_dir=$(mktemp -d)
trap 'rm -rf "$sqlite_dir"' EXIT
TEST_DATABASE_URL="sqlite://$sqlite_dir/test.sqlite3" \
  "$bin/pytest" -q -p no:cacheprovider tests/api tests/integration tests/e2e
