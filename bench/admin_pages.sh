#!/usr/bin/env bash
# Administration pages benchmark (run by hand, not a test; issue 15):
#
#   sudo bash bench/admin_pages.sh
#
# On SQLite (alm's default): starts alm, adds a domain through the API, stops alm and fills
# its database with SQL — BENCH_AUDIT (5,000,000) audit records, one in BENCH_ADMIN_SHARE (5)
# by the administrator and the rest spread over BENCH_USERS (20,000) users, over a year;
# BENCH_USERS enabled users with an email address each; BENCH_OUS (2,000) OUs and as many
# groups in the domain's synced objects; BENCH_GROUPS (2,000) alm groups — then starts alm
# again and measures, signed in with a session cookie as a browser is, BENCH_WARMUP (50) then
# BENCH_REQUESTS (500) sequential GETs over one keep-alive connection, p50/p99/max:
#   - the audit log page filtered by actor: the administrator (BENCH_AUDIT / BENCH_ADMIN_SHARE
#     records), a user with a few records; its first page and its page 100;
#   - the template wizard's pickers: OUs of the domain, users and groups, each searched for a
#     text that matches many, one that matches one, and one that matches none.
# Every answer must be a 200 that holds what the page must show (checked, not assumed).
#
# Knobs: BENCH_AUDIT, BENCH_ADMIN_SHARE, BENCH_USERS, BENCH_OUS, BENCH_GROUPS, BENCH_REQUESTS,
# BENCH_WARMUP, BENCH_KEEP=1 (keep the temporary directory), BENCH_ALM_BIN (use this alm
# binary, no build), CARGO_TARGET_DIR. Needs python3, curl and sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

records=${BENCH_AUDIT:-5000000}
share=${BENCH_ADMIN_SHARE:-5}
users=${BENCH_USERS:-20000}
ous=${BENCH_OUS:-2000}
groups=${BENCH_GROUPS:-2000}
requests=${BENCH_REQUESTS:-500}
warmup=${BENCH_WARMUP:-50}
apt_install sqlite3 curl

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
if [[ -n ${BENCH_ALM_BIN:-} ]]; then
  bin=$BENCH_ALM_BIN
else
  say "building alm (release)"
  cargo build --release --quiet -p alm
  bin=$CARGO_TARGET_DIR/release/alm
fi

work=$(mktemp -d /tmp/alm-bench-admin.XXXXXX)
chmod 755 "$work"
alm_pid=
cleanup() {
  [[ -n $alm_pid ]] && kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

field() { python3 -c 'import json, sys; print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))' "$1"; }
db=$work/alm/alm.db
port=$(free_port)
url="http://127.0.0.1:$port"
password='bench admin password'

start_alm() {
  ALM_SCHEDULER__ENABLED=false ALM_ADMIN_EMAIL=admin@example.test ALM_ADMIN_PASSWORD="$password" \
    "$bin" serve --data-dir "$work/alm" --listen "127.0.0.1:$port" >>"$work/alm.log" 2>&1 &
  alm_pid=$!
  local i
  for ((i = 0; i < 300; i++)); do
    "$bin" healthcheck --url "$url" >/dev/null 2>&1 && return
    kill -0 "$alm_pid" 2>/dev/null || { cat "$work/alm.log" >&2; die "alm exited"; }
    sleep 0.2
  done
  die "alm did not answer"
}

stop_alm() {
  kill "$alm_pid"
  wait "$alm_pid" 2>/dev/null || true
  alm_pid=
}

say "starting alm on SQLite"
start_alm
token=$("$bin" admin create-token admin@example.test --name bench --data-dir "$work/alm")
call() {
  curl -sS --fail-with-body -H "Authorization: Bearer $token" -H 'content-type: application/json' \
    -X "$1" "$url$2" ${3:+-d "$3"}
}
domain=$(call POST /api/v1/domains '{"name": "Bench", "url": "ldaps://127.0.0.1:1", "bind_identity": "bench@corp.example.test", "bind_password": "x", "base_dn": "DC=corp,DC=example,DC=test"}' | field 'd["id"]')
admin_id=$(call GET /api/v1/me | field 'd["user"]["id"]')
stop_alm

say "filling the database: $records audit records, $users users, $ous OUs and groups, $groups alm groups"
started=$(date +%s)
python3 - "$db" "$records" "$share" "$users" "$ous" "$groups" "$domain" "$admin_id" <<'PY'
import sqlite3, sys, uuid, random, time
db, records, share, users, ous, groups, domain, admin = sys.argv[1], *map(int, sys.argv[2:7]), sys.argv[7], sys.argv[8]
random.seed(15)
c = sqlite3.connect(db)
c.execute("PRAGMA journal_mode=WAL")
c.execute("PRAGMA synchronous=OFF")
now = int(time.time() * 1_000_000)
user_ids = [str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(users)]
c.executemany("INSERT INTO users (id, display_name, enabled, source, password_hash, created_at, updated_at) VALUES (?, ?, 1, 'local', NULL, ?, ?)",
              ((u, "Bench user %05d" % i, now, now) for i, u in enumerate(user_ids)))
c.executemany("INSERT INTO user_emails (user_id, email, position) VALUES (?, ?, 0)",
              ((u, "user%05d@bench.example.test" % i) for i, u in enumerate(user_ids)))
c.executemany("INSERT INTO alm_groups (id, builtin_key, name, name_key, description, enabled, created_at, updated_at) VALUES (?, NULL, ?, ?, '', 1, ?, ?)",
              ((str(uuid.uuid4()), "Bench group %04d" % i, "bench group %04d" % i, now, now) for i in range(groups)))
def objects():
    for i in range(ous):
        yield (domain, str(uuid.uuid4()), "ou", "OU=Unit %04d,OU=bench,DC=corp,DC=example,DC=test" % i, "Unit %04d" % i, 1, i, "{}", now)
        yield (domain, str(uuid.uuid4()), "group", "CN=Team %04d,OU=bench,DC=corp,DC=example,DC=test" % i, "Team %04d" % i, 1, i, "{}", now)
c.executemany("INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", objects())
c.commit()
start = c.execute("SELECT COALESCE(MAX(seq), 0) FROM audit_log").fetchone()[0]
year = 365 * 24 * 3600 * 1_000_000
actions = ["user.updated", "account.renewed", "request.submitted", "approval.approved", "login.password", "access.denied"]
def audit():
    for n in range(records):
        seq = start + 1 + n
        actor = admin if n % share == 0 else user_ids[n % users]
        outcome = "denied" if n % 50 == 0 else "success"
        yield (seq, str(uuid.UUID(int=random.getrandbits(128), version=4)), now - year + n * (year // records), "user", actor,
               actions[n % len(actions)], "account", str(n % 100000), outcome, '{"after":{"name":"bench"}}',
               '{"actor_name":"Bench","actor_email":"bench@example.test"}', "00", "00", 0, "00", "%064x" % seq)
batch = []
for row in audit():
    batch.append(row)
    if len(batch) == 100000:
        c.executemany("INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action, object_type, object_id, result, summary, personal, personal_salt, personal_hash, personal_erased, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
        batch.clear()
if batch:
    c.executemany("INSERT INTO audit_log (seq, id, at, actor_kind, actor_id, action, object_type, object_id, result, summary, personal, personal_salt, personal_hash, personal_erased, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
# The chain's head moves past the inserted rows, so the records alm writes next (the bench's
# sign-ins) follow them.
last = start + records
c.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", (last, "%064x" % last))
c.commit()
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
c.execute("ANALYZE")
c.commit()
PY
echo "filled in $(($(date +%s) - started)) s; database $(du -h "$db" | cut -f1)" >&2
start_alm

# WARMUP then REQUESTS sequential GETs of PATH with a session cookie; fails unless each is a
# 200 holding EXPECT; prints p50 p99 max (ms).
cat >"$work/client.py" <<'PY'
import http.client, json, sys, time
port, email, password, path, warmup, requests, expect = sys.argv[1:8]
c = http.client.HTTPConnection("127.0.0.1", int(port))
c.request("POST", "/api/v1/auth/login", body=json.dumps({"email": email, "password": password}),
          headers={"content-type": "application/json"})
r = c.getresponse(); body = r.read()
if r.status != 200:
    sys.exit("login: %d %s" % (r.status, body[:300]))
h = {"Cookie": r.getheader("set-cookie").split(";")[0], "Accept": "text/html"}
def get():
    c.request("GET", path, headers=h)
    r = c.getresponse(); body = r.read()
    if r.status != 200 or expect.encode() not in body:
        sys.exit("%s: status %d, %r not in: %s" % (path, r.status, expect, body[:400]))
for _ in range(int(warmup)):
    get()
t = []
for _ in range(int(requests)):
    a = time.perf_counter(); get(); t.append((time.perf_counter() - a) * 1000)
t.sort()
q = lambda p: t[min(len(t) - 1, int(round(p * len(t))) - 1)]
print("%.2f %.2f %.2f" % (q(0.50), q(0.99), t[-1]))
PY

few=user00007@bench.example.test
declare -a rows
measure() { # LABEL PATH EXPECT
  local r
  r=$(python3 "$work/client.py" "$port" admin@example.test "$password" "$2" "$warmup" "$requests" "$3")
  rows+=("| $1 | \`$2\` | $r |")
  echo "$1: p50 p99 max (ms) $r" >&2
}
say "measuring ($warmup warm-up, $requests requests each)"
measure "audit, by the administrator, page 1" "/audit?actor=admin%40example.test" "Rows 1"
measure "audit, by the administrator, page 100" "/audit?actor=admin%40example.test&offset=2475" "Rows 2476"
measure "audit, by a user with few records, page 1" "/audit?actor=$few" "Rows 1"
measure "audit, unfiltered, page 1" "/audit" "Rows 1"
measure "OU picker, many match" "/templates/pick/ous?domain_id=$domain&q=unit" "OU=Unit"
measure "OU picker, one matches" "/templates/pick/ous?domain_id=$domain&q=unit+1234" "OU=Unit 1234"
measure "OU picker, none" "/templates/pick/ous?domain_id=$domain&q=nothing-like-it" ""
measure "user picker, many match" "/templates/pick/users?q=bench" "@bench.example.test"
measure "user picker, one matches" "/templates/pick/users?q=user12345" "user12345@bench.example.test"
measure "group picker, many match" "/templates/pick/groups?q=bench" "Bench group"
measure "group picker, one matches" "/templates/pick/groups?q=group+1234" "Bench group 1234"

echo
echo "$records audit records (1 in $share by the administrator), $users users, $ous OUs + $ous groups synced, $groups alm groups; SQLite; $(nproc) cores"
echo
echo "| what | address | p50 / p99 / max (ms) |"
echo "|---|---|---|"
printf '%s\n' "${rows[@]}"
