#!/usr/bin/env bash
# Builds alm and runs it on this machine, with something to manage:
#   bash scripts/run.sh
# - alm with its embedded SQLite database and master key in .alm-dev/ (kept between runs);
# - a local Samba Active Directory test domain (CORP.EXAMPLE.TEST on 127.0.0.1, LDAPS with a
#   test CA), provisioned fresh at each run, and connected to alm as the domain
#   "Local test domain";
# and prints where to log in. The first start creates the administrator (ALM_ADMIN_EMAIL,
# default admin@alm.localhost) with a one-time password, unless ALM_ADMIN_PASSWORD is set.
# Ctrl-C stops alm and the domain controller. Needs root (Samba binds ports 88, 389, 636…).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. tests/peers/samba.sh

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (1.85 or newer), e.g. with rustup"
command -v curl >/dev/null || apt_install curl ca-certificates
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
data_dir=${ALM_DATA_DIR:-$PWD/.alm-dev}
listen=${ALM_LISTEN:-127.0.0.1:8080}
admin_email=${ALM_ADMIN_EMAIL:-admin@alm.localhost}
unset ALM_DATA_DIR ALM_LISTEN # passed as flags below
mkdir -p "$data_dir"

say "building alm (release; the first build takes a few minutes)"
cargo build --release --quiet -p alm
bin=$CARGO_TARGET_DIR/release/alm

say "starting a local Samba AD test domain"
samba_install
# A DC left by an earlier run (killed without cleanup) still holds the ports: stop it.
[[ -f $data_dir/samba/samba.pid ]] && samba_stop "$data_dir/samba" || true
rm -rf "$data_dir/samba"
samba_start "$data_dir/samba"

alm_pid=
stop_all() {
  [[ -n $alm_pid ]] && kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null
  samba_stop || true
}
trap stop_all EXIT
trap 'exit 130' INT TERM

say "starting alm: data in $data_dir, listening on $listen"
ALM_ADMIN_EMAIL=$admin_email "$bin" serve --data-dir "$data_dir" --listen "$listen" >"$data_dir/alm.log" 2>&1 &
alm_pid=$!
for _ in $(seq 100); do
  "$bin" healthcheck --url "http://$listen" >/dev/null 2>&1 && break
  kill -0 "$alm_pid" 2>/dev/null || { cat "$data_dir/alm.log" >&2; die "alm did not start"; }
  sleep 0.2
done
"$bin" healthcheck --url "http://$listen" >/dev/null || { cat "$data_dir/alm.log" >&2; die "alm is not ready"; }

say "connecting alm to the test domain"
# A short-lived token for this script only; revoked below.
token=$("$bin" admin create-token "$admin_email" --name "scripts/run.sh" --expires 1 --data-dir "$data_dir")
api() { curl -sS -H "Authorization: Bearer $token" -H 'content-type: application/json' "$@"; }
# Values go to Python through the environment, never spliced into code.
domain_body=$(SAMBA_LDAPS_URL=$SAMBA_LDAPS_URL SAMBA_ADMIN_UPN=$SAMBA_ADMIN_UPN SAMBA_ADMIN_PASSWORD=$SAMBA_ADMIN_PASSWORD \
  SAMBA_CA_FILE=$SAMBA_CA_FILE SAMBA_BASE_DN=$SAMBA_BASE_DN python3 -c '
import json, os
e = os.environ
print(json.dumps({
    "name": "Local test domain", "url": e["SAMBA_LDAPS_URL"], "bind_identity": e["SAMBA_ADMIN_UPN"],
    "bind_password": e["SAMBA_ADMIN_PASSWORD"], "ca_pem": open(e["SAMBA_CA_FILE"]).read(),
    "base_dn": e["SAMBA_BASE_DN"]}))')
existing=$(api "http://$listen/api/v1/domains" | python3 -c 'import json,sys; print(next((d["id"] for d in json.load(sys.stdin) if d["name"] == "Local test domain"), ""))')
if [[ -n $existing ]]; then
  # A fresh DC each run: new password and CA, same domain record in alm.
  api -X PATCH -d "$domain_body" "http://$listen/api/v1/domains/$existing" >/dev/null
  domain_id=$existing
else
  domain_id=$(api -d "$domain_body" "http://$listen/api/v1/domains" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
fi
check=$(api -X POST "http://$listen/api/v1/domains/$domain_id/check" | python3 -c 'import json,sys; c=json.load(sys.stdin); print(c["message"])')
token_id=$(api "http://$listen/api/v1/api-tokens?sort=-created_at&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
api -X DELETE "http://$listen/api/v1/api-tokens/$token_id" >/dev/null

password_line=$(grep -m1 'one-time password' "$data_dir/alm.log" || true)
if [[ -n $password_line ]]; then
  password=${password_line##*: }
else
  password="(set at the first start; \`$bin admin reset-password $admin_email --data-dir $data_dir\` sets a new one)"
fi
cat <<TXT

alm is running at http://$listen
  administrator:  $admin_email
  password:       $password
  sign in:        http://$listen/sign-in (in a browser)
  API:            http://$listen/api/v1/openapi.json
  test domain:    $SAMBA_REALM at $SAMBA_LDAPS_URL — $check
  alm's log:      $data_dir/alm.log
Ctrl-C stops alm and the domain controller.
TXT
wait "$alm_pid"
