#!/usr/bin/env bash
# Run the whole test suite against the local PostgreSQL and Redis. Extra arguments go to pytest.
source "$(dirname "$0")/_common.sh"
ensure_venv
ensure_postgres
ensure_redis
ensure_chromium
exec "$VENV/bin/pytest" "$@"
