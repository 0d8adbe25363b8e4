#!/usr/bin/env bash
# Run a command with throwaway PostgreSQL and Redis servers.
#
# Usage: scripts/with-services.sh <command> [args...]
#
# Exports to the command:
#   TEST_DATABASE_URL  postgres://postgres@127.0.0.1:PORT/omnishelf_test
#   PG_ADMIN_URL       postgres://postgres@127.0.0.1:PORT/postgres
#   TEST_REDIS_URL     redis://127.0.0.1:PORT/0
#
# If TEST_DATABASE_URL and TEST_REDIS_URL are both already set, no servers are
# started and the command is run as is.
#
# Missing server binaries (and libfaketime and Node.js with npm, for the tests) are
# installed with apt-get (Debian/Ubuntu). The servers listen on 127.0.0.1 only, on free ports, with all data in a temporary
# directory that is deleted afterwards. Both servers are always stopped, and
# the script exits with the command's exit status.
#
# Optional overrides: PG_BINDIR (directory with initdb/pg_ctl/postgres),
# WITH_SERVICES_USER (unprivileged user for the servers when run as root).

set -euo pipefail

log() { printf 'with-services: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [ "$#" -eq 0 ]; then
    echo "usage: $0 <command> [args...]" >&2
    exit 2
fi

if [ -n "${TEST_DATABASE_URL:-}" ] && [ -n "${TEST_REDIS_URL:-}" ]; then
    log "TEST_DATABASE_URL and TEST_REDIS_URL already set; not starting servers"
    exec "$@"
fi

# ---------------------------------------------------------------- binaries

PG_BIN_NAMES=(initdb pg_ctl postgres)

has_pg_bins() {
    local dir=$1 b
    [ -n "$dir" ] && [ -d "$dir" ] || return 1
    for b in "${PG_BIN_NAMES[@]}"; do
        [ -x "$dir/$b" ] || return 1
    done
}

find_pg_bindir() {
    local dir
    if [ -n "${PG_BINDIR:-}" ] && has_pg_bins "$PG_BINDIR"; then
        echo "$PG_BINDIR"; return 0
    fi
    # Debian layout: /usr/lib/postgresql/<version>/bin, highest version first.
    while IFS= read -r dir; do
        if has_pg_bins "$dir"; then echo "$dir"; return 0; fi
    done < <(compgen -G '/usr/lib/postgresql/*/bin' | sort -t/ -k4,4 -V -r || true)
    if command -v pg_config >/dev/null 2>&1; then
        dir=$(pg_config --bindir 2>/dev/null || true)
        if has_pg_bins "$dir"; then echo "$dir"; return 0; fi
    fi
    if command -v initdb >/dev/null 2>&1; then
        dir=$(dirname "$(command -v initdb)")
        if has_pg_bins "$dir"; then echo "$dir"; return 0; fi
    fi
    return 1
}

apt_lists_empty() {
    ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null
}

apt_install() {
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 \
            || die "need root (or sudo) to install: $*"
        sudo=(sudo -n)
    fi
    command -v apt-get >/dev/null 2>&1 \
        || die "apt-get not found; please install manually: $*"

    # Keep package maintainer scripts from starting system-wide services
    # (e.g. a redis-server on port 6379) that we would leave behind.
    local policy=/usr/sbin/policy-rc.d tmp_policy=0
    if [ "$(id -u)" -eq 0 ] && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod 755 "$policy"
        tmp_policy=1
    fi

    local apt_env=(env DEBIAN_FRONTEND=noninteractive)
    # Wait for the dpkg lock if another apt/dpkg run is in progress.
    local lock=(-o DPkg::Lock::Timeout=600)
    local install=(apt-get "${lock[@]}" install -y --no-install-recommends "$@")
    local rc=0
    log "installing: $*"
    if apt_lists_empty; then
        log "apt lists empty; running apt-get update"
        "${sudo[@]}" "${apt_env[@]}" apt-get "${lock[@]}" update -q </dev/null >&2 || rc=$?
    fi
    if [ "$rc" -eq 0 ]; then
        "${sudo[@]}" "${apt_env[@]}" "${install[@]}" </dev/null >&2 || rc=$?
        if [ "$rc" -ne 0 ]; then
            log "install failed; running apt-get update and retrying"
            rc=0
            "${sudo[@]}" "${apt_env[@]}" apt-get "${lock[@]}" update -q </dev/null >&2 \
                && "${sudo[@]}" "${apt_env[@]}" "${install[@]}" </dev/null >&2 \
                || rc=$?
        fi
    fi
    if [ "$tmp_policy" -eq 1 ]; then rm -f "$policy"; fi
    [ "$rc" -eq 0 ] || die "apt-get install $* failed (exit $rc)"
}

missing=()
PG_BIN=$(find_pg_bindir || true)
[ -n "$PG_BIN" ] || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# libfaketime: scripts/run-tests.sh runs the date-sensitive suites at chosen wall-clock hours.
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
if [ "${#missing[@]}" -gt 0 ]; then
    apt_install "${missing[@]}"
    hash -r
    PG_BIN=$(find_pg_bindir || true)
    [ -n "$PG_BIN" ] || die "PostgreSQL binaries (initdb, pg_ctl, postgres) not found after install"
    command -v redis-server >/dev/null 2>&1 || die "redis-server not found after install"
fi
# Chromium (Debian's): tests/e2e/test_graphiql_offline.py drives GraphiQL in it, headless and
# offline (no browser is downloaded). A failed install leaves the other suites to run: that
# test then fails and says why.
if [ ! -x /usr/bin/chromium ]; then
    (apt_install chromium) \
        || log "warning: chromium not installed; tests/e2e/test_graphiql_offline.py will fail"
fi

# Node.js and npm: tests/e2e/test_graphql_http_audit.py runs the graphql-http audit of the
# GraphQL-over-HTTP spec (tests/http_audit, `npm ci`) against the served app.
node_missing=()
command -v node >/dev/null 2>&1 || node_missing+=(nodejs)
command -v npm >/dev/null 2>&1 || node_missing+=(npm)
if [ "${#node_missing[@]}" -gt 0 ]; then
    apt_install "${node_missing[@]}"
    hash -r
    command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
        || die "node and npm not found after install"
fi

REDIS_SERVER=$(command -v redis-server)
REDIS_CLI=$(command -v redis-cli || true)
log "postgres binaries: $PG_BIN; redis: $REDIS_SERVER"

# ---------------------------------------------------------------- helpers

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

redis_ping() {
    if [ -n "$REDIS_CLI" ]; then
        [ "$("$REDIS_CLI" -h 127.0.0.1 -p "$1" ping </dev/null 2>/dev/null)" = "PONG" ]
    else
        python3 - "$1" <<'EOF'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
    s.sendall(b"PING\r\n")
    sys.exit(0 if s.recv(64).startswith(b"+PONG") else 1)
except OSError:
    sys.exit(1)
EOF
    fi
}

# True if the process exists and is not a zombie (daemonized servers are
# reparented to init, which may reap them late).
pid_alive() {
    local pid=${1:-} state=""
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    if [ -r "/proc/$pid/stat" ]; then
        state=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$pid/stat" 2>/dev/null || true)
        [ "$state" != "Z" ] && [ "$state" != "X" ] || return 1
    fi
    return 0
}

# Kill a pid: TERM, wait up to $2 seconds, then KILL.
kill_wait() {
    local pid=$1 secs=${2:-10} i
    pid_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < secs * 10; i++)); do
        pid_alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.2
}

# Servers refuse (postgres) or should not (redis) run as root: use an
# unprivileged user in that case.
RUN_AS=()
SVC_USER=""
if [ "$(id -u)" -eq 0 ]; then
    SVC_USER=${WITH_SERVICES_USER:-}
    if [ -z "$SVC_USER" ]; then
        if getent passwd nobody >/dev/null 2>&1; then
            SVC_USER=nobody
        else
            SVC_USER=omnishelf-test
            if ! getent passwd "$SVC_USER" >/dev/null 2>&1; then
                log "creating user $SVC_USER"
                useradd --system --no-create-home --shell /usr/sbin/nologin "$SVC_USER" \
                    || die "could not create user $SVC_USER"
            fi
        fi
    fi
    if command -v runuser >/dev/null 2>&1; then
        RUN_AS=(runuser -u "$SVC_USER" --)
    else
        RUN_AS=(su_run)
    fi
fi

su_run() {
    local q
    printf -v q '%q ' "$@"
    su -s /bin/sh "$SVC_USER" -c "$q"
}

# Run as the service user. stdin is always /dev/null: a closed fd 0 (e.g. CI
# with no stdin) makes redis-server crash on startup.
as_svc() { "${RUN_AS[@]}" "$@" </dev/null; }

# ---------------------------------------------------------------- cleanup

TMP=""
PG_DATA=""
PG_PID=""
REDIS_PID=""
REDIS_PORT=""

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    if [ -n "$PG_DATA" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        [ -n "$PG_PID" ] || PG_PID=$(head -n1 "$PG_DATA/postmaster.pid" 2>/dev/null)
        log "stopping postgres"
        (cd "$TMP" && as_svc "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w -t 20 stop) \
            >/dev/null 2>&1
    fi
    kill_wait "$PG_PID" 10
    if [ -z "$REDIS_PID" ] && [ -n "$TMP" ] && [ -f "$TMP/redis.pid" ]; then
        REDIS_PID=$(cat "$TMP/redis.pid" 2>/dev/null)
    fi
    if pid_alive "$REDIS_PID"; then
        log "stopping redis"
        kill_wait "$REDIS_PID" 10
    fi
    if [ -n "$TMP" ] && [ -d "$TMP" ]; then
        rm -rf -- "$TMP"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TMP=$(mktemp -d /tmp/omnishelf-services.XXXXXX)
if [ -n "$SVC_USER" ]; then
    chown "$SVC_USER:" "$TMP" 2>/dev/null || chown "$SVC_USER" "$TMP"
fi
chmod 700 "$TMP"

# ---------------------------------------------------------------- postgres

PG_DATA=$TMP/pgdata
PG_SOCK=$TMP/pgsock
log "initdb in $PG_DATA"
(
    cd "$TMP"
    as_svc mkdir -p "$PG_SOCK"
    as_svc "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 \
        --locale=C --no-sync >"$TMP/initdb.log" 2>&1
) || { cat "$TMP/initdb.log" >&2 2>/dev/null; die "initdb failed"; }

cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- with-services.sh: throwaway test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PG_SOCK'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF

PG_PORT=""
for attempt in 1 2 3; do
    port=$(free_port)
    if (cd "$TMP" && as_svc "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$TMP/postgres.log" \
            -o "-p $port" -w -t 60 start) >/dev/null 2>&1; then
        PG_PORT=$port
        break
    fi
    log "postgres failed to start on port $port (attempt $attempt)"
done
if [ -z "$PG_PORT" ]; then
    tail -n 30 "$TMP/postgres.log" >&2 2>/dev/null || true
    die "could not start postgres"
fi
PG_PID=$(head -n1 "$PG_DATA/postmaster.pid")
log "postgres running on 127.0.0.1:$PG_PORT (pid $PG_PID)"

PG_ADMIN_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/omnishelf_test"
if [ -x "$PG_BIN/createdb" ]; then
    (cd "$TMP" && as_svc "$PG_BIN/createdb" -h "$PG_SOCK" -p "$PG_PORT" -U postgres \
        -O postgres omnishelf_test) || die "createdb omnishelf_test failed"
elif [ -x "$PG_BIN/psql" ] || command -v psql >/dev/null 2>&1; then
    PSQL=$PG_BIN/psql; [ -x "$PSQL" ] || PSQL=$(command -v psql)
    (cd "$TMP" && as_svc "$PSQL" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCK" -p "$PG_PORT" \
        -U postgres -d postgres -c 'CREATE DATABASE omnishelf_test OWNER postgres') \
        || die "CREATE DATABASE omnishelf_test failed"
else
    die "neither createdb nor psql found to create omnishelf_test"
fi
log "created database omnishelf_test"

# ---------------------------------------------------------------- redis

for attempt in 1 2 3; do
    port=$(free_port)
    rm -f "$TMP/redis.pid"
    if (cd "$TMP" && as_svc "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 \
            --save '' --appendonly no --daemonize yes \
            --pidfile "$TMP/redis.pid" --dir "$TMP" \
            --logfile "$TMP/redis.log") >/dev/null 2>&1; then
        for ((i = 0; i < 100; i++)); do
            if [ -z "$REDIS_PID" ] && [ -s "$TMP/redis.pid" ]; then
                REDIS_PID=$(cat "$TMP/redis.pid")
            fi
            if redis_ping "$port"; then
                REDIS_PORT=$port
                break
            fi
            if [ -n "$REDIS_PID" ] && ! pid_alive "$REDIS_PID"; then
                break
            fi
            sleep 0.1
        done
    fi
    [ -n "$REDIS_PORT" ] && break
    log "redis failed to start on port $port (attempt $attempt)"
    if [ -n "$REDIS_PID" ]; then kill_wait "$REDIS_PID" 5; fi
    REDIS_PID=""
done
if [ -z "$REDIS_PORT" ]; then
    tail -n 30 "$TMP/redis.log" >&2 2>/dev/null || true
    die "could not start redis"
fi
[ -n "$REDIS_PID" ] || REDIS_PID=$(cat "$TMP/redis.pid" 2>/dev/null || true)
log "redis running on 127.0.0.1:$REDIS_PORT (pid $REDIS_PID)"

# ---------------------------------------------------------------- run

export TEST_DATABASE_URL PG_ADMIN_URL
export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"

log "running: $*"
set +e
"$@"
status=$?
set -e
log "command exited with status $status"
exit "$status"
