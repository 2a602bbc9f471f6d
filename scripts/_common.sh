# Shared set-up steps of scripts/start.sh, scripts/test.sh and .ci/run. Source it; do not run it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
DB_HOST="${DB_HOST:-127.0.0.1}"
DB_PORT="${DB_PORT:-5432}"
DB_USER="${DB_USER:-portal}"
DB_NAME="${DB_NAME:-portal}"
REDIS_HOST="${REDIS_HOST:-127.0.0.1}"
REDIS_PORT="${REDIS_PORT:-6379}"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mERROR: %s\033[0m\n' "$*" >&2; exit 1; }

ensure_venv() {
  if [ ! -x "$PY" ]; then
    say "Creating the virtualenv in $VENV"
    python3 -m venv "$VENV" || die "python3 -m venv failed: install Python 3.11 with venv (apt-get install python3-venv)."
  fi
  local stamp="$VENV/.requirements.sha"
  local want
  want="$(sha256sum requirements.lock | cut -d' ' -f1)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    say "Installing the pinned dependencies (requirements.lock)"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -r requirements.lock
    echo "$want" > "$stamp"
  fi
}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

ensure_postgres() {
  if ! port_open "$DB_HOST" "$DB_PORT"; then
    if [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null && [ "$DB_HOST" = 127.0.0.1 ]; then
      say "Starting PostgreSQL"
      pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
      for _ in $(seq 1 30); do port_open "$DB_HOST" "$DB_PORT" && break; sleep 1; done
    fi
  fi
  port_open "$DB_HOST" "$DB_PORT" || die "PostgreSQL is not reachable on $DB_HOST:$DB_PORT.
  Start it, e.g.: pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start
  (Debian: apt-get install postgresql), or point DB_HOST/DB_PORT at a running server."
  if command -v psql >/dev/null; then
    local admin="${PGADMIN_USER:-postgres}"
    if psql -h "$DB_HOST" -p "$DB_PORT" -U "$admin" -d postgres -tAc "select 1" >/dev/null 2>&1; then
      if [ "$(psql -h "$DB_HOST" -p "$DB_PORT" -U "$admin" -d postgres -tAc "select 1 from pg_roles where rolname='$DB_USER'")" != 1 ]; then
        say "Creating database role $DB_USER"
        psql -h "$DB_HOST" -p "$DB_PORT" -U "$admin" -d postgres -qc "create role \"$DB_USER\" login createdb"
      fi
      if [ "$(psql -h "$DB_HOST" -p "$DB_PORT" -U "$admin" -d postgres -tAc "select 1 from pg_database where datname='$DB_NAME'")" != 1 ]; then
        say "Creating database $DB_NAME"
        psql -h "$DB_HOST" -p "$DB_PORT" -U "$admin" -d postgres -qc "create database \"$DB_NAME\" owner \"$DB_USER\""
      fi
    fi
  fi
}

ensure_redis() {
  if ! port_open "$REDIS_HOST" "$REDIS_PORT"; then
    if [ "$(id -u)" = 0 ] && command -v redis-server >/dev/null && [ "$REDIS_HOST" = 127.0.0.1 ]; then
      say "Starting Redis"
      mkdir -p /var/lib/redis /var/log/redis
      redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
        --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
      for _ in $(seq 1 20); do port_open "$REDIS_HOST" "$REDIS_PORT" && break; sleep 0.5; done
    fi
  fi
  port_open "$REDIS_HOST" "$REDIS_PORT" || die "Redis is not reachable on $REDIS_HOST:$REDIS_PORT.
  Start it, e.g.: redis-server --daemonize yes --bind 127.0.0.1 --port 6379
  (Debian: apt-get install redis-server), or set REDIS_URL and CELERY_BROKER_URL."
}

ensure_chromium() {
  # Browser tests drive Debian's Chromium; a downloaded browser build is never used.
  if ! command -v chromium >/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      say "Installing Debian's chromium for the browser tests"
      apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
        || say "chromium could not be installed: the browser tests will be skipped"
    else
      say "chromium is not installed (apt-get install chromium): the browser tests will be skipped"
    fi
  fi
}
