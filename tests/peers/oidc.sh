# Bash functions to install, start and stop the test OpenID Connect provider
# (tests/peers/oidc/provider.mjs, panva's oidc-provider). Source this file:
#
#   . tests/peers/oidc.sh
#   oidc_install "$HOME/.cache/alm-test/oidc"
#   oidc_start "$HOME/.cache/alm-test/oidc" 18455 "$logdir/oidc.log"
#   ... tests use $OIDC_ISSUER, $OIDC_CLIENT_ID, $OIDC_CLIENT_SECRET ...
#   oidc_stop
#
# Client settings come from OIDC_CLIENT_ID, OIDC_CLIENT_SECRET and
# OIDC_REDIRECT_URIS (comma separated); oidc_start exports them with the
# defaults below when unset. OIDC_ISSUER defaults to http://127.0.0.1:PORT.
# Needs node (>= 20), npm, curl and flock.

OIDC_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/oidc" && pwd)

# oidc_install DIR: put package.json, package-lock.json and provider.mjs into
# DIR and run `npm ci` there when node_modules is missing or the lock file
# differs from the one last installed. A lock on DIR keeps parallel runs from
# installing over each other.
oidc_install() {
  local dir=${1:?usage: oidc_install DIR}
  mkdir -p "$dir" || return 1
  (
    flock 9 || exit 1
    cp "$OIDC_SRC_DIR/package.json" "$OIDC_SRC_DIR/package-lock.json" "$OIDC_SRC_DIR/provider.mjs" "$dir/" || exit 1
    if [[ -d $dir/node_modules ]] && cmp -s "$OIDC_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"; then
      exit 0
    fi
    rm -f "$dir/.installed-lock.json"
    echo "oidc_install: npm ci in $dir" >&2
    (cd "$dir" && npm ci --no-audit --no-fund) >&2 || { echo "oidc_install: npm ci failed" >&2; exit 1; }
    cp "$OIDC_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"
  ) 9>"$dir/.install.lock"
}

# oidc_start DIR PORT LOGFILE: start the provider in its own session, set
# OIDC_PID, and wait (up to ~20 s) until its discovery document answers.
# On failure print the log, stop what was started and return non-zero.
oidc_start() {
  local dir=${1:?usage: oidc_start DIR PORT LOGFILE} port=${2:?usage: oidc_start DIR PORT LOGFILE}
  local log=${3:?usage: oidc_start DIR PORT LOGFILE}
  export OIDC_PORT=$port
  # Default the issuer from the port, also when an earlier oidc_start in this
  # shell set the default for another port.
  if [[ -z ${OIDC_ISSUER:-} || ${OIDC_ISSUER} == "${_oidc_issuer_default:-}" ]]; then
    _oidc_issuer_default=http://127.0.0.1:$port
    OIDC_ISSUER=$_oidc_issuer_default
  fi
  export OIDC_ISSUER
  export OIDC_CLIENT_ID=${OIDC_CLIENT_ID:-alm-test}
  export OIDC_CLIENT_SECRET=${OIDC_CLIENT_SECRET:-alm-test-secret}
  export OIDC_REDIRECT_URIS=${OIDC_REDIRECT_URIS:-http://127.0.0.1:8080/auth/callback}
  [[ -d $dir/node_modules ]] || { echo "oidc_start: run oidc_install $dir first" >&2; return 1; }
  cp "$OIDC_SRC_DIR/provider.mjs" "$dir/provider.mjs" || return 1

  # setsid may fork (when the caller is a process group leader), so $! is not
  # always node's pid: the child shell writes its own pid, then execs node.
  local pidfile=$dir/.provider.$port.pid
  rm -f "$pidfile"
  setsid bash -c 'echo $$ >"$1"; exec node "$2"' oidc "$pidfile" "$dir/provider.mjs" >"$log" 2>&1 </dev/null &
  OIDC_PID=

  local url="http://127.0.0.1:$port/.well-known/openid-configuration" i
  for ((i = 0; i < 100; i++)); do
    [[ -z $OIDC_PID && -s $pidfile ]] && OIDC_PID=$(<"$pidfile")
    if [[ -n $OIDC_PID ]]; then
      _oidc_alive "$OIDC_PID" || break # it died (e.g. port in use)
      # The log line proves that this process, not another one on the same
      # port, is the one answering.
      if grep -q '^oidc provider ready at ' "$log" && curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then
        return 0
      fi
    fi
    sleep 0.2
  done
  echo "oidc_start: provider did not become ready on port $port; log $log:" >&2
  cat "$log" >&2
  oidc_stop
  return 1
}

# _oidc_alive PID: the process exists and is not a zombie (when node is our
# direct child, a dead one stays a zombie until reaped).
_oidc_alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# oidc_stop: stop the provider started by oidc_start (TERM, then KILL).
oidc_stop() {
  [[ -n ${OIDC_PID:-} ]] || return 0
  local i
  kill "$OIDC_PID" 2>/dev/null
  for ((i = 0; i < 25; i++)); do
    _oidc_alive "$OIDC_PID" || break
    sleep 0.2
  done
  _oidc_alive "$OIDC_PID" && kill -KILL "$OIDC_PID" 2>/dev/null
  OIDC_PID=
  return 0
}
