#!/usr/bin/env bash
# Runs lint, the whole suite on PostgreSQL + Redis, then the API suite on SQLite.
# Expects TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL, as scripts/with-services.sh sets.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=.venv/bin

echo "== lint (ruff, mypy)"
"$bin/ruff" check .
"$bin/mypy"

echo "== whole suite on PostgreSQL + Redis"
"$bin/pytest" -q -p no:cacheprovider tests

echo "== API, integration and end-to-end suites on SQLite"
sqlite_dir=$(mktemp -d)
trap 'rm -rf "$sqlite_dir"' EXIT
TEST_DATABASE_URL="sqlite://$sqlite_dir/test.sqlite3" \
  "$bin/pytest" -q -p no:cacheprovider tests/api tests/integration tests/e2e
