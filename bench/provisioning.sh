#!/usr/bin/env bash
# Provisioning benchmark (run by hand, not a test):
#
#   sudo bash bench/provisioning.sh
#
# Builds alm (release), starts a throwaway Samba AD DC on 127.0.0.2 and alm (SQLite, built-in
# vault, in-process engine), and measures in the same run:
#   - raw LDAP add rate: BENCH_ACCOUNTS users with passwords (unicodePwd) added by one ldapadd
#     over one LDAPS connection;
#   - alm: BENCH_ACCOUNTS approved requests provisioned (account created with its password,
#     secret sealed into the built-in vault, managed account recorded). The requests are
#     created, submitted and approved while the domain's pool has no engine, so the jobs
#     queue up; then the engine joins the pool and the clock runs until the last request is
#     `provisioned`.
# and prints accounts per second for both and the ratio alm ÷ raw.
#
# Knobs: BENCH_ACCOUNTS (500), BENCH_SAMBA_ADDR (127.0.0.2), CARGO_TARGET_DIR.
# Needs root (Samba), python3, curl.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
export SAMBA_ADDR=${BENCH_SAMBA_ADDR:-127.0.0.2}
. tests/peers/samba.sh

n=${BENCH_ACCOUNTS:-500}
[[ $(id -u) == 0 ]] || die "run as root (Samba binds privileged ports)"
samba_install

now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
say "building alm (release)"
cargo build --release --quiet -p alm
bin=$CARGO_TARGET_DIR/release/alm

work=$(mktemp -d /tmp/almp.XXXXXX)
added_addr=0
alm_pid=
cleanup() {
  local rc=$?
  set +e
  if [[ -n $alm_pid ]]; then kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null; fi
  [[ -f $work/samba/samba.pid ]] && samba_stop "$work/samba"
  if ((added_addr)); then ip addr del "$SAMBA_ADDR/8" dev lo; fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! ip -o addr show dev lo | grep -Fq " $SAMBA_ADDR/"; then
  ip addr add "$SAMBA_ADDR/8" dev lo
  added_addr=1
fi

say "starting a Samba AD DC on $SAMBA_ADDR"
samba_start "$work/samba"
export LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand
printf '%s' "$SAMBA_ADMIN_PASSWORD" >"$work/bindpw"
chmod 600 "$work/bindpw"
ldap_opts=(-x -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -y "$work/bindpw")
raw_ou="OU=rawadd,$SAMBA_BASE_DN"
alm_ou="OU=provbench,$SAMBA_BASE_DN"
printf 'dn: %s\nobjectClass: organizationalUnit\n\ndn: %s\nobjectClass: organizationalUnit\n' "$raw_ou" "$alm_ou" |
  ldapadd "${ldap_opts[@]}" >/dev/null

say "raw LDAP adds: $n users with passwords, one ldapadd over one connection"
python3 - "$raw_ou" "$n" "${SAMBA_REALM,,}" >"$work/raw.ldif" <<'PY'
import base64, secrets, sys
ou, n, realm = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(n):
    pw = "Aa1!" + secrets.token_urlsafe(18)
    enc = base64.b64encode(('"%s"' % pw).encode("utf-16-le")).decode()
    print(f"dn: CN=raw{i},{ou}\nobjectClass: user\nsAMAccountName: raw{i}\n"
          f"userPrincipalName: raw{i}@{realm}\nunicodePwd:: {enc}\nuserAccountControl: 512\n")
PY
t=$(now)
ldapadd "${ldap_opts[@]}" -f "$work/raw.ldif" >/dev/null
raw_s=$(elapsed "$t")
echo "raw: $n users in $raw_s s" >&2

say "starting alm"
port=$(free_port)
url="http://127.0.0.1:$port"
ALM_ADMIN_EMAIL=admin@example.test ALM_ADMIN_PASSWORD='bench admin password' \
  "$bin" serve --data-dir "$work/alm" --listen "127.0.0.1:$port" >"$work/alm.log" 2>&1 &
alm_pid=$!
for ((i = 0; i < 150; i++)); do
  "$bin" healthcheck --url "$url" >/dev/null 2>&1 && break
  sleep 0.2
done
admin=$("$bin" admin create-token admin@example.test --name bench --data-dir "$work/alm")
call() { # call TOKEN METHOD PATH [BODY]
  curl -sS --fail-with-body --max-time 600 -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -X "$2" "$url$3" ${4:+-d "$4"}
}
field() { python3 -c 'import json, sys; print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))' "$1"; }

# The approver: a second person (a requester never approves their own request).
approver_id=$(call "$admin" POST /api/v1/users '{"display_name": "Approver", "emails": ["approver@example.test"]}' | field 'd["id"]')
approver_role=$(call "$admin" GET '/api/v1/roles?limit=500' | field '[r["id"] for r in d["items"] if r["builtin_key"] == "approver"][0]')
call "$admin" POST "/api/v1/roles/$approver_role/members" "{\"user_id\": \"$approver_id\"}" >/dev/null
approver=$("$bin" admin create-token approver@example.test --name bench --data-dir "$work/alm")
everyone=$(call "$admin" GET '/api/v1/groups?limit=500' | field '[g["id"] for g in d["items"] if g["builtin"] and g["name"] == "Everyone"][0]')
vault=$(call "$admin" GET /api/v1/vaults | field '[v["id"] for v in d["items"] if v["kind"] == "builtin"][0]')

domain=$(call "$admin" POST /api/v1/domains "$(BASE=$alm_ou python3 -c '
import json, os
e = os.environ
print(json.dumps({"name": "bench", "url": e["SAMBA_LDAPS_URL"], "bind_identity": e["SAMBA_ADMIN_UPN"],
                  "bind_password": e["SAMBA_ADMIN_PASSWORD"], "ca_pem": open(e["SAMBA_CA_FILE"]).read(),
                  "base_dn": e["BASE"]}))')" | field 'd["id"]')
call "$admin" POST "/api/v1/domains/$domain/sync" >/dev/null
template=$(call "$admin" POST /api/v1/templates "{\"name\": \"bench\", \"definition\": {
  \"account_type\": \"ad-user\", \"eol_action\": \"review\", \"vault_id\": \"$vault\", \"folders\": [\"bench\"],
  \"domain_id\": \"$domain\", \"ous\": [\"$alm_ou\"], \"audience_groups\": [\"$everyone\"],
  \"lifecycle\": {\"intervals\": [\"1y\"]}, \"steps\": [{\"users\": [\"$approver_id\"], \"min_approvals\": 1}]}}" | field 'd["id"]')
call "$admin" POST "/api/v1/templates/$template/publish" >/dev/null

# The domain moves to a pool with no engine: approved requests queue their jobs.
pool=$(call "$admin" POST /api/v1/engine-pools '{"name": "bench"}' | field 'd["id"]')
call "$admin" PATCH "/api/v1/domains/$domain" "{\"pool_id\": \"$pool\"}" >/dev/null

say "alm: $n requests created, submitted and approved (jobs queue up)"
t=$(now)
for ((i = 0; i < n; i++)); do
  id=$(call "$admin" POST /api/v1/requests "{\"template_id\": \"$template\", \"account_name\": \"p$i\", \"interval\": \"1y\", \"justification\": \"bench\"}" | field 'd["id"]')
  call "$admin" POST "/api/v1/requests/$id/submit" >/dev/null
  call "$approver" POST "/api/v1/approvals/$id/approve" '{}' >/dev/null
done
echo "requests made and approved in $(elapsed "$t") s" >&2
queued=$(call "$admin" GET '/api/v1/jobs?status=queued&limit=1000' | field 'len(d)')
[[ $queued == "$n" ]] || die "expected $n queued jobs, found $queued"

say "alm: the engine joins the pool; provisioning $n accounts"
engine=$(call "$admin" GET /api/v1/engines | field '[e["id"] for e in d if e["in_process"]][0]')
t=$(now)
call "$admin" PATCH "/api/v1/engines/$engine" "{\"pool_id\": \"$pool\", \"active\": true}" >/dev/null
# Polled twice a second (each poll starts curl and python, CPU the two cores need for Samba
# and alm); the time taken is read from the jobs themselves: the last job's finish instant
# minus the moment the engine joined, so the poll interval does not add to it.
while :; do
  done_n=$(call "$admin" GET '/api/v1/jobs?status=succeeded&limit=1000' | field 'len([j for j in d if j["kind"] == "provision"])')
  [[ $done_n == "$n" ]] && break
  failed=$(call "$admin" GET '/api/v1/jobs?status=failed&limit=1000' | field 'len(d)')
  [[ $failed == 0 ]] || die "$failed provisioning jobs failed (see $work/alm.log)"
  sleep 0.5
done
last=$(call "$admin" GET '/api/v1/jobs?status=succeeded&limit=1000' | field 'max(__import__("datetime").datetime.fromisoformat(j["finished_at"].replace("Z", "+00:00")).timestamp() for j in d if j["kind"] == "provision")')
alm_s=$(awk -v a="$t" -v b="$last" 'BEGIN { printf "%.3f", b - a }')
provisioned=$(call "$admin" GET '/api/v1/requests?state=provisioned' | field 'len(d)')
[[ $provisioned == "$n" ]] || die "expected $n provisioned requests, found $provisioned"
accounts=$(call "$admin" GET /api/v1/accounts | field 'd["total"]')
[[ $accounts == "$n" ]] || die "expected $n managed accounts, found $accounts"

say "results ($n accounts)"
awk -v n="$n" -v r="$raw_s" -v a="$alm_s" 'BEGIN {
  printf "raw LDAP adds (one ldapadd, one connection): %.3f s  %.1f accounts/s\n", r, n / r
  printf "alm provisioning (engine, built-in vault):  %.3f s  %.1f accounts/s\n", a, n / a
  printf "ratio alm / raw (accounts per second):       %.2f\n", (n / a) / (n / r)
}'
