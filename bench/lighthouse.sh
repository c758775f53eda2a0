#!/usr/bin/env bash
# Lighthouse on the web pages (run by hand, not a test; issue 14):
#
#   bash bench/lighthouse.sh
#
# Starts alm on a fresh SQLite database with a domain (its OU stored as a sync would), a
# published template offered to Everyone and one request waiting for the administrator's
# approval, then runs Lighthouse 12.2.3 (npm, installed into ~/.cache/alm-bench/lighthouse) in
# Debian's Chromium, desktop preset, on: the sign-in page, Home, the new-request form and the
# approvals page (the last three with the administrator's session cookie). Prints the
# performance, accessibility and best-practices scores (targets: ≥ 90, ≥ 95, ≥ 95) and keeps
# the reports in BENCH_OUT (default /tmp/alm-lighthouse).
# Knobs: BENCH_ALM_BIN (default: the debug build in CARGO_TARGET_DIR, built if missing),
# CARGO_TARGET_DIR, BENCH_OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v chromium >/dev/null || apt_install chromium
command -v sqlite3 >/dev/null || apt_install sqlite3
command -v npm >/dev/null || apt_install npm
lh=$HOME/.cache/alm-bench/lighthouse
if [[ ! -x $lh/node_modules/.bin/lighthouse ]]; then
  mkdir -p "$lh"
  (cd "$lh" && npm init -y >/dev/null && npm install --no-audit --no-fund lighthouse@12.2.3) >&2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
bin=${BENCH_ALM_BIN:-$CARGO_TARGET_DIR/debug/alm}
[[ -n ${BENCH_ALM_BIN:-} ]] || cargo build --quiet -p alm
out=${BENCH_OUT:-/tmp/alm-lighthouse}
rm -rf "$out" && mkdir -p "$out"

work=$(mktemp -d /tmp/almlh.XXXXXX)
alm_pid=
cleanup() {
  local rc=$?
  [[ -n $alm_pid ]] && kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

field() { python3 -c 'import json, sys; print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))' "$1"; }
port=$(free_port)
url="http://127.0.0.1:$port"
ALM_ADMIN_EMAIL=admin@example.test ALM_ADMIN_PASSWORD='lighthouse admin password' ALM_SCHEDULER__ENABLED=false \
  "$bin" serve --data-dir "$work/alm" --listen "127.0.0.1:$port" >"$work/alm.log" 2>&1 &
alm_pid=$!
for _ in $(seq 150); do "$bin" healthcheck --url "$url" >/dev/null 2>&1 && break; sleep 0.2; done
"$bin" healthcheck --url "$url" >/dev/null || { cat "$work/alm.log" >&2; die "alm did not start"; }
admin=$("$bin" admin create-token admin@example.test --name lighthouse --data-dir "$work/alm")
call() { # call TOKEN METHOD PATH [BODY]
  curl -sS --fail-with-body -H "Authorization: Bearer $1" -H 'content-type: application/json' -X "$2" "$url$3" ${4:+-d "$4"}
}

ou="OU=svc,DC=corp,DC=example,DC=test"
admin_id=$(call "$admin" GET /api/v1/me | field 'd["user"]["id"]')
vault=$(call "$admin" GET /api/v1/vaults | field '[v["id"] for v in d["items"] if v["kind"] == "builtin"][0]')
everyone=$(call "$admin" GET '/api/v1/groups?limit=500' | field '[g["id"] for g in d["items"] if g["builtin"] and g["name"] == "Everyone"][0]')
domain=$(call "$admin" POST /api/v1/domains '{"name": "corp", "url": "ldaps://127.0.0.1:9", "bind_identity": "svc@corp.example.test",
  "bind_password": "unused", "base_dn": "DC=corp,DC=example,DC=test"}' | field 'd["id"]')
sqlite3 "$work/alm/alm.db" "INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at)
  VALUES ('$domain', 'ou-svc', 'ou', '$ou', 'svc', 1, 1, '{}', 0);"
template=$(call "$admin" POST /api/v1/templates "{\"name\": \"Web accounts\", \"definition\": {
  \"account_type\": \"ad-user\", \"eol_action\": \"disable\", \"vault_id\": \"$vault\", \"folders\": [\"web\"],
  \"domain_id\": \"$domain\", \"ous\": [\"$ou\"], \"audience_groups\": [\"$everyone\"], \"name_prefix\": \"svc-\",
  \"purpose\": \"Accounts for web services\", \"terms\": \"Service accounts are reviewed yearly.\",
  \"attributes\": [{\"name\": \"department\", \"required\": true, \"default\": \"IT\"}],
  \"lifecycle\": {\"intervals\": [\"90d\", \"1y\"]}, \"steps\": [{\"users\": [\"$admin_id\"], \"min_approvals\": 1}]}}" | field 'd["id"]')
call "$admin" POST "/api/v1/templates/$template/publish" >/dev/null
# A requester whose request waits for the administrator.
req_id=$(call "$admin" POST /api/v1/users '{"display_name": "Rita Requester", "emails": ["rita@example.test"]}' | field 'd["id"]')
requester_role=$(call "$admin" GET '/api/v1/roles?limit=500' | field '[r["id"] for r in d["items"] if r["builtin_key"] == "requester"][0]')
call "$admin" POST "/api/v1/roles/$requester_role/members" "{\"user_id\": \"$req_id\"}" >/dev/null
rita=$("$bin" admin create-token rita@example.test --name lighthouse --data-dir "$work/alm")
request=$(call "$rita" POST /api/v1/requests "{\"template_id\": \"$template\", \"account_name\": \"shop\", \"interval\": \"90d\",
  \"justification\": \"The web shop reads its orders.\", \"terms_accepted\": true}" | field 'd["id"]')
call "$rita" POST "/api/v1/requests/$request/submit" >/dev/null

cookie=$(curl -sS -D - -o /dev/null -H 'content-type: application/json' \
  -d '{"email": "admin@example.test", "password": "lighthouse admin password"}' "$url/api/v1/auth/login" |
  tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -1)
[[ -n $cookie ]] || die "no session cookie from the login"

run() { # run NAME PATH [COOKIE]
  local headers=()
  [[ -n ${3:-} ]] && headers=(--extra-headers "{\"Cookie\": \"$3\"}")
  CHROME_PATH=/usr/bin/chromium "$lh/node_modules/.bin/lighthouse" "$url$2" --quiet --preset=desktop \
    --only-categories=performance,accessibility,best-practices "${headers[@]}" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --disable-background-networking --disable-component-update --disable-sync" \
    --output=json --output=html --output-path="$out/$1" >/dev/null 2>"$out/$1.log" || { cat "$out/$1.log" >&2; die "lighthouse failed on $2"; }
  python3 - "$out/$1.report.json" "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
c = r["categories"]
s = {k: round(c[k]["score"] * 100) for k in ("performance", "accessibility", "best-practices")}
ok = s["performance"] >= 90 and s["accessibility"] >= 95 and s["best-practices"] >= 95
print("%-12s performance %3d  accessibility %3d  best practices %3d  %s" % (sys.argv[2], s["performance"], s["accessibility"], s["best-practices"], "PASS" if ok else "MISS"))
for k in ("accessibility", "best-practices"):
    for ref in c[k]["auditRefs"]:
        a = r["audits"][ref["id"]]
        if ref["weight"] and a["score"] is not None and a["score"] < 1:
            print("    %s: %s" % (k, a["title"]))
PY
}

say "Lighthouse 12.2.3 (desktop preset) on $url with $("$bin" --version 2>/dev/null || echo alm)"
run sign-in /sign-in
run home / "$cookie"
run new-request "/requests/new/$template" "$cookie"
run approvals /approvals "$cookie"
echo "reports: $out" >&2
