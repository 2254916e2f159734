#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL server for the records tests:
#   bash scripts/with-postgres.sh COMMAND [ARGS...]
# Installs Debian's `postgresql` when missing (root or sudo), runs `initdb` in a fresh temporary
# folder as an unprivileged user (root cannot run PostgreSQL: `runuser -u postgres`), listens on
# 127.0.0.1 at a free port and on a unix socket in that folder only, exports
#   INJECTVIZ_TEST_PG_URL=postgresql+psycopg://injectviz@127.0.0.1:PORT/postgres
# runs COMMAND, and always stops the server and removes the folder (trap), returning COMMAND's status.
set -euo pipefail

log() { echo "with-postgres: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$#" -gt 0 ] || die "usage: bash scripts/with-postgres.sh COMMAND [ARGS...]"

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then echo "$d"; return 0; fi
  done
  return 1
}

BINDIR=$(find_bindir || true)
if [ -z "$BINDIR" ]; then
  log "PostgreSQL server binaries not found; installing Debian's postgresql"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends postgresql >/dev/null 2>&1; then
    $SUDO apt-get update >/dev/null 2>&1 || true
    $SUDO apt-get install -y --no-install-recommends postgresql >/dev/null \
      || die "could not install the postgresql package (apt-get install postgresql failed)"
  fi
  BINDIR=$(find_bindir) || die "postgresql installed but no initdb/pg_ctl/postgres under /usr/lib/postgresql/*/bin"
fi

# who runs the server: ourselves, or (as root) the postgres user made by the Debian package
AS=()
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user to run the server as"
  AS=(runuser -u postgres --)
fi

BASE=${TMPDIR:-/tmp}
[ "${#AS[@]}" -gt 0 ] && BASE=/tmp  # the postgres user must reach the folder ($TMPDIR may be root's own)
PGTMP=$(mktemp -d "$BASE/injectviz-pg.XXXXXX")
chmod 700 "$PGTMP"
[ "${#AS[@]}" -gt 0 ] && chown postgres: "$PGTMP"
DATA="$PGTMP/data"
LOGFILE="$PGTMP/server.log"

cleanup() {
  local rc=$?
  if [ -f "$DATA/postmaster.pid" ]; then
    "${AS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -m immediate -w -t 30 stop >/dev/null 2>&1 || {
      pid=$(head -1 "$DATA/postmaster.pid" 2>/dev/null || true)
      [ -n "${pid:-}" ] && kill -9 "$pid" 2>/dev/null || true
    }
  fi
  rm -rf "$PGTMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# a free loopback port
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')

"${AS[@]}" "$BINDIR/initdb" -D "$DATA" -U injectviz --auth=trust -E UTF8 --locale=C.UTF-8 >"$PGTMP/initdb.log" 2>&1 \
  || "${AS[@]}" "$BINDIR/initdb" -D "$DATA" -U injectviz --auth=trust -E UTF8 --locale=C >"$PGTMP/initdb.log" 2>&1 \
  || { cat "$PGTMP/initdb.log" >&2; die "initdb failed (log above)"; }

if ! "${AS[@]}" "$BINDIR/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -k $PGTMP -c fsync=on -c max_connections=50" start >/dev/null 2>&1; then
  cat "$LOGFILE" >&2 2>/dev/null || true
  die "the PostgreSQL server did not start (log above)"
fi
"$BINDIR/pg_isready" -h 127.0.0.1 -p "$PORT" -t 30 >/dev/null || die "the PostgreSQL server does not answer on 127.0.0.1:$PORT"

export INJECTVIZ_TEST_PG_URL="postgresql+psycopg://injectviz@127.0.0.1:$PORT/postgres"
export PATH="$BINDIR:$PATH"  # pg_dump of the same version as the server, for `db backup`
log "PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT (data in $DATA)"

set +e
"$@"
status=$?
set -e
exit "$status"
