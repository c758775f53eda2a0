#!/usr/bin/env bash
# Load benchmark (run by hand, not a test; issue 17):
#
#   sudo bash bench/load.sh
#
# Three `alm serve` replicas on one PostgreSQL behind Debian's nginx, configured with the
# README's two nginx blocks (its TLS server block and its `upstream alm` block, read from
# README.md at run time as crates/alm/tests/it/reverse_proxy.rs does, so the documented setup
# is what is measured). Setup through the API: a domain in an engine pool with no engine (no
# directory is needed), its OU, a published template offered to Everyone, a reader and a
# writer (API tokens), a few drafts so that the lists have rows, the administrator's session
# cookie. Then 200 concurrent clients, three `oha` runs at once over HTTPS through nginx:
#   - API reads, BENCH_API_CONNS (100) connections, the reader's token: /api/v1/me, its
#     requests page, one request, the templates page (picked at random per request);
#   - HTML pages, BENCH_PAGE_CONNS (50) connections, the administrator's session cookie:
#     Home, My requests, one request's page;
#   - writes, BENCH_POST_CONNS (50) connections, the writer's token: POST /api/v1/requests,
#     a new draft request (a governed write: the template's checks, one transaction, an
#     audit record; no directory, no engine — drafts do not hold their account name, so the
#     same body can be sent again and again).
# Phase 1: BENCH_SECONDS (30) of that load. Phase 2: the same, and at BENCH_KILL_AT (40) % of
# it the replica that leads the scheduler is SIGKILLed and stays dead. nginx's
# access log (upstream address and status of every try) tells which requests were on the dead
# replica when it died, which were passed on to another one and which failed; the database
# tells which failed POSTs had been committed all the same.
# Prints throughput, p50/p99 and the status/error counts per client and phase, against the
# targets: 0 errors and p99 < 100 ms for reads; with a replica killed, no failed request beyond
# those in flight on the dead replica.
#
# Phase 1b between them: the same connections held to BENCH_RATE_SHARE (50) % of each client's
# phase-1 throughput, for the latency of a busy machine that is not saturated. With
# BENCH_PG_STATS=1 (default) PostgreSQL loads pg_stat_statements and phase 1's top statements
# are printed; every run prints the CPU time of each peer and p50/p99 per address.
#
# Knobs: BENCH_SECONDS, BENCH_KILL_AT, BENCH_API_CONNS, BENCH_PAGE_CONNS, BENCH_POST_CONNS,
# BENCH_RATE_SHARE, BENCH_PG_STATS,
# BENCH_OHA (an oha binary; default: oha OHA_VERSION installed once with cargo into
# ~/.cache/alm-bench/oha), BENCH_ALM_BIN (use this alm binary, no build), BENCH_KEEP=1 (keep
# the temporary directory: logs, nginx's access log, oha's JSON), CARGO_TARGET_DIR.
# Needs root (PostgreSQL runs as `postgres`), python3, curl, openssl, nginx, psql.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

seconds=${BENCH_SECONDS:-30}
kill_at=${BENCH_KILL_AT:-40}
api_conns=${BENCH_API_CONNS:-100}
page_conns=${BENCH_PAGE_CONNS:-50}
post_conns=${BENCH_POST_CONNS:-50}
rate_share=${BENCH_RATE_SHARE:-50}
pg_stats=${BENCH_PG_STATS:-1}
OHA_VERSION=1.16.0
[[ $(id -u) == 0 ]] || die "run as root (PostgreSQL is started as the postgres user)"
apt_install postgresql nginx curl openssl
command -v psql >/dev/null || die "psql missing"

oha=${BENCH_OHA:-$HOME/.cache/alm-bench/oha/bin/oha}
if [[ -z ${BENCH_OHA:-} ]] && ! "$oha" --version 2>/dev/null | grep -q " $OHA_VERSION\$"; then
  say "installing oha $OHA_VERSION (cargo install, once; a few minutes)"
  # Its own temporary target directory, not alm's.
  env -u CARGO_TARGET_DIR cargo install oha --version "$OHA_VERSION" --locked --quiet \
    --root "$HOME/.cache/alm-bench/oha"
fi
"$oha" --version >/dev/null || die "oha does not run: $oha"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
if [[ -n ${BENCH_ALM_BIN:-} ]]; then
  bin=$BENCH_ALM_BIN
else
  say "building alm (release)"
  cargo build --release --quiet -p alm
  bin=$CARGO_TARGET_DIR/release/alm
fi

work=$(mktemp -d /tmp/alm-bench-load.XXXXXX)
chmod 755 "$work"
replica_pids=()
nginx_pid=
load_pids=()
pg_started=0
cleanup() {
  local rc=$? p
  set +e
  for p in "${load_pids[@]}" "${replica_pids[@]}" "$nginx_pid"; do
    [[ -n $p ]] && kill "$p" 2>/dev/null
  done
  for p in "${load_pids[@]}" "${replica_pids[@]}" "$nginx_pid"; do
    [[ -n $p ]] && wait "$p" 2>/dev/null
  done
  ((pg_started)) && pg_stop
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

field() { python3 -c 'import json, sys; print(eval(sys.argv[1], {"d": json.load(sys.stdin)}))' "$1"; }
# Prints what a peer left in its logs, then stops the bench.
fail_with_logs() { # MESSAGE LOG...
  local msg=$1 f
  shift
  for f in "$@"; do
    [[ -f $f ]] && { echo "--- $f (last 60 lines)" >&2; tail -n 60 "$f" >&2; }
  done
  die "$msg"
}

say "starting PostgreSQL"
pg_start "$work/pg"
pg_started=1
psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c 'CREATE DATABASE alm' >/dev/null
if ((pg_stats)); then
  # pg_stat_statements: which statements PostgreSQL's time goes to (a restart loads it).
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
  su postgres -c "$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -n 1)/pg_ctl -D $PG_DIR/data -w -t 30 restart" >/dev/null ||
    fail_with_logs "PostgreSQL did not restart with pg_stat_statements" "$PG_DIR/server.log"
  psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d alm -c 'CREATE EXTENSION pg_stat_statements' >/dev/null
fi
db_url="postgres://postgres@127.0.0.1:$PG_PORT/alm"
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d alm -c "$1"; }

lb_port=$(free_port)
public="https://127.0.0.1:$lb_port"
password='bench admin password'
replica_ports=()
start_replica() { # INDEX
  local i=$1 port n
  port=$(free_port)
  # One data directory for all (its master.key, made by the first replica, is shared).
  ALM_DATABASE__URL=$db_url ALM_PUBLIC_URL=$public ALM_AUTH__TRUSTED_PROXIES=127.0.0.1 \
    ALM_ADMIN_EMAIL=admin@example.test ALM_ADMIN_PASSWORD=$password \
    "$bin" serve --data-dir "$work/alm" --listen "127.0.0.1:$port" >"$work/replica-$i.log" 2>&1 &
  replica_pids[i]=$!
  replica_ports[i]=$port
  for ((n = 0; n < 300; n++)); do
    "$bin" healthcheck --url "http://127.0.0.1:$port" >/dev/null 2>&1 && return
    kill -0 "${replica_pids[i]}" 2>/dev/null || fail_with_logs "replica $i exited" "$work/replica-$i.log"
    sleep 0.2
  done
  fail_with_logs "replica $i did not answer on 127.0.0.1:$port within 60 s" "$work/replica-$i.log"
}
say "starting 3 alm replicas on PostgreSQL"
for i in 0 1 2; do start_replica "$i"; done

say "starting nginx with the README's server and upstream blocks"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
  -addext subjectAltName=IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
# The README's ```nginx blocks, the example addresses, port and paths replaced by ours; each
# replacement must have happened (so a README that changed shape stops the bench).
python3 - "$work" "$lb_port" "${replica_ports[@]}" >"$work/site.conf" <<'PY'
import sys
work, port, replicas = sys.argv[1], sys.argv[2], sys.argv[3:]
readme = open("README.md").read()
def block(first_line):
    fence = "```nginx\n" + first_line
    start = readme.index(fence) + len("```nginx\n")
    return readme[start:readme.index("```", start)]
def put(text, old, new):
    if old not in text:
        sys.exit("the README's nginx block no longer holds %r:\n%s" % (old, text))
    return text.replace(old, new)
upstream = block("upstream alm {")
for example, real in zip(["10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"], replicas):
    upstream = put(upstream, example, "127.0.0.1:" + real)
server = block("server {")
server = put(server, "listen 443 ssl;", "listen 127.0.0.1:%s ssl;" % port)
server = put(server, "/etc/ssl/alm/fullchain.pem", work + "/cert.pem")
server = put(server, "/etc/ssl/alm/privkey.pem", work + "/key.pem")
server = put(server, "http://127.0.0.1:8080", "http://alm")
print(upstream + server)
PY
# Around the blocks: what Debian's nginx.conf would give (worker_processes auto), plus an
# access log that names every upstream try and its status, and a higher connection limit
# than Debian's 768 (200 clients and as many upstream connections).
cat >"$work/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log warn;
events { worker_connections 4096; }
http {
  log_format bench '\$msec \$request_time \$request_method \$status "\$upstream_addr" "\$upstream_status" \$request_uri';
  access_log $work/access.log bench;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
$(cat "$work/site.conf")
}
EOF
nginx -t -q -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" 2>"$work/nginx-test.log" ||
  fail_with_logs "nginx refuses the configuration" "$work/nginx-test.log" "$work/nginx.conf"
nginx -p "$work" -c "$work/nginx.conf" -e "$work/nginx-error.log" 2>"$work/nginx-stderr.log" &
nginx_pid=$!
for ((n = 0; ; n++)); do
  curl -skf -o /dev/null "$public/healthz" && break
  if ((n >= 100)) || ! kill -0 "$nginx_pid" 2>/dev/null; then
    fail_with_logs "nginx did not answer on $public" "$work/nginx-error.log" "$work/nginx-stderr.log"
  fi
  sleep 0.1
done

say "setup through the API"
admin=$(ALM_DATABASE__URL=$db_url "$bin" admin create-token admin@example.test --name bench --data-dir "$work/alm")
call() { # call TOKEN METHOD PATH [BODY]
  curl -sSk --fail-with-body -H "Authorization: Bearer $1" -H 'content-type: application/json' \
    -X "$2" "$public$3" ${4:+-d "$4"}
}
admin_id=$(call "$admin" GET /api/v1/me | field 'd["user"]["id"]')
requester_role=$(call "$admin" GET '/api/v1/roles?limit=500' | field '[r["id"] for r in d["items"] if r["builtin_key"] == "requester"][0]')
for who in reader writer; do
  id=$(call "$admin" POST /api/v1/users "{\"display_name\": \"Load $who\", \"emails\": [\"$who@example.test\"]}" | field 'd["id"]')
  call "$admin" POST "/api/v1/roles/$requester_role/members" "{\"user_id\": \"$id\"}" >/dev/null
done
reader=$(ALM_DATABASE__URL=$db_url "$bin" admin create-token reader@example.test --name bench --data-dir "$work/alm")
writer=$(ALM_DATABASE__URL=$db_url "$bin" admin create-token writer@example.test --name bench --data-dir "$work/alm")
vault=$(call "$admin" GET /api/v1/vaults | field '[v["id"] for v in d["items"] if v["kind"] == "builtin"][0]')
everyone=$(call "$admin" GET '/api/v1/groups?limit=500' | field '[g["id"] for g in d["items"] if g["builtin"] and g["name"] == "Everyone"][0]')
# A pool with no engine: nothing ever connects to the domain's address.
pool=$(call "$admin" POST /api/v1/engine-pools '{"name": "load"}' | field 'd["id"]')
ou="OU=load,DC=corp,DC=example,DC=test"
domain=$(call "$admin" POST /api/v1/domains "{\"name\": \"load\", \"url\": \"ldaps://127.0.0.1:9\",
  \"bind_identity\": \"load@corp.example.test\", \"bind_password\": \"unused\",
  \"base_dn\": \"DC=corp,DC=example,DC=test\", \"pool_id\": \"$pool\"}" | field 'd["id"]')
# The OU a sync would have stored (a template names only known OUs).
sql "INSERT INTO directory_objects (domain_id, guid, kind, dn, name, enabled, usn_changed, details, synced_at)
     VALUES ('$domain', 'ou-load', 'ou', '$ou', 'load', 1, 1, '{}', $(date +%s)000000)" >/dev/null
template=$(call "$admin" POST /api/v1/templates "{\"name\": \"load\", \"definition\": {
  \"account_type\": \"ad-user\", \"eol_action\": \"review\", \"vault_id\": \"$vault\", \"folders\": [\"load\"],
  \"domain_id\": \"$domain\", \"ous\": [\"$ou\"], \"audience_groups\": [\"$everyone\"],
  \"lifecycle\": {\"intervals\": [\"1y\"]}, \"steps\": [{\"users\": [\"$admin_id\"], \"min_approvals\": 1}]}}" | field 'd["id"]')
call "$admin" POST "/api/v1/templates/$template/publish" >/dev/null
draft() { # TOKEN NAME
  call "$1" POST /api/v1/requests "{\"template_id\": \"$template\", \"account_name\": \"$2\", \"interval\": \"1y\",
    \"justification\": \"load test\", \"terms_accepted\": true}" | field 'd["id"]'
}
for i in $(seq 1 30); do reader_request=$(draft "$reader" "reader$i"); done
for i in $(seq 1 30); do admin_request=$(draft "$admin" "admin$i"); done
cookie=$(curl -sSk --fail-with-body -D - -o /dev/null -H 'content-type: application/json' \
  -d "{\"email\": \"admin@example.test\", \"password\": \"$password\"}" "$public/api/v1/auth/login" |
  sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p' | head -n 1)
[[ -n $cookie ]] || die "the administrator's login gave no session cookie"

printf '%s\n' "$public/api/v1/me" "$public/api/v1/requests?limit=25" \
  "$public/api/v1/requests/$reader_request" "$public/api/v1/templates?limit=25" >"$work/api.urls"
printf '%s\n' "$public/" "$public/requests" "$public/requests/$admin_request" >"$work/page.urls"
post_body="{\"template_id\": \"$template\", \"account_name\": \"load\", \"interval\": \"1y\", \"justification\": \"load test\", \"terms_accepted\": true}"
# Each address answers 200 before anything is measured.
while read -r u; do
  curl -sSkf -o /dev/null -H "Authorization: Bearer $reader" "$u" || die "reader: $u does not answer 200"
done <"$work/api.urls"
while read -r u; do
  curl -sSkf -o "$work/page.html" -H "Cookie: $cookie" -H 'Accept: text/html' "$u" || die "administrator: $u does not answer 200"
  grep -qi '<!doctype html' "$work/page.html" || die "administrator: $u is not an HTML page: $(head -c 300 "$work/page.html")"
done <"$work/page.urls"

# run_load NAME SECONDS [API-RATE PAGE-RATE POST-RATE]: the three clients at once; oha's JSON
# in NAME-api.json, NAME-page.json, NAME-post.json; its CPU time in NAME-*.cpu. `-w` waits for
# the requests still running at the deadline instead of counting them as errors. Without rates
# each connection sends its next request as soon as the last one is answered (closed loop: the
# throughput is the most the setup gives); with rates (requests/s) oha holds each client to it,
# and measures latency from when a request was due (`--latency-correction`), not sent.
run_load() {
  local name=$1 secs=$2
  local -A rate=([api]=${3:-} [page]=${4:-} [post]=${5:-})
  local common=(--no-tui --output-format json -z "${secs}s" -w -t 30s --insecure)
  client() { # KIND OHA-ARGS...
    local kind=$1 limit=()
    shift
    [[ -n ${rate[$kind]} ]] && limit=(-q "${rate[$kind]}" --latency-correction)
    { TIMEFORMAT='%U %S'; time "$oha" "${common[@]}" "${limit[@]}" -o "$work/$name-$kind.json" "$@" 2>>"$work/oha.log"; } 2>"$work/$name-$kind.cpu"
  }
  load_pids=()
  client api -c "$api_conns" -H "Authorization: Bearer $reader" --urls-from-file "$work/api.urls" &
  load_pids+=($!)
  client page -c "$page_conns" -H "Cookie: $cookie" -A text/html --urls-from-file "$work/page.urls" &
  load_pids+=($!)
  client post -c "$post_conns" -H "Authorization: Bearer $writer" -m POST -T application/json -d "$post_body" \
    "$public/api/v1/requests" &
  load_pids+=($!)
}
wait_load() {
  local p
  for p in "${load_pids[@]}"; do wait "$p" || die "oha failed: $(tail -n 5 "$work/oha.log")"; done
  load_pids=()
}
# CPU seconds used so far by the replicas, nginx and PostgreSQL (each process tree, the
# children it has reaped included).
cpu() {
  python3 - "$nginx_pid" "$(head -n 1 "$work/pg/data/postmaster.pid")" "${replica_pids[@]}" <<'PY'
import os, sys
hz = os.sysconf("SC_CLK_TCK")
def stat(pid):
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(f[1]), sum(map(int, f[11:15]))  # ppid; utime stime cutime cstime
procs = {}
for p in os.listdir("/proc"):
    if p.isdigit() and (s := stat(p)):
        procs[int(p)] = s
def tree(root):
    total, todo = 0, [int(root)]
    while todo:
        p = todo.pop()
        if p in procs:
            total += procs[p][1]
            todo += [c for c, (pp, _) in procs.items() if pp == p]
    return total / hz
nginx, pg, *replicas = sys.argv[1:]
print("%.1f %.1f %.1f" % (sum(tree(r) for r in replicas), tree(nginx), tree(pg)))
PY
}
drafts() { sql "SELECT COUNT(*) FROM requests WHERE requester_id = (SELECT user_id FROM user_emails WHERE email = 'writer@example.test')"; }

say "warm-up (5 s, not counted)"
run_load warmup 5
wait_load
: >"$work/access.log"
kill -USR1 "$nginx_pid" # reopen the log

say "phase 1: ${seconds} s, $api_conns API readers + $page_conns page readers + $post_conns writers"
uptime | tee "$work/uptime-1" >&2
drafts_before=$(drafts)
((pg_stats)) && sql "SELECT pg_stat_statements_reset()" >/dev/null
cpu_before=$(cpu)
start_1=$(date +%s.%N)
run_load phase1 "$seconds"
wait_load
end_1=$(date +%s.%N)
cpu_after=$(cpu)
drafts_1=$(($(drafts) - drafts_before))
mv "$work/access.log" "$work/access-1.log"
kill -USR1 "$nginx_pid"
if ((pg_stats)); then
  sql "SELECT calls, round(total_exec_time)::bigint, round(mean_exec_time::numeric, 3), rows,
         regexp_replace(left(query, 160), '\s+', ' ', 'g')
       FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT 15" >"$work/pg-top.txt"
fi
sleep 1

# Phase 1b: the same connections held to BENCH_RATE_SHARE % of the throughput each client had
# in phase 1: the latency of a machine that is busy but not saturated.
read -r rate_api rate_page rate_post < <(python3 - "$work" "$rate_share" <<'PY'
import json, sys
work, share = sys.argv[1], float(sys.argv[2]) / 100
rates = []
for kind in ("api", "page", "post"):
    d = json.load(open("%s/phase1-%s.json" % (work, kind)))
    rates.append("%.0f" % max(1, d["summary"]["requestsPerSec"] * share))
print(" ".join(rates))
PY
)
say "phase 1b: ${seconds} s, the same connections held to $rate_share % of phase 1's throughput ($rate_api + $rate_page + $rate_post req/s)"
run_load phase1b "$seconds" "$rate_api" "$rate_page" "$rate_post"
wait_load
cat "$work/access.log" >>"$work/access-1b.log"
: >"$work/access.log"
drafts_before=$(drafts)
sleep 1

# The replica that leads the scheduler is the one killed (the first one if none says so yet).
victim=0
for i in 0 1 2; do
  grep -q 'this process leads the lifecycle sweeps' "$work/replica-$i.log" && victim=$i
done
say "phase 2: the same, replica $victim (the scheduler's leader) killed at ${kill_at} % of it"
uptime | tee "$work/uptime-2" >&2
run_load phase2 "$seconds"
sleep "$(python3 -c "print($seconds * $kill_at / 100)")"
killed_at=$(date +%s.%N)
kill -KILL "${replica_pids[victim]}"
# Dying takes a moment (its threads stop, its memory goes, then its sockets close): a request
# nginx connects in between is accepted by the kernel and lost with the process. Reaped means
# its sockets are closed.
wait "${replica_pids[victim]}" 2>/dev/null || true
died_at=$(date +%s.%N)
replica_pids[victim]=
echo "killed replica $victim (127.0.0.1:${replica_ports[victim]}) at $killed_at, reaped at $died_at" >&2
wait_load
drafts_2=$(($(drafts) - drafts_before))
cp "$work/access.log" "$work/access-2.log"
uptime | tee "$work/uptime-3" >&2

say "results"
python3 - "$work" "$seconds" "$start_1" "$end_1" "$cpu_before" "$cpu_after" "$drafts_1" "$drafts_2" \
  "$killed_at" "$died_at" "127.0.0.1:${replica_ports[victim]}" "$api_conns" "$page_conns" "$post_conns" "$(nproc)" "$rate_share" <<'PY'
import json, re, sys
(work, seconds, start_1, end_1, cpu_before, cpu_after, drafts_1, drafts_2, killed_at, died_at, dead,
 api_conns, page_conns, post_conns, cores, rate_share) = sys.argv[1:]
killed_at, died_at = float(killed_at), float(died_at)
conns = {"api": api_conns, "page": page_conns, "post": post_conns}
what = {"api": "API reads (GET)", "page": "HTML pages (GET)", "post": "new drafts (POST)"}

def oha(phase, kind):
    d = json.load(open("%s/%s-%s.json" % (work, phase, kind)))
    codes = {int(k): v for k, v in d["statusCodeDistribution"].items()}
    errors = d["errorDistribution"]
    ok = sum(v for k, v in codes.items() if 200 <= k < 300)
    user, sys_ = map(float, open("%s/%s-%s.cpu" % (work, phase, kind)).read().split()[-2:])
    n = ok + sum(v for k, v in codes.items() if not 200 <= k < 300) + sum(errors.values())
    return {"n": n, "rps": n / d["summary"]["total"],
            "ok": ok,
            "p50": d["metrics"]["latency_ms"]["p50"], "p99": d["metrics"]["latency_ms"]["p99"],
            "max": d["metrics"]["latency_ms"]["max"],
            "bad": {str(k): v for k, v in codes.items() if not 200 <= k < 300} | errors,
            "cpu": user + sys_}

def log(path):  # nginx's access log in the `bench` format
    rows = []
    for line in open(path):
        m = re.match(r'(\S+) (\S+) (\S+) (\d+) "([^"]*)" "([^"]*)" (.*)$', line)
        msec, rt, method, status, addrs, statuses, uri = m.groups()
        rows.append({"end": float(msec), "start": float(msec) - float(rt), "method": method,
                     "status": int(status), "addrs": [a.strip() for a in addrs.split(",")],
                     "statuses": [x.strip() for x in statuses.split(",")], "uri": uri})
    return rows

out = []
p = lambda *a: out.append(" ".join(str(x) for x in a))
phases = (("phase1", "1: 3 replicas"), ("phase1b", "1b: 3 replicas, %s %% rate" % rate_share), ("phase2", "2: one killed"))
results = {ph: {k: oha(ph, k) for k in ("api", "page", "post")} for ph, _ in phases}
p("| phase | clients | connections | requests | 2xx | req/s | p50 ms | p99 ms | max ms | not 2xx / errors |")
p("|---|---|---|---|---|---|---|---|---|---|")
for ph, label in phases:
    for k in ("api", "page", "post"):
        r = results[ph][k]
        bad = ", ".join("%s: %d" % kv for kv in r["bad"].items()) or "0"
        p("| %s | %s | %s | %d | %d | %.0f | %.1f | %.1f | %.0f | %s |" % (label, what[k], conns[k], r["n"], r["ok"], r["rps"], r["p50"], r["p99"], r["max"], bad))
    tot = sum(r["rps"] for r in results[ph].values())
    p("| %s | **all** | %d | %d | %d | **%.0f** | | | | %d |" % (label, sum(map(int, conns.values())), sum(r["n"] for r in results[ph].values()),
      sum(r["ok"] for r in results[ph].values()), tot, sum(sum(r["bad"].values()) for r in results[ph].values())))

# Targets, phase 1.
r1 = results["phase1"]
errors_1 = sum(sum(r["bad"].values()) for r in r1.values())
p99_reads = max(r1["api"]["p99"], r1["page"]["p99"])
p()
p("Phase 1 (3 replicas, closed loop): errors %d (target 0) %s; p99 of reads %.1f ms (target < 100) %s" %
  (errors_1, "PASS" if errors_1 == 0 else "MISS", p99_reads, "PASS" if p99_reads < 100 else "MISS"))
r1b = results["phase1b"]
errors_1b = sum(sum(r["bad"].values()) for r in r1b.values())
p99_reads_1b = max(r1b["api"]["p99"], r1b["page"]["p99"])
p("Phase 1b (%s %% of phase 1's rate): errors %d (target 0) %s; p99 of reads %.1f ms (target < 100) %s" %
  (rate_share, errors_1b, "PASS" if errors_1b == 0 else "MISS", p99_reads_1b, "PASS" if p99_reads_1b < 100 else "MISS"))
p("  drafts written: %s, 201 answers: %d" % (drafts_1, r1["post"]["ok"]))

# CPU, phase 1: where the two cores went.
wall = float(end_1) - float(start_1)
before, after = [list(map(float, s.split())) for s in (cpu_before, cpu_after)]
used = [a - b for a, b in zip(after, before)]
oha_cpu = sum(r["cpu"] for r in r1.values())
p("  CPU seconds in %.1f s of wall time (%s cores = %.0f core-s): alm replicas %.1f, nginx %.1f, PostgreSQL %.1f, oha %.1f, the rest (other users of the machine) %.1f" %
  (wall, cores, wall * int(cores), used[0], used[1], used[2], oha_cpu, wall * int(cores) - sum(used) - oha_cpu))

# Phase 2: what nginx saw around the kill.
rows = log(work + "/access-2.log")
on_dead = [r for r in rows if dead in r["addrs"]]
# Started before the replica was gone and ended after the kill (nginx's times are to the
# millisecond).
in_flight = [r for r in on_dead if r["start"] <= died_at + 0.005 and r["end"] >= killed_at - 0.005]
later = [r for r in on_dead if r["start"] > died_at + 0.005]
failed_in_flight = [r for r in in_flight if r["status"] >= 500]
passed_on = [r for r in in_flight if r["status"] < 500]
failed = [r for r in rows if r["status"] >= 300]
unexplained = [r for r in failed if r not in failed_in_flight]
r2 = results["phase2"]
client_failures = sum(sum(r["bad"].values()) for r in r2.values())
p()
p("Phase 2 (the replica at %s killed %.1f s into the phase, gone %.0f ms after the signal):" %
  (dead, killed_at - min(r["start"] for r in rows), (died_at - killed_at) * 1000))
p("  in flight on the dead replica while it died: %d (%d GET, %d POST)" %
  (len(in_flight), sum(r["method"] == "GET" for r in in_flight), sum(r["method"] == "POST" for r in in_flight)))
p("    passed on by nginx to another replica and answered: %d (%s)" %
  (len(passed_on), ", ".join(sorted({"%s %s" % (r["method"], r["status"]) for r in passed_on})) or "-"))
p("    failed: %d (%s)" % (len(failed_in_flight), ", ".join(sorted({"%s %s" % (r["method"], r["status"]) for r in failed_in_flight})) or "-"))
p("  sent to the dead replica after its death (refused, passed on): %d, failed %d" % (len(later), sum(r["status"] >= 500 for r in later)))
p("  failed requests seen by the clients: %d; by nginx: %d, of which not in flight on the dead replica: %d" %
  (client_failures, len(failed), len(unexplained)))
p("  target (no failed request beyond those in flight on the dead replica): %s" %
  ("PASS" if not unexplained and client_failures == len(failed) else "MISS"))
p("  drafts written: %s, 201 answers: %d (a failed POST that the dead replica had committed counts here: %d)" %
  (drafts_2, r2["post"]["ok"], int(drafts_2) - r2["post"]["ok"]))
before_kill = [r for r in rows if r["end"] < killed_at]
t0 = min(r["start"] for r in rows)
t_end = max(r["end"] for r in rows)
after_kill = [r for r in rows if r["end"] >= killed_at + 1]
p("  throughput (nginx's log): %.0f req/s with 3 replicas before the kill, %.0f req/s with 2 from 1 s after it" %
  (len(before_kill) / (killed_at - t0), len(after_kill) / (t_end - killed_at - 1)))
for r in unexplained[:20]:
    p("  unexplained:", r)

# Per address, from nginx's log (its $request_time: from the request's first byte to the
# answer's last; ids shown as ID): which addresses make the tail.
p()
p("| address | phase 1: requests, p50 / p99 ms | phase 1b: requests, p50 / p99 ms |")
p("|---|---|---|")
by = {}
for ph in ("1", "1b"):
    for r in log("%s/access-%s.log" % (work, ph)):
        key = "%s %s" % (r["method"], re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "ID", r["uri"]))
        by.setdefault(key, {}).setdefault(ph, []).append((r["end"] - r["start"]) * 1000)
def q(v, f):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(f * len(v))) - 1)]
for key in sorted(by):
    cells = []
    for ph in ("1", "1b"):
        v = by[key].get(ph, [])
        cells.append("%d, %.0f / %.0f" % (len(v), q(v, 0.5), q(v, 0.99)) if v else "-")
    p("| `%s` | %s |" % (key, " | ".join(cells)))
print("\n".join(out))
PY
if [[ -s $work/pg-top.txt ]]; then
  echo
  echo "PostgreSQL, phase 1, the 15 statements with the most execution time (pg_stat_statements):"
  echo "calls | total ms | mean ms | rows | statement"
  cat "$work/pg-top.txt"
fi
echo
echo "machine load (uptime) before phase 1: $(cat "$work/uptime-1")"
echo "before phase 2: $(cat "$work/uptime-2")"
echo "after phase 2: $(cat "$work/uptime-3")"
