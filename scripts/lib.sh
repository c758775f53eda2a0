# Shared helpers for alm's scripts: logging, free ports, waiting for readiness, PostgreSQL.
# Sourced, not run.

say() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# A TCP port nobody listens on right now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# apt_install PKG...: installs the Debian packages that are missing (root only).
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  ((${#missing[@]} == 0)) && return 0
  [[ $(id -u) == 0 ]] || die "missing packages ${missing[*]}; run as root or install them"
  say "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
}

# pg_start DIR: a throwaway PostgreSQL 15 cluster in DIR on a free port.
# Sets PG_PORT, PG_DIR, ALMTEST_PG_URL. initdb refuses root: it runs as postgres.
pg_start() {
  PG_DIR=$1
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -x $bin/initdb ]] || die "PostgreSQL server binaries not found under /usr/lib/postgresql"
  PG_PORT=$(free_port)
  install -d -o postgres "$PG_DIR"
  su postgres -c "$bin/initdb -D $PG_DIR/data -A trust -U postgres --no-sync -E UTF8 --locale=C.UTF-8" >"$PG_DIR/initdb.log" 2>&1 \
    || { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }
  # fsync=off: a test cluster that is thrown away after the run.
  if ! su postgres -c "$bin/pg_ctl -D $PG_DIR/data -l $PG_DIR/server.log -w -t 30 \
      -o '-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300' start" >/dev/null; then
    cat "$PG_DIR/server.log" >&2
    die "PostgreSQL did not start"
  fi
  pg_isready -q -h 127.0.0.1 -p "$PG_PORT" -t 10 || { cat "$PG_DIR/server.log" >&2; die "PostgreSQL is not ready"; }
  export ALMTEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
}

pg_stop() {
  [[ -n ${PG_DIR:-} && -d $PG_DIR/data ]] || return 0
  local bin
  bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  su postgres -c "$bin/pg_ctl -D $PG_DIR/data -m immediate stop" >/dev/null 2>&1 || true
}
