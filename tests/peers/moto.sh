# shellcheck shell=bash
# Bash functions to install, start and stop a throwaway moto server (AWS
# mock; the tests use its Secrets Manager) with request signatures checked.
# Source this file:
#
#   . tests/peers/moto.sh
#   moto_install "$HOME/.cache/alm-test"     # venv, only when missing
#   moto_start "$work/moto" 18300            # waits, makes a key, turns auth on
#   ... tests use $MOTO_ENDPOINT, $MOTO_ACCESS_KEY_ID, $MOTO_SECRET_ACCESS_KEY,
#       $MOTO_REGION ...
#   moto_stop
#
# moto checks no signature by default. moto_start therefore creates, through
# moto's IAM API, a user with an access key and an inline policy allowing
# secretsmanager:* on everything, then switches authentication on
# (POST /moto-api/reset-auth with 0: every request from then on is checked).
# From then on a request signed with a wrong secret key gets 403
# SignatureDoesNotMatch, an unknown key id 403 InvalidClientTokenId (both as
# XML <ErrorResponse>, not JSON), and the key's own IAM calls are denied (its
# policy is Secrets Manager only). moto_start checks both before returning.
#
# Do not POST /moto-api/reset to clear state between tests: it also deletes
# the IAM user, so the key stops working (403 InvalidClientTokenId). Delete
# the secrets instead (DeleteSecret with ForceDeleteWithoutRecovery).
#
# Needs python3 (with venv), curl (7.75+ for --aws-sigv4) and flock. The
# functions work under `set -euo pipefail`.

MOTO_VERSION=${MOTO_VERSION:-5.2.5}

# moto_install CACHE_DIR: make CACHE_DIR/venv-moto with moto[server]
# $MOTO_VERSION (boto3 comes with it) when it is missing, broken or holds
# another version, and export MOTO_VENV. A lock on CACHE_DIR keeps parallel
# runs from installing over each other.
moto_install() {
  local cache=${1:?usage: moto_install CACHE_DIR}
  mkdir -p "$cache" || return 1
  cache=$(cd "$cache" && pwd) || return 1
  local venv=$cache/venv-moto spec="moto[server]==$MOTO_VERSION"
  (
    flock 9 || exit 1
    if [[ -x $venv/bin/python && $(cat "$venv/.alm-installed" 2>/dev/null) == "$spec" ]] &&
      "$venv/bin/python" -c '' 2>/dev/null && compgen -G "$venv/lib/python3*/site-packages/moto/server.py" >/dev/null; then
      exit 0
    fi
    echo "moto_install: installing $spec into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || { echo "moto_install: python3 -m venv failed" >&2; exit 1; }
    "$venv/bin/pip" install --disable-pip-version-check --no-input -q "$spec" >&2 ||
      { echo "moto_install: pip install $spec failed" >&2; exit 1; }
    echo "$spec" >"$venv/.alm-installed"
  ) 9>"$cache/.moto-install.lock" || return 1
  export MOTO_VENV=$venv
}

# _moto_alive PID: the process exists and is not a zombie.
_moto_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# _moto_listening PORT: something accepts TCP connections on 127.0.0.1:PORT.
_moto_listening() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# _moto_since T0: milliseconds since $EPOCHREALTIME was T0.
_moto_since() {
  local now=$EPOCHREALTIME
  awk -v a="${1/,/.}" -v b="${now/,/.}" 'BEGIN { printf "%d", (b - a) * 1000 }'
}

# _moto_iam KEY:SECRET ACTION [NAME=VALUE...]: one IAM query-API call (form
# POST, SigV4 for service iam); sets _moto_code and _moto_body.
_moto_iam() {
  local user=$1 action=$2 out
  shift 2
  local -a args=(-sS --max-time 10 -w '\n%{http_code}' --aws-sigv4 "aws:amz:$MOTO_REGION:iam" --user "$user"
    --data-urlencode "Action=$action" --data-urlencode "Version=2010-05-08")
  local kv
  for kv in "$@"; do args+=(--data-urlencode "$kv"); done
  _moto_result curl "${args[@]}" "$MOTO_ENDPOINT/"
}

# _moto_sm KEY:SECRET TARGET JSON: one Secrets Manager call (JSON 1.1
# protocol, SigV4 for service secretsmanager); sets _moto_code, _moto_body.
_moto_sm() {
  _moto_result curl -sS --max-time 10 -w '\n%{http_code}' --aws-sigv4 "aws:amz:$MOTO_REGION:secretsmanager" \
    --user "$1" -H "X-Amz-Target: secretsmanager.$2" -H 'Content-Type: application/x-amz-json-1.1' \
    --data "$3" "$MOTO_ENDPOINT/"
}

# _moto_result CMD...: run a curl command whose output ends in "\nSTATUS";
# split that into _moto_body and _moto_code (000 when curl failed).
_moto_result() {
  local out
  if out=$("$@" 2>&1); then
    _moto_code=${out##*$'\n'}
    _moto_body=${out%$'\n'*}
  else
    _moto_code=000
    _moto_body=$out
  fi
  return 0
}

# _moto_xml TAG: the text of the first <TAG> in $_moto_body.
_moto_xml() {
  sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p" <<<"$_moto_body" | head -n 1
}

# moto_start DIR PORT [LOGFILE]: start moto's server on 127.0.0.1:PORT in its
# own session (log in LOGFILE, default DIR/moto.log), wait (up to ~30 s) for
# /moto-api/, create the IAM user, key and policy, switch signature checking
# on and check it. Exports MOTO_ENDPOINT, MOTO_ACCESS_KEY_ID,
# MOTO_SECRET_ACCESS_KEY, MOTO_REGION (default us-east-1), MOTO_ACCOUNT_ID,
# MOTO_PID, MOTO_LOG. On failure prints the log, stops what it started and
# returns non-zero.
moto_start() {
  local dir=${1:?usage: moto_start DIR PORT [LOGFILE]} port=${2:?usage: moto_start DIR PORT [LOGFILE]}
  local log=${3:-}
  [[ -n ${MOTO_VENV:-} && -x ${MOTO_VENV:-}/bin/python ]] ||
    { echo "moto_start: MOTO_VENV is not set or has no python (run moto_install CACHE_DIR first)" >&2; return 1; }
  if [[ ! $port =~ ^[1-9][0-9]{0,4}$ ]] || ((port > 65535)); then
    echo "moto_start: bad port $port" >&2
    return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  [[ -n $log ]] || log=$dir/moto.log
  export MOTO_LOG=$log

  if _moto_listening "$port"; then
    echo "moto_start: something already listens on 127.0.0.1:$port" >&2
    return 1
  fi
  export MOTO_ENDPOINT=http://127.0.0.1:$port MOTO_REGION=${MOTO_REGION:-us-east-1}
  export MOTO_ACCESS_KEY_ID='' MOTO_SECRET_ACCESS_KEY='' MOTO_ACCOUNT_ID='' MOTO_PID=''

  # setsid may fork (when the caller leads a process group), so $! is not
  # always moto's pid: the child shell writes its own pid, then execs python.
  # `python -m moto.server` rather than bin/moto_server, whose #! line holds
  # the venv's path. No reloader (moto's -r is off): one process. moto reads
  # settings from MOTO_* variables, and one of ours has such a name
  # (MOTO_ACCOUNT_ID: set empty, it breaks IAM with HTTP 500), so the child
  # drops every MOTO_* variable before starting it.
  local pidfile=$dir/moto.$port.pid
  rm -f "$pidfile"
  local t0=$EPOCHREALTIME
  # shellcheck disable=SC2016 # $$ and $1.. belong to the child shell
  PYTHONUNBUFFERED=1 setsid bash -c \
    'cd "$4" || exit 1; echo $$ >"$1"
    for v in $(compgen -e -X "!MOTO_*"); do unset "$v"; done
    exec "$2" -m moto.server -H 127.0.0.1 -p "$3"' \
    moto "$pidfile" "$MOTO_VENV/bin/python" "$port" "$dir" >"$log" 2>&1 </dev/null &
  disown $! 2>/dev/null || true

  local i ready=0
  for ((i = 0; i < 300; i++)); do
    [[ -z $MOTO_PID && -s $pidfile ]] && MOTO_PID=$(<"$pidfile")
    if [[ -n $MOTO_PID ]]; then
      _moto_alive "$MOTO_PID" || break # it died (e.g. port in use)
      # The log line proves that this process, not another one on the same
      # port, is the one answering.
      if grep -q "Running on http://127.0.0.1:$port" "$log" &&
        curl -fsS -o /dev/null --max-time 2 "$MOTO_ENDPOINT/moto-api/" 2>/dev/null; then
        ready=1
        break
      fi
    fi
    sleep 0.1
  done
  if ((ready)); then
    local t1=$EPOCHREALTIME
    if _moto_setup_auth; then
      echo "moto_start: moto (pid $MOTO_PID) ready on $MOTO_ENDPOINT after $(_moto_since "$t0") ms" \
        "(IAM key and auth: $(_moto_since "$t1") ms)" >&2
      return 0
    fi
  else
    echo "moto_start: moto did not become ready on $MOTO_ENDPOINT" >&2
  fi
  echo "moto_start: log $log:" >&2
  cat "$log" >&2
  [[ -n $MOTO_PID ]] || echo "moto_start: moto wrote no pid to $pidfile" >&2
  moto_stop
  return 1
}

# _moto_setup_auth: IAM user + access key + policy, then authentication on,
# then proof that the key works and that a wrong secret key is refused.
_moto_setup_auth() {
  # Before reset-auth moto takes any credentials; they only name the service.
  local anon=alm-setup:alm-setup user=alm-test
  local policy='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:*","Resource":"*"}]}'
  _moto_iam "$anon" CreateUser "UserName=$user"
  [[ $_moto_code == 200 ]] || { echo "moto_start: IAM CreateUser: HTTP $_moto_code $_moto_body" >&2; return 1; }
  local arn
  arn=$(_moto_xml Arn)
  MOTO_ACCOUNT_ID=$(cut -d: -f5 <<<"$arn")
  _moto_iam "$anon" PutUserPolicy "UserName=$user" "PolicyName=alm-secretsmanager" "PolicyDocument=$policy"
  [[ $_moto_code == 200 ]] || { echo "moto_start: IAM PutUserPolicy: HTTP $_moto_code $_moto_body" >&2; return 1; }
  _moto_iam "$anon" CreateAccessKey "UserName=$user"
  [[ $_moto_code == 200 ]] || { echo "moto_start: IAM CreateAccessKey: HTTP $_moto_code $_moto_body" >&2; return 1; }
  MOTO_ACCESS_KEY_ID=$(_moto_xml AccessKeyId)
  MOTO_SECRET_ACCESS_KEY=$(_moto_xml SecretAccessKey)
  [[ -n $MOTO_ACCESS_KEY_ID && -n $MOTO_SECRET_ACCESS_KEY ]] ||
    { echo "moto_start: no access key in: $_moto_body" >&2; return 1; }

  # Authentication on for every request from now on (0 unauthenticated
  # requests left).
  _moto_result curl -sS --max-time 10 -w '\n%{http_code}' -X POST -H 'Content-Type: text/plain' --data 0 \
    "$MOTO_ENDPOINT/moto-api/reset-auth"
  [[ $_moto_code == 200 ]] || { echo "moto_start: /moto-api/reset-auth: HTTP $_moto_code $_moto_body" >&2; return 1; }

  _moto_sm "$MOTO_ACCESS_KEY_ID:$MOTO_SECRET_ACCESS_KEY" ListSecrets '{}'
  [[ $_moto_code == 200 ]] ||
    { echo "moto_start: ListSecrets with the new key: HTTP $_moto_code $_moto_body" >&2; return 1; }
  _moto_sm "$MOTO_ACCESS_KEY_ID:wrong$MOTO_SECRET_ACCESS_KEY" ListSecrets '{}'
  [[ $_moto_code == 403 && $_moto_body == *SignatureDoesNotMatch* ]] ||
    { echo "moto_start: a wrongly signed request was not refused: HTTP $_moto_code $_moto_body" >&2; return 1; }
  _moto_sm "$anon" ListSecrets '{}'
  [[ $_moto_code == 403 ]] ||
    { echo "moto_start: a request with an unknown key was not refused: HTTP $_moto_code $_moto_body" >&2; return 1; }
  export MOTO_ACCESS_KEY_ID MOTO_SECRET_ACCESS_KEY MOTO_ACCOUNT_ID
}

# moto_stop: stop the server started by moto_start (TERM, then KILL after
# ~5 s) and wait until it is gone. Its in-memory state goes with it.
moto_stop() {
  [[ -n ${MOTO_PID:-} ]] || return 0
  local i
  kill -TERM "$MOTO_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _moto_alive "$MOTO_PID" || break
    sleep 0.1
  done
  if _moto_alive "$MOTO_PID"; then
    echo "moto_stop: moto (pid $MOTO_PID) did not stop on TERM; killing it" >&2
    kill -KILL "$MOTO_PID" 2>/dev/null || true
    for ((i = 0; i < 25; i++)); do
      _moto_alive "$MOTO_PID" || break
      sleep 0.1
    done
  fi
  MOTO_PID=
  return 0
}
