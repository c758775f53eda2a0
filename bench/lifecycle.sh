#!/usr/bin/env bash
# Lifecycle benchmark (run by hand, not a test; issue 5):
#
#   sudo bash bench/lifecycle.sh
#
# For each backend (PostgreSQL, then SQLite): starts alm, makes its domain, vault, four
# published templates (one per EOL action) and the owner of 50 accounts through the API, then
# bulk-inserts BENCH_ACCOUNTS (1,000,000) managed accounts with SQL (owners, schedules; exactly
# BENCH_DUE = 1,000 due for their EOL action, 1,000 with a reminder due, 100,000 `review`
# accounts past their EOL that the sweep must not scan, 100,000 disabled/expired/deleted
# ones, the rest with EOL dates spread over the next five years), and measures:
#   - the sweep's two look-ups in database time: the SQL text of `accounts::eol_due` and
#     `accounts::reminders_due`, read from crates/alm-store/src/accounts.rs at run time (so it
#     cannot drift), run BENCH_RUNS times with their real bind values — PostgreSQL:
#     `PREPARE` + `EXPLAIN (ANALYZE, BUFFERS) EXECUTE` (execution time, and the plan must use
#     the index); SQLite: the sqlite3 CLI with `.timer on` and `EXPLAIN QUERY PLAN`;
#   - the owner's page, `GET /api/v1/accounts?limit=50` with the owner's API token: a warm-up,
#     then BENCH_REQUESTS sequential requests over one keep-alive connection (a Python client),
#     p50/p99/max; against the raw time of the page's own SQL (its COUNT and its SELECT, the
#     statements `accounts::page` builds for an owner) — the ratio API p99 ÷ raw;
#   - one full sweep end to end, `POST /api/v1/scheduler/sweep` (curl's time_total): it also
#     writes 1,000 status changes, audit records and queued jobs and sends the due reminders.
#
#   - the web pages (issue 14; BENCH_UI=0 leaves them out), each signed in with a session
#     cookie, BENCH_UI_WARMUP (20) then BENCH_UI_REQUESTS (200) sequential requests,
#     p50/p99/max: the owner's Home (50 accounts), the accounts list filtered by the 90-day
#     end-of-life window (its first and its last page of 25), the unfiltered list's page 1000,
#     and the administrator's dashboard.
#
# Knobs: BENCH_ACCOUNTS (1000000, a multiple of 50), BENCH_DUE (1000), BENCH_RUNS (7),
# BENCH_REQUESTS (2000), BENCH_WARMUP (200), BENCH_BACKENDS ("postgres sqlite"),
# BENCH_KEEP=1 (keep the temporary directory), BENCH_ALM_BIN (use this alm binary, no build),
# CARGO_TARGET_DIR.
# Needs root (PostgreSQL runs as `postgres`), python3, curl, psql, sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

n=${BENCH_ACCOUNTS:-1000000}
due=${BENCH_DUE:-1000}
runs=${BENCH_RUNS:-7}
requests=${BENCH_REQUESTS:-2000}
warmup=${BENCH_WARMUP:-200}
backends=${BENCH_BACKENDS:-postgres sqlite}
ui=${BENCH_UI:-1}
ui_requests=${BENCH_UI_REQUESTS:-200}
ui_warmup=${BENCH_UI_WARMUP:-20}
((n % 50 == 0 && n >= 300000)) || die "BENCH_ACCOUNTS must be a multiple of 50, at least 300000"
[[ $(id -u) == 0 ]] || die "run as root (PostgreSQL is started as the postgres user)"
apt_install postgresql sqlite3 curl
command -v psql >/dev/null || die "psql missing"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
if [[ -n ${BENCH_ALM_BIN:-} ]]; then
  bin=$BENCH_ALM_BIN # an alm binary built earlier (to compare builds)
else
  say "building alm (release)"
  cargo build --release --quiet -p alm
  bin=$CARGO_TARGET_DIR/release/alm
fi

work=$(mktemp -d /tmp/almlc.XXXXXX)
chmod 755 "$work"
alm_pid=
pg_started=0
cleanup() {
  local rc=$?
  set +e
  if [[ -n $alm_pid ]]; then kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null; fi
  ((pg_started)) && pg_stop
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_us() { python3 -c 'import time; print(time.time_ns() // 1000)'; }
field() { python3 -c 'import json, sys; print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))' "$1"; }

# The sweep's SQL, read from the code: eol_due's and reminders_due's statements and the batch
# size of lifecycle::sweep. Fails if the functions cannot be found.
python3 - "$work" <<'PY'
import re, sys
src = open("crates/alm-store/src/accounts.rs").read()
life = open("crates/alm-server/src/services/lifecycle/eol_sweep.rs").read()
def literal(text):  # a Rust string literal with `\` line continuations
    return re.sub(r"\\\n\s*", "", text)
columns = literal(re.search(r'const COLUMNS: &str = "((?:[^"\\]|\\.)*)";', src, re.S).group(1))
def statement(fn):
    body = src[src.index(f"pub async fn {fn}("):]
    return literal(re.search(r'"((?:[^"\\]|\\.)*)"', body, re.S).group(1)).replace("{COLUMNS}", columns)
eol = statement("eol_due")
rem = statement("reminders_due")
assert "managed_accounts" in eol and "$1" in eol and "$2" in eol, eol
assert "account_schedule" in rem and "$2" in rem, rem
batch = re.search(r"const BATCH: u32 = (\d+);", life).group(1)
open(sys.argv[1] + "/eol.sql", "w").write(eol)
open(sys.argv[1] + "/rem.sql", "w").write(rem)
open(sys.argv[1] + "/batch", "w").write(batch)
PY
batch=$(cat "$work/batch")
echo "eol_due: $(cat "$work/eol.sql")" >&2
echo "reminders_due: $(cat "$work/rem.sql")" >&2

# The page an owner sees (accounts::page with visible_to = the owner and their groups, no other
# filter, the default sort by name, limit 50, offset 0): its COUNT and its SELECT, with $n
# placeholders as the code builds them. Written here by hand from accounts::page; the debug
# log check below compares them with what alm actually sends.
page_sql() { # page_sql NGROUPS -> writes count.sql, page.sql
  python3 - "$work" "$1" <<'PY'
import re, sys
work, ngroups = sys.argv[1], int(sys.argv[2])
src = open("crates/alm-store/src/accounts.rs").read()
columns = re.sub(r"\\\n\s*", "", re.search(r'const COLUMNS: &str = "((?:[^"\\]|\\.)*)";', src, re.S).group(1))
clause = "(o.owner_type = 'user' AND o.owner_id = $1)"
if ngroups:
    clause += " OR (o.owner_type = 'group' AND o.owner_id IN (%s))" % ", ".join("$%d" % (i + 2) for i in range(ngroups))
where = "WHERE a.id IN (SELECT o.account_id FROM account_owners o WHERE %s)" % clause
cols = ", ".join("a." + c for c in columns.split(", "))
k = 1 + ngroups
open(work + "/count.sql", "w").write("SELECT COUNT(*) FROM managed_accounts a %s" % where)
open(work + "/page.sql", "w").write("SELECT %s FROM managed_accounts a %s ORDER BY a.name_key ASC, a.id ASC LIMIT $%d OFFSET $%d" % (cols, where, k + 1, k + 2))
PY
}

# The API client: WARMUP then REQUESTS sequential GETs over one keep-alive connection.
cat >"$work/client.py" <<'PY'
import http.client, json, statistics, sys, time
port, token, warmup, requests, expect = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
c = http.client.HTTPConnection("127.0.0.1", int(port))
h = {"Authorization": "Bearer " + token}
def get():
    c.request("GET", "/api/v1/accounts?limit=50", headers=h)
    r = c.getresponse()
    body = r.read()
    if r.status != 200:
        sys.exit("status %d: %s" % (r.status, body[:300]))
    return body
d = json.loads(get())
if d["total"] != expect or len(d["items"]) != min(expect, 50):
    sys.exit("expected %d accounts, got total %s and %d items" % (expect, d["total"], len(d["items"])))
for _ in range(warmup):
    get()
t = []
for _ in range(requests):
    a = time.perf_counter()
    get()
    t.append((time.perf_counter() - a) * 1000)
t.sort()
q = lambda p: t[min(len(t) - 1, int(round(p * len(t))) - 1)]
print("%.3f %.3f %.3f %.3f" % (q(0.50), q(0.99), t[-1], statistics.mean(t)))
PY

# The web pages: signs in through the API (a session cookie, as a browser has), then WARMUP and
# REQUESTS sequential GETs of one page over one keep-alive connection; prints p50 p99 max mean
# in ms, and the first request's time. Fails unless every answer is a 200 page that contains EXPECT.
cat >"$work/client_ui.py" <<'PY'
import http.client, json, statistics, sys, time
port, email, password, path, warmup, requests, expect = sys.argv[1:8]
warmup, requests = int(warmup), int(requests)
c = http.client.HTTPConnection("127.0.0.1", int(port))
c.request("POST", "/api/v1/auth/login", body=json.dumps({"email": email, "password": password}),
          headers={"content-type": "application/json"})
r = c.getresponse()
body = r.read()
if r.status != 200:
    sys.exit("login of %s: %d %s" % (email, r.status, body[:300]))
cookie = r.getheader("set-cookie").split(";")[0]
h = {"Cookie": cookie, "Accept": "text/html"}
def get():
    c.request("GET", path, headers=h)
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or expect.encode() not in body:
        sys.exit("%s: status %d, %r not in the page: %s" % (path, r.status, expect, body[:500]))
a = time.perf_counter()
get()
first = (time.perf_counter() - a) * 1000
for _ in range(warmup - 1):
    get()
t = []
for _ in range(requests):
    a = time.perf_counter()
    get()
    t.append((time.perf_counter() - a) * 1000)
t.sort()
q = lambda p: t[min(len(t) - 1, int(round(p * len(t))) - 1)]
print("%.3f %.3f %.3f %.3f %.3f" % (q(0.50), q(0.99), t[-1], statistics.mean(t), first))
PY

# SQLite timings: Python's sqlite3 module runs the statement with the same text and bind
# values as alm (named parameters $1, $2, …), fetching every row; prints one line per run:
# milliseconds and rows. (The sqlite3 CLI's `.timer` only shows whole milliseconds.)
cat >"$work/sqlite_time.py" <<'PY2'
import sqlite3, sys, time
db, runs, files, params = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(","), sys.argv[4:]
c = sqlite3.connect(db, timeout=30)
binds = {str(i + 1): (int(v) if v.lstrip("-").isdigit() else v) for i, v in enumerate(params)}
stmts = [open(f).read() for f in files]
for _ in range(runs):
    total, rows = 0.0, []
    for s in stmts:
        names = {k: v for k, v in binds.items() if "$" + k in s}
        a = time.perf_counter()
        r = c.execute(s, names).fetchall()
        total += time.perf_counter() - a
        rows.append(len(r))
    print("%.3f %s" % (total * 1000, "+".join(map(str, rows))))
PY2

median_max() { python3 -c 'import statistics, sys; v = [float(x) for x in sys.argv[1:]]; print("%.3f %.3f" % (statistics.median(v), max(v)))' "$@"; }

declare -A R # results, key backend.what

bench_backend() {
  local backend=$1
  local dir=$work/$backend port url db_url sqlite_db=
  mkdir -p "$dir"
  if [[ $backend == postgres ]]; then
    pg_start "$work/pg"
    pg_started=1
    psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE alm' >/dev/null
    db_url="postgres://postgres@127.0.0.1:$PG_PORT/alm"
    sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d alm "$@"; }
    query() { sql -A -t -c "$1"; }
  else
    db_url=
    sqlite_db=$dir/alm/alm.db
    sql() { sqlite3 -bail -cmd '.timeout 30000' "$sqlite_db" "$@"; }
    query() { sql "$1"; }
  fi

  say "$backend: starting alm"
  port=$(free_port)
  url="http://127.0.0.1:$port"
  # The scheduler is off: only the measured sweep runs.
  env ${db_url:+ALM_DATABASE__URL=$db_url} ALM_SCHEDULER__ENABLED=false \
    ALM_ADMIN_EMAIL=admin@example.test ALM_ADMIN_PASSWORD='bench admin password' \
    "$bin" serve --data-dir "$dir/alm" --listen "127.0.0.1:$port" >"$dir/alm.log" 2>&1 &
  alm_pid=$!
  local i
  for ((i = 0; i < 150; i++)); do
    "$bin" healthcheck --url "$url" >/dev/null 2>&1 && break
    kill -0 "$alm_pid" 2>/dev/null || { cat "$dir/alm.log" >&2; die "alm exited"; }
    sleep 0.2
  done
  tok() { env ${db_url:+ALM_DATABASE__URL=$db_url} "$bin" admin create-token "$1" --name bench --data-dir "$dir/alm"; }
  local admin owner_tok
  admin=$(tok admin@example.test)
  call() { # call METHOD PATH [BODY]
    curl -sS --fail-with-body --max-time 600 -H "Authorization: Bearer $admin" -H 'content-type: application/json' \
      -X "$1" "$url$2" ${3:+-d "$3"}
  }

  say "$backend: domain, vault, templates and the owner through the API"
  local owner vault everyone pool domain ou="OU=bench,DC=corp,DC=example,DC=test" retire="OU=retired,DC=corp,DC=example,DC=test"
  owner=$(call POST /api/v1/users '{"display_name": "Owner of fifty", "emails": ["owner50@example.test"]}' | field 'd["id"]')
  owner_tok=$(tok owner50@example.test)
  vault=$(call GET /api/v1/vaults | field '[v["id"] for v in d["items"] if v["kind"] == "builtin"][0]')
  everyone=$(call GET '/api/v1/groups?limit=500' | field '[g["id"] for g in d["items"] if g["builtin"] and g["name"] == "Everyone"][0]')
  # A pool with no engine: the sweep's directory changes queue up and nothing connects anywhere.
  pool=$(call POST /api/v1/engine-pools '{"name": "bench"}' | field 'd["id"]')
  domain=$(call POST /api/v1/domains "{\"name\": \"bench\", \"url\": \"ldaps://127.0.0.1:9\", \"bind_identity\": \"bench@corp.example.test\",
    \"bind_password\": \"unused\", \"base_dn\": \"DC=corp,DC=example,DC=test\", \"pool_id\": \"$pool\"}" | field 'd["id"]')
  # The OUs a sync would have stored (templates name only known OUs).
  local t0
  t0=$(now_us)
  sql <<SQL
INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at) VALUES
  ('$domain', 'ou-bench', 'ou', '$ou', 'bench', 1, 1, '{}', $t0),
  ('$domain', 'ou-retired', 'ou', '$retire', 'retired', 1, 1, '{}', $t0);
SQL
  declare -A tpl
  local action extra
  for action in review disable expire delete; do
    extra=
    [[ $action == disable || $action == delete ]] && extra=", \"retirement_ou\": \"$retire\""
    tpl[$action]=$(call POST /api/v1/templates "{\"name\": \"bench-$action\", \"definition\": {
      \"account_type\": \"ad-user\", \"eol_action\": \"$action\", \"vault_id\": \"$vault\", \"folders\": [\"bench\"],
      \"domain_id\": \"$domain\", \"ous\": [\"$ou\"], \"audience_groups\": [\"$everyone\"]$extra,
      \"lifecycle\": {\"intervals\": [\"1y\"]}, \"steps\": [{\"users\": [\"$owner\"], \"min_approvals\": 1}]}}" | field 'd["id"]')
    call POST "/api/v1/templates/${tpl[$action]}/publish" >/dev/null
  done

  say "$backend: generating $n managed accounts"
  local T users=$((n / 50)) seq hex day=86400000000 minute=60000000
  T=$(now_us)
  echo "$T" >"$dir/instant"
  if [[ $backend == postgres ]]; then
    seq="s(n) AS (SELECT generate_series(1::bigint, %N%))"
    hex() { echo "lpad(to_hex($1), 12, '0')"; }
  else
    seq="RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < %N%)"
    hex() { echo "printf('%012x', $1)"; }
  fi
  local uid="'b0000000-0000-4000-8000-' || $(hex n)"
  local owner_of="CASE WHEN n % $users = 0 THEN '$owner' ELSE 'b0000000-0000-4000-8000-' || $(hex "n % $users") END"
  # Classes by n: 1..due due now (an action that changes something); then 1,000 with a reminder
  # due (EOL 1–13 days ahead, renewal window 15 days); then 100,000 `review` accounts past EOL;
  # then 100,000 disabled/expired/deleted past EOL; the rest active, EOL 40 days to 5 years ahead.
  local r1=$((due + 1000)) r2=$((due + 101000)) r3=$((due + 201000))
  local gen="WITH ${seq/\%N\%/$n}, g AS (SELECT n,
      CASE WHEN n <= $due THEN 'due' WHEN n <= $r1 THEN 'remind' WHEN n <= $r2 THEN 'review'
           WHEN n <= $r3 THEN 'off' ELSE 'future' END AS cls FROM s),
    h AS (SELECT n, cls,
      CASE cls WHEN 'due' THEN $T - n * $minute
               WHEN 'remind' THEN $T + $day + (n % 13) * $day
               WHEN 'future' THEN $T + 40 * $day + ((n * 7919) % 2628000) * $minute
               ELSE $T - $minute - ((n * 947) % 1576800) * $minute END AS eol,
      CASE WHEN cls = 'review' THEN 'review'
           WHEN cls IN ('due', 'off') THEN CASE n % 3 WHEN 0 THEN 'disable' WHEN 1 THEN 'expire' ELSE 'delete' END
           ELSE CASE n % 4 WHEN 0 THEN 'review' WHEN 1 THEN 'disable' WHEN 2 THEN 'expire' ELSE 'delete' END END AS act,
      CASE WHEN cls <> 'off' THEN 'active' WHEN n % 3 = 0 THEN 'disabled' WHEN n % 3 = 1 THEN 'expired' ELSE 'deleted' END AS st
      FROM g)"
  local t
  t=$(now_us)
  {
    echo "BEGIN;"
    # The users who own the other accounts, 50 each, members of Everyone like any user.
    echo "WITH ${seq/\%N\%/$((users - 1))} INSERT INTO users (id, display_name, enabled, source, created_at, updated_at)
          SELECT $uid, 'Bench owner ' || n, 1, 'local', $T, $T FROM s;"
    echo "WITH ${seq/\%N\%/$((users - 1))} INSERT INTO user_emails (user_id, email, position)
          SELECT $uid, 'owner' || n || '@bench.example.test', 0 FROM s;"
    echo "WITH ${seq/\%N\%/$((users - 1))} INSERT INTO group_members (group_id, user_id) SELECT '$everyone', $uid FROM s;"
    echo "$gen INSERT INTO managed_accounts (id, domain_id, name, name_key, dn, guid, account_type, description, status,
          template_id, template_version, interval, eol_action, lifecycle_start, eol_at, vault_id, secret_ref, created_at, updated_at)
          SELECT 'a0000000-0000-4000-8000-' || $(hex n), '$domain', 'bsvc' || n, 'bsvc' || n,
            'CN=bsvc' || n || ',$ou', 'c0000000-0000-4000-8000-' || $(hex n), 'ad-user', 'bench account', st,
            CASE act WHEN 'review' THEN '${tpl[review]}' WHEN 'disable' THEN '${tpl[disable]}'
                     WHEN 'expire' THEN '${tpl[expire]}' ELSE '${tpl[delete]}' END, 1, '1y', act,
            eol - 365 * $day, eol, '$vault', 'bench/bsvc' || n, eol - 365 * $day, eol - 365 * $day FROM h;"
    echo "$gen INSERT INTO account_owners (account_id, owner_type, owner_id, position, added_at)
          SELECT 'a0000000-0000-4000-8000-' || $(hex n), 'user', $owner_of, 1, eol - 365 * $day FROM h;"
    echo "$gen INSERT INTO account_schedule (account_id, renewal_at, reminder_due_at)
          SELECT 'a0000000-0000-4000-8000-' || $(hex n), eol - 15 * $day,
            CASE WHEN st = 'active' AND eol > $T THEN eol - 15 * $day END FROM h;"
    echo "COMMIT;"
  } >"$dir/generate.sql"
  sql <"$dir/generate.sql"
  R[$backend.generate]=$(awk -v a="$t" -v b="$(now_us)" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
  # Statistics as a running system has them (autovacuum on PostgreSQL; SQLite has none unless
  # someone runs ANALYZE, and alm does not, so SQLite is measured without them).
  if [[ $backend == postgres ]]; then
    sql -c 'VACUUM ANALYZE'
  fi
  local counts
  counts="SELECT (SELECT COUNT(*) FROM managed_accounts) || ' ' ||
    (SELECT COUNT(*) FROM managed_accounts WHERE status = 'active' AND eol_action <> 'review' AND eol_at <= $T) || ' ' ||
    (SELECT COUNT(*) FROM managed_accounts WHERE status = 'active' AND eol_action = 'review' AND eol_at <= $T) || ' ' ||
    (SELECT COUNT(*) FROM account_owners WHERE owner_type = 'user' AND owner_id = '$owner') || ' ' ||
    (SELECT COUNT(*) FROM account_schedule WHERE reminder_due_at <= $T)"
  counts=$(query "$counts")
  echo "accounts, EOL due, review past EOL, the owner's, reminders due: $counts (generated in ${R[$backend.generate]} s)" >&2
  [[ $counts == "$n $due 100000 50 1000" ]] || die "the generated data is not what the bench needs: $counts"
  R[$backend.size]=$(if [[ $backend == postgres ]]; then query "SELECT pg_size_pretty(pg_database_size('alm'))"; else du -h "$sqlite_db" | cut -f1; fi)

  say "$backend: the sweep's look-ups, $runs runs each (database time)"
  # The bench's instant: now (the sweep endpoint uses the real clock).
  local now eolt=() remt=() plan_eol plan_rem
  now=$(now_us)
  if [[ $backend == postgres ]]; then
    {
      echo "PREPARE eol(bigint, bigint) AS $(cat "$work/eol.sql");"
      echo "PREPARE rem(bigint, bigint) AS $(cat "$work/rem.sql");"
      for ((i = 0; i < runs; i++)); do
        echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE eol($now, $batch);"
        echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE rem($now, $batch);"
      done
    } | sql -A -t >"$dir/sweep_plans.txt"
    # Odd plans are eol_due, even ones reminders_due (they alternate).
    mapfile -t eolt < <(grep 'Execution Time' "$dir/sweep_plans.txt" | awk 'NR % 2 == 1 { print $3 }')
    mapfile -t remt < <(grep 'Execution Time' "$dir/sweep_plans.txt" | awk 'NR % 2 == 0 { print $3 }')
    plan_eol=$(sed -n '1,/Execution Time/p' "$dir/sweep_plans.txt")
    plan_rem=$(sed -n '/Execution Time/,$p' "$dir/sweep_plans.txt" | sed -n '2,/Execution Time/p')
    grep -q 'managed_accounts_eol_due' <<<"$plan_eol" || die "eol_due does not use managed_accounts_eol_due: $plan_eol"
    grep -q 'account_schedule_reminder_due' <<<"$plan_rem" || die "reminders_due does not use its index: $plan_rem"
    grep -q 'Seq Scan' <<<"$plan_eol$plan_rem" && die "a sweep look-up scans a table: $plan_eol $plan_rem"
  else
    {
      echo ".parameter set \$1 $now"
      echo ".parameter set \$2 $batch"
      echo "EXPLAIN QUERY PLAN $(cat "$work/eol.sql");"
      echo "EXPLAIN QUERY PLAN $(cat "$work/rem.sql");"
    } | sql >"$dir/sweep_plans.txt"
    python3 "$work/sqlite_time.py" "$sqlite_db" "$runs" "$work/eol.sql" "$now" "$batch" >"$dir/eol_times.txt"
    python3 "$work/sqlite_time.py" "$sqlite_db" "$runs" "$work/rem.sql" "$now" "$batch" >"$dir/rem_times.txt"
    mapfile -t eolt < <(cut -d' ' -f1 "$dir/eol_times.txt")
    mapfile -t remt < <(cut -d' ' -f1 "$dir/rem_times.txt")
    plan_eol=$(grep -m1 -i 'managed_accounts' "$dir/sweep_plans.txt")
    plan_rem=$(grep -m1 -i 'account_schedule' "$dir/sweep_plans.txt")
    grep -q 'managed_accounts_eol_due' <<<"$plan_eol" || die "eol_due does not use managed_accounts_eol_due: $plan_eol"
    grep -q 'account_schedule_reminder_due' <<<"$plan_rem" || die "reminders_due does not use its index: $plan_rem"
    [[ $(cut -d' ' -f2 "$dir/eol_times.txt" | sort -u) == "$due" ]] || die "eol_due did not return $due rows"
    [[ $(cut -d' ' -f2 "$dir/rem_times.txt" | sort -u) == 1000 ]] || die "reminders_due did not return 1000 rows"
  fi
  R[$backend.eol]=$(median_max "${eolt[@]}")
  R[$backend.eol_runs]="${eolt[*]}"
  R[$backend.rem]=$(median_max "${remt[@]}")
  R[$backend.rem_runs]="${remt[*]}"
  R[$backend.plan_eol]=$(tr -s ' \n' ' ' <<<"$plan_eol" | cut -c1-400)
  R[$backend.plan_rem]=$(tr -s ' \n' ' ' <<<"$plan_rem" | cut -c1-400)
  echo "eol_due: median/max ${R[$backend.eol]} ms (runs ${R[$backend.eol_runs]}); plan: ${R[$backend.plan_eol]}" >&2
  echo "reminders_due: median/max ${R[$backend.rem]} ms (runs ${R[$backend.rem_runs]}); plan: ${R[$backend.plan_rem]}" >&2

  say "$backend: the owner's page, raw SQL ($runs runs)"
  local groups ngroups pt=() args
  groups=$(query "SELECT group_id FROM group_members WHERE user_id = '$owner' ORDER BY group_id")
  ngroups=$(grep -c . <<<"$groups")
  page_sql "$ngroups"
  if [[ $backend == postgres ]]; then
    local types="text" vals="'$owner'" g
    for g in $groups; do types+=", text"; vals+=", '$g'"; done
    {
      echo "PREPARE cnt($types) AS $(cat "$work/count.sql");"
      echo "PREPARE pg($types, bigint, bigint) AS $(cat "$work/page.sql");"
      for ((i = 0; i < runs; i++)); do
        echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE cnt($vals);"
        echo "EXPLAIN (ANALYZE, BUFFERS) EXECUTE pg($vals, 50, 0);"
      done
    } | sql -A -t >"$dir/page_plans.txt"
    mapfile -t pt < <(grep 'Execution Time' "$dir/page_plans.txt" | awk '{ s += $3 } NR % 2 == 0 { printf "%.3f\n", s; s = 0 }')
  else
    {
      echo ".parameter set \$1 '$owner'"
      i=2
      for g in $groups; do echo ".parameter set \$$i '$g'"; i=$((i + 1)); done
      echo ".parameter set \$$i 50"
      echo ".parameter set \$$((i + 1)) 0"
      echo "EXPLAIN QUERY PLAN $(cat "$work/count.sql");"
      echo "EXPLAIN QUERY PLAN $(cat "$work/page.sql");"
    } | sql >"$dir/page_plans.txt"
    # shellcheck disable=SC2086 # one argument per group id
    python3 "$work/sqlite_time.py" "$sqlite_db" "$runs" "$work/count.sql,$work/page.sql" "$owner" $groups 50 0 >"$dir/page_times.txt"
    mapfile -t pt < <(cut -d' ' -f1 "$dir/page_times.txt")
    [[ $(cut -d' ' -f2 "$dir/page_times.txt" | sort -u) == "1+50" ]] || die "the page SQL did not return 1 count and 50 rows"
  fi
  R[$backend.page_raw]=$(median_max "${pt[@]}")
  R[$backend.page_raw_runs]="${pt[*]}"
  echo "page SQL (COUNT + SELECT): median/max ${R[$backend.page_raw]} ms (runs ${R[$backend.page_raw_runs]})" >&2

  say "$backend: the owner's page through the API ($warmup warm-up + $requests requests)"
  R[$backend.load]=$(cut -d' ' -f1-3 /proc/loadavg)
  R[$backend.api]=$(python3 "$work/client.py" "$port" "$owner_tok" "$warmup" "$requests" 50)
  echo "API p50 p99 max mean (ms): ${R[$backend.api]} (load ${R[$backend.load]})" >&2

  if [[ $ui == 1 ]]; then
    say "$backend: web pages ($ui_warmup warm-up + $ui_requests requests each)"
    # The owner signs in with a password (set from the shell, as an administrator would).
    env ${db_url:+ALM_DATABASE__URL=$db_url} ALM_ADMIN_PASSWORD='bench owner password' \
      "$bin" admin reset-password owner50@example.test --data-dir "$dir/alm" >/dev/null
    local window last page_spec label path who pw expect
    window=$(query "SELECT COUNT(*) FROM managed_accounts WHERE eol_at >= $(now_us) AND eol_at < $(($(now_us) + 90 * day))")
    last=$(((window - 1) / 25 * 25))
    for page_spec in \
      "home|/|owner50@example.test|bench owner password|bsvc$n" \
      "accounts-eol90-page1|/accounts?eol_within=90|admin@example.test|bench admin password|Rows 1–25 of" \
      "accounts-eol90-last|/accounts?eol_within=90&offset=$last|admin@example.test|bench admin password|Rows $((last + 1))–" \
      "accounts-page1000|/accounts?offset=24975|admin@example.test|bench admin password|Rows 24976–25000 of $n" \
      "dashboard|/dashboard|admin@example.test|bench admin password|Accounts by status"; do
      IFS='|' read -r label path who pw expect <<<"$page_spec"
      R[$backend.ui.$label]=$(python3 "$work/client_ui.py" "$port" "$who" "$pw" "$path" "$ui_warmup" "$ui_requests" "$expect")
      echo "page $label ($path): p50 p99 max mean (ms) ${R[$backend.ui.$label]}" >&2
    done
    R[$backend.ui_window]=$window
  fi

  say "$backend: one sweep end to end"
  local out
  out=$(curl -sS --fail-with-body --max-time 600 -H "Authorization: Bearer $admin" -X POST \
    -w '\n%{time_total}' "$url/api/v1/scheduler/sweep")
  R[$backend.sweep_s]=$(tail -n1 <<<"$out")
  R[$backend.sweep_report]=$(head -n1 <<<"$out")
  echo "sweep: ${R[$backend.sweep_report]} in ${R[$backend.sweep_s]} s" >&2
  [[ $(head -n1 <<<"$out" | field 'd["eol_processed"]') == "$due" ]] || die "the sweep did not process $due accounts"

  kill "$alm_pid"
  wait "$alm_pid" 2>/dev/null || true
  alm_pid=
  if [[ $backend == postgres ]]; then pg_stop; pg_started=0; fi
}

for b in $backends; do bench_backend "$b"; done

say "results ($n accounts, $due due; times in ms unless marked)"
for b in $backends; do
  read -r em ex <<<"${R[$b.eol]}"
  read -r rm rx <<<"${R[$b.rem]}"
  read -r pm px <<<"${R[$b.page_raw]}"
  read -r a50 a99 amax amean <<<"${R[$b.api]}"
  awk -v b="$b" -v em="$em" -v ex="$ex" -v rm="$rm" -v rx="$rx" -v pm="$pm" -v px="$px" \
    -v a50="$a50" -v a99="$a99" -v amax="$amax" -v sw="${R[$b.sweep_s]}" -v load="${R[$b.load]}" \
    -v gen="${R[$b.generate]}" -v size="${R[$b.size]}" 'BEGIN {
    printf "%s (generated in %s s, database %s; load during the API run %s)\n", b, gen, size, load
    printf "  sweep look-ups: eol_due median %.3f max %.3f; reminders_due median %.3f max %.3f; sum of medians %.3f (target < 100: %s)\n",
      em, ex, rm, rx, em + rm, (ex + rx < 100) ? "PASS" : "MISS"
    printf "  owner page: raw SQL median %.3f max %.3f; API p50 %.3f p99 %.3f max %.3f (target p99 < 20: %s); ratio API p99 / raw median %.1f\n",
      pm, px, a50, a99, amax, (a99 < 20) ? "PASS" : "MISS", a99 / pm
    printf "  one sweep end to end (finding + 1,000 EOL changes + due reminders): %.3f s\n", sw
  }'
  if [[ $ui == 1 ]]; then
    echo "  web pages, p50 / p99 / max / first request ms (target p99 < 50); the 90-day window holds ${R[$b.ui_window]} accounts:"
    for label in home accounts-eol90-page1 accounts-eol90-last accounts-page1000 dashboard; do
      read -r u50 u99 umax _ ufirst <<<"${R[$b.ui.$label]}"
      awk -v l="$label" -v a="$u50" -v b="$u99" -v c="$umax" -v f="$ufirst" 'BEGIN { printf "    %-22s %8.3f %8.3f %8.3f %8.3f  %s\n", l, a, b, c, f, (b < 50) ? "PASS" : "MISS" }'
    done
    echo "  (the dashboard's first request counts every account; the counts are then shared for a minute)"
  fi
done
