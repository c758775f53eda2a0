#!/usr/bin/env bash
# Proves tests/peers/moto.sh works: installs moto (PyPI moto[server]) into
# the test cache when missing, starts it in a temporary directory on a free
# port with signature checking on, then with SigV4-signed curl calls to
# Secrets Manager: CreateSecret, GetSecretValue, PutSecretValue,
# ListSecrets (all, and with a name prefix filter), DeleteSecret with
# ForceDeleteWithoutRecovery, the errors for a missing and a duplicate
# secret, and the refusals (403) for a wrong secret key and an unknown key
# id. Stops the server and checks that it is gone. Exits non-zero on the
# first failure.
#
#   bash tests/peers/moto_selftest.sh
#
# The cache is $ALM_TEST_CACHE (default ~/.cache/alm-test).
# MOTO_SELFTEST_KEEP=1 keeps the temporary directory (log).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=moto.sh
. "$here/moto.sh"

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
moto_install "$cache"
step "moto_install: $(elapsed "$t"); MOTO_VENV=$MOTO_VENV"
py=$MOTO_VENV/bin/python
"$py" -c 'import moto, boto3; print("moto", moto.__version__, "boto3", boto3.__version__)'

free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    _moto_listening "$p" || { echo "$p"; return 0; }
  done
  return 1
}

work=$(mktemp -d /tmp/alm-moto.XXXXXX)
cleanup() {
  local rc=$?
  if [[ -n ${MOTO_PID:-} ]]; then
    ((rc == 0)) || { echo "--- last lines of ${MOTO_LOG:-}" >&2; tail -n 40 "$MOTO_LOG" >&2 || true; }
    moto_stop || rc=1
  fi
  if [[ ${MOTO_SELFTEST_KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

port=$(free_port) || fail "no free port"
t=$(now)
moto_start "$work" "$port"
step "moto_start (start + IAM key + auth on + checks): $(elapsed "$t")"
for v in MOTO_ENDPOINT MOTO_ACCESS_KEY_ID MOTO_SECRET_ACCESS_KEY MOTO_REGION MOTO_ACCOUNT_ID MOTO_PID MOTO_LOG; do
  printf '%s=%s\n' "$v" "${!v}"
done
[[ $MOTO_ENDPOINT == "http://127.0.0.1:$port" ]] || fail "MOTO_ENDPOINT is $MOTO_ENDPOINT"
[[ $MOTO_REGION == us-east-1 ]] || fail "MOTO_REGION is $MOTO_REGION"
[[ -n $MOTO_ACCESS_KEY_ID && -n $MOTO_SECRET_ACCESS_KEY ]] || fail "no access key"
grep -q 'moto.server' "/proc/$MOTO_PID/cmdline" || fail "MOTO_PID $MOTO_PID is not moto"
pid=$MOTO_PID
good=$MOTO_ACCESS_KEY_ID:$MOTO_SECRET_ACCESS_KEY
bad=$MOTO_ACCESS_KEY_ID:x$MOTO_SECRET_ACCESS_KEY

# sm KEY:SECRET TARGET JSON: a signed call (curl --aws-sigv4); sets $code, $body.
sm() {
  _moto_sm "$@"
  code=$_moto_code body=$_moto_body
  printf '%s %s -> %s %s\n' "$2" "$3" "$code" "${body:0:300}"
}
expect() { [[ $code == "$1" ]] || fail "expected HTTP $1, got $code: $body"; }
# j EXPR: EXPR (Python, over d = the last body's JSON) printed.
j() { "$py" -c 'import json, sys; d = json.loads(sys.argv[2]); print(eval(sys.argv[1]))' "$1" "$body"; }
is() {
  local got
  got=$(j "$1") || fail "cannot evaluate $1 on: $body"
  [[ $got == "$2" ]] || fail "$1 is '$got', expected '$2'"
}

step "Secrets Manager, signed with the key"
v1=11111111-2222-3333-4444-555555555555
sm "$good" CreateSecret "{\"Name\":\"alm/selftest/db\",\"SecretString\":\"s1\",\"ClientRequestToken\":\"$v1\",\"Tags\":[{\"Key\":\"managed-by\",\"Value\":\"alm\"}]}"
expect 200
is 'd["Name"]' alm/selftest/db
is 'd["VersionId"]' "$v1"
is 'd["ARN"].startswith("arn:aws:secretsmanager:us-east-1:'"$MOTO_ACCOUNT_ID"':secret:alm/selftest/db-")' True
arn=$(j 'd["ARN"]')
ok "CreateSecret: 200 {ARN, Name, VersionId}; ARN ends in -<6 random chars>"
sm "$good" CreateSecret '{"Name":"alm/selftest/db","SecretString":"again"}'
expect 400
is 'd["__type"]' ResourceExistsException
ok "CreateSecret on an existing name: 400 __type ResourceExistsException"
sm "$good" CreateSecret '{"Name":"other/x","SecretString":"o"}'
expect 200
sm "$good" GetSecretValue '{"SecretId":"alm/selftest/db"}'
expect 200
is 'd["SecretString"]' s1
is 'd["VersionId"]' "$v1"
is 'd["VersionStages"]' "['AWSCURRENT']"
ok "GetSecretValue: SecretString, VersionId, VersionStages [AWSCURRENT]"
sm "$good" PutSecretValue '{"SecretId":"alm/selftest/db","SecretString":"s2"}'
expect 200
v2=$(j 'd["VersionId"]')
[[ $v2 != "$v1" ]] || fail "PutSecretValue kept the VersionId"
sm "$good" GetSecretValue "{\"SecretId\":\"$arn\"}"
expect 200
is 'd["SecretString"]' s2
is 'd["VersionId"]' "$v2"
sm "$good" GetSecretValue "{\"SecretId\":\"alm/selftest/db\",\"VersionId\":\"$v1\"}"
expect 200
is 'd["SecretString"]' s1
ok "PutSecretValue: new VersionId; GetSecretValue by ARN gets it; the old version stays readable by VersionId"
sm "$good" GetSecretValue '{"SecretId":"alm/selftest/missing"}'
expect 404
is 'd["__type"]' ResourceNotFoundException
sm "$good" PutSecretValue '{"SecretId":"alm/selftest/missing","SecretString":"x"}'
expect 404
is 'd["__type"]' ResourceNotFoundException
ok "missing secret: 404 __type ResourceNotFoundException"
sm "$good" ListSecrets '{}'
expect 200
is 'sorted(s["Name"] for s in d["SecretList"])' "['alm/selftest/db', 'other/x']"
sm "$good" ListSecrets '{"Filters":[{"Key":"name","Values":["alm/selftest/"]}]}'
expect 200
is '[s["Name"] for s in d["SecretList"]]' "['alm/selftest/db']"
sm "$good" ListSecrets '{"Filters":[{"Key":"name","Values":["selftest"]}]}'
expect 200
is 'd["SecretList"]' "[]"
ok "ListSecrets: SecretList[].Name; the name filter is a prefix match"
sm "$good" DeleteSecret '{"SecretId":"alm/selftest/db","ForceDeleteWithoutRecovery":true}'
expect 200
is 'd["Name"]' alm/selftest/db
sm "$good" GetSecretValue '{"SecretId":"alm/selftest/db"}'
expect 404
is 'd["__type"]' ResourceNotFoundException
sm "$good" DeleteSecret '{"SecretId":"other/x","ForceDeleteWithoutRecovery":true}'
expect 200
sm "$good" ListSecrets '{}'
expect 200
is 'd["SecretList"]' "[]"
ok "DeleteSecret with ForceDeleteWithoutRecovery: 200 {ARN, Name, DeletionDate}; gone at once"

step "refusals"
sm "$bad" CreateSecret '{"Name":"alm/selftest/evil","SecretString":"x"}'
expect 403
[[ $body == *"<Code>SignatureDoesNotMatch</Code>"* ]] || fail "no SignatureDoesNotMatch in: $body"
sm "$bad" GetSecretValue '{"SecretId":"alm/selftest/db"}'
expect 403
sm "$bad" ListSecrets '{}'
expect 403
ok "wrong secret key: 403 SignatureDoesNotMatch (XML ErrorResponse)"
sm "AKIAIOSFODNN7EXAMPLE:$MOTO_SECRET_ACCESS_KEY" ListSecrets '{}'
expect 403
[[ $body == *"<Code>InvalidClientTokenId</Code>"* ]] || fail "no InvalidClientTokenId in: $body"
ok "unknown key id: 403 InvalidClientTokenId"
_moto_iam "$good" ListUsers
[[ $_moto_code == 403 ]] || fail "IAM ListUsers with the Secrets Manager key: expected 403, got $_moto_code $_moto_body"
ok "the key may not call IAM: 403 ($(_moto_xml Code))"
sm "$good" ListSecrets '{}'
expect 200
is 'd["SecretList"]' "[]"
ok "nothing was created by the refused calls"

step "moto_stop"
moto_stop
[[ -z ${MOTO_PID:-} ]] || fail "MOTO_PID still set"
! _moto_alive "$pid" || fail "moto (pid $pid) still runs"
! _moto_listening "$port" || fail "port $port still answers"
ok "stopped, port $port free"
echo "moto selftest passed"
