#!/usr/bin/env bash
# Set up everything (venv, dependencies, database, migrations, demo data) and run web + workers + beat.
# Ctrl-C stops them all.
source "$(dirname "$0")/_common.sh"
export DEBUG="${DEBUG:-true}"
ensure_venv
ensure_postgres
ensure_redis
say "Migrating the database"
"$PY" manage.py migrate --noinput
say "Loading the demo data"
"$PY" manage.py seed_demo
mkdir -p var  # beat's schedule file and uploaded media live here (git ignores it)
say "Starting web (http://127.0.0.1:${PORT:-8000}), workers and beat; Ctrl-C stops them"
export PORT="${PORT:-8000}"
exec "$VENV/bin/honcho" -f Procfile start
