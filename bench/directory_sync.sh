#!/usr/bin/env bash
# Directory sync benchmark (run by hand, not a test):
#
#   sudo bash bench/directory_sync.sh
#
# Builds alm (release), starts a throwaway Samba AD DC on 127.0.0.2, fills OU=bench with
# 20,000 users and 2,000 groups (10 members on average), connects alm to that OU and
# measures, in the same run:
#   - raw dump: the four paged searches alm's full sync makes (same base, filters and
#     attributes), done one after the other by `ldapsearch -E pr=1000/noprompt`, output to
#     /dev/null: the reference of the ratio;
#   - full sync: POST /api/v1/domains/{id}/sync?mode=full, as the HTTP client sees it;
#   - incremental sync after 100 changed users: POST …/sync?mode=incremental.
# Each is measured BENCH_ROUNDS times (default 5) and the median reported, with each round's
# ratio; raw dumps and full syncs alternate so that load from elsewhere hits both alike. The
# first full sync adds every object, the later ones find them unchanged. Targets (issue 17):
# full sync ≤ 1.2 × raw dump; incremental ≤ 1 s. With BENCH_PHASES=1 (the default), tcpdump
# records the SYN/FIN packets of the LDAPS connections so each measured step is split into
# "LDAPS connections open" (the union of their lifetimes, should they overlap) and "the
# rest" (alm drops its connection before writing its database);
# then alm is restarted with debug logging of HTTP requests and SQL statements, and one
# more full and incremental sync are split into phases from the log timestamps (not
# counted in the figures).
#
# Takes about 7 minutes on 2 cores with a warm cargo target directory (3 more to rebuild
# alm), most of it filling the directory (bench/README.md, bench/RESULTS.md). Needs root
# (Samba), tcpdump (installed with apt when missing) and 127.0.0.2 free of another DC (the
# address is added to lo when missing and removed again at the end).
#
# Knobs (environment): BENCH_USERS (20000), BENCH_GROUPS (2000), BENCH_ROUNDS (5),
# BENCH_CHANGES (100), BENCH_PHASES (1), BENCH_KEEP=1 keeps the work directory,
# BENCH_SAMBA_ADDR (127.0.0.2), CARGO_TARGET_DIR (~/.cache/alm-target),
# BENCH_BASELINE_BIN: another alm binary (say, a release build of the commit before a change)
# run beside this one on its own SQLite database and measured with a full sync in each round
# too, right after this build's: a before/after on the same directory under the same load,
# for the price of one fill of the directory.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export SAMBA_ADDR=${BENCH_SAMBA_ADDR:-127.0.0.2}
# shellcheck source=tests/peers/samba.sh
. tests/peers/samba.sh

users=${BENCH_USERS:-20000}
groups=${BENCH_GROUPS:-2000}
rounds=${BENCH_ROUNDS:-5}
changes=${BENCH_CHANGES:-100}
phases=${BENCH_PHASES:-1}
baseline_bin=${BENCH_BASELINE_BIN:-}
[[ -z $baseline_bin || -x $baseline_bin ]] || die "BENCH_BASELINE_BIN ($baseline_bin) is not an executable"
user_slice=2000  # users per ldapadd
group_slice=500  # groups per ldapadd
expected=$((1 + users + groups)) # the OU itself, its users and groups
((changes <= users)) || die "BENCH_CHANGES ($changes) exceeds BENCH_USERS ($users)"

[[ $(id -u) == 0 ]] || die "run as root (Samba binds privileged ports)"
command -v cargo >/dev/null || die "cargo not found"
command -v curl >/dev/null || apt_install curl ca-certificates
samba_install
[[ $phases != 1 ]] || command -v tcpdump >/dev/null || apt_install tcpdump

# now: seconds since the epoch with microseconds, "." as separator whatever the locale.
now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_t0=$(now)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
say "building alm (release)"
t=$(now)
cargo build --release --quiet -p alm
bin=$CARGO_TARGET_DIR/release/alm
echo "built in $(elapsed "$t") s: $bin" >&2

# Everything this run starts goes under $work (short: Samba's unix sockets live there).
work=$(mktemp -d /tmp/almb.XXXXXX)
added_addr=0
alm_pid=
base_pid=
tcpdump_pid=
cleanup() {
  local rc=$?
  set +e
  if [[ -n $alm_pid ]]; then kill "$alm_pid" 2>/dev/null && wait "$alm_pid" 2>/dev/null; fi
  if [[ -n $base_pid ]]; then kill "$base_pid" 2>/dev/null && wait "$base_pid" 2>/dev/null; fi
  if [[ -n $tcpdump_pid ]]; then kill "$tcpdump_pid" 2>/dev/null && wait "$tcpdump_pid" 2>/dev/null; fi
  [[ -f $work/samba/samba.pid ]] && samba_stop "$work/samba"
  if ((added_addr)); then ip addr del "$SAMBA_ADDR/8" dev lo; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
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
openssl x509 -in "$SAMBA_CA_FILE" -noout >/dev/null
san=$(openssl x509 -in "$work/samba/tls/cert.pem" -noout -ext subjectAltName)
[[ $san == *"IP Address:$SAMBA_ADDR"* ]] || die "the DC's certificate does not name $SAMBA_ADDR: $san"
export LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand
printf '%s' "$SAMBA_ADMIN_PASSWORD" >"$work/bindpw"
chmod 600 "$work/bindpw"
ldap_opts=(-x -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -y "$work/bindpw")
ou_dn="OU=bench,$SAMBA_BASE_DN"
realm_lc=${SAMBA_REALM,,}

say "populating $ou_dn: $users users, $groups groups (one ldapadd per slice, over LDAPS)"
mkdir -p "$work/ldif"
# Users bu00000…: disabled (514) user objects without a password. Groups bg0000…: a
# random number of members in 1..19 (10 on average), fixed seed.
python3 - "$work/ldif" "$ou_dn" "$realm_lc" "$users" "$groups" "$user_slice" "$group_slice" <<'PY'
import random, sys
out, ou, realm, users, groups, us, gs = sys.argv[1], sys.argv[2], sys.argv[3], *map(int, sys.argv[4:])
rng = random.Random(20000)
with open(f"{out}/ou.ldif", "w") as f:
    f.write(f"dn: {ou}\nobjectClass: organizationalUnit\nou: bench\ndescription: alm directory sync benchmark\n\n")
for s in range(0, users, us):
    with open(f"{out}/users-{s // us:03d}.ldif", "w") as f:
        for i in range(s, min(s + us, users)):
            n = f"bu{i:05d}"
            f.write(f"dn: CN={n},{ou}\nobjectClass: user\nsAMAccountName: {n}\n"
                    f"userPrincipalName: {n}@{realm}\ndisplayName: Bench User {i}\n"
                    f"mail: {n}@example.test\ndescription: bench user {i}\nuserAccountControl: 514\n\n")
links = 0
for s in range(0, groups, gs):
    with open(f"{out}/groups-{s // gs:03d}.ldif", "w") as f:
        for g in range(s, min(s + gs, groups)):
            n = f"bg{g:04d}"
            members = rng.sample(range(users), min(users, rng.randint(1, 19)))
            links += len(members)
            f.write(f"dn: CN={n},{ou}\nobjectClass: group\nsAMAccountName: {n}\ndescription: bench group {g}\n")
            f.writelines(f"member: CN=bu{m:05d},{ou}\n" for m in members)
            f.write("\n")
with open(f"{out}/links", "w") as f:
    f.write(f"{links}\n")
PY
links=$(<"$work/ldif/links")
t=$(now)
ldapadd "${ldap_opts[@]}" -f "$work/ldif/ou.ldif" >/dev/null
done_users=0
for f in "$work"/ldif/users-*.ldif; do
  ldapadd "${ldap_opts[@]}" -f "$f" >/dev/null
  done_users=$((done_users + $(grep -c '^dn: ' "$f")))
  s=$(elapsed "$t")
  printf '  users  %6d/%d  %6.0f s  %4.0f/s\n' "$done_users" "$users" "$s" "$(awk -v n="$done_users" -v s="$s" 'BEGIN { print n / s }')" >&2
done
t_groups=$(now)
done_groups=0
for f in "$work"/ldif/groups-*.ldif; do
  ldapadd "${ldap_opts[@]}" -f "$f" >/dev/null
  done_groups=$((done_groups + $(grep -c '^dn: ' "$f")))
  s=$(elapsed "$t_groups")
  printf '  groups %6d/%d  %6.0f s  %4.0f/s\n' "$done_groups" "$groups" "$s" "$(awk -v n="$done_groups" -v s="$s" 'BEGIN { print n / s }')" >&2
done
populate_s=$(elapsed "$t")
echo "populated in $populate_s s ($links group memberships, $(awk -v l="$links" -v g="$groups" 'BEGIN { printf "%.1f", l / g }') per group)" >&2

# The raw dump: alm's paged searches of a full sync (read.rs: OU_ATTRIBUTES,
# ACCOUNT_FILTER/ACCOUNT_ATTRIBUTES, GROUP_ATTRIBUTES, the schema's attribute names), one
# ldapsearch each.
account_filter='(|(&(objectCategory=person)(objectClass=user))(objectClass=msDS-GroupManagedServiceAccount)(objectClass=msDS-ManagedServiceAccount))'
account_attrs=(objectGUID objectSid objectClass sAMAccountName userPrincipalName description displayName
  userAccountControl accountExpires uSNChanged whenCreated servicePrincipalName memberOf pwdLastSet
  lastLogonTimestamp adminCount msDS-SupportedEncryptionTypes dNSHostName msDS-AllowedToDelegateTo mail)
dump() { # dump OUT_PREFIX (/dev/null: all three to /dev/null)
  local o=$1 ous=$1 accounts=$1 grps=$1
  [[ $o == /dev/null ]] || { ous=$o.ous; accounts=$o.accounts; grps=$o.groups; }
  ldapsearch "${ldap_opts[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$ou_dn" \
    '(objectClass=organizationalUnit)' objectGUID ou name uSNChanged >"$ous"
  ldapsearch "${ldap_opts[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$ou_dn" \
    "$account_filter" "${account_attrs[@]}" >"$accounts"
  ldapsearch "${ldap_opts[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$ou_dn" \
    '(objectClass=group)' objectGUID objectSid sAMAccountName member uSNChanged >"$grps"
  # A full sync also reads the schema's attribute names.
  ldapsearch "${ldap_opts[@]}" -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "CN=Schema,CN=Configuration,$SAMBA_BASE_DN" \
    '(objectClass=attributeSchema)' lDAPDisplayName >/dev/null
}

say "checking the directory (one untimed dump, also warms Samba's caches)"
dump "$work/check"
n_ous=$(grep -c '^dn: ' "$work/check.ous")
n_accounts=$(grep -c '^dn: ' "$work/check.accounts")
n_groups=$(grep -c '^dn: ' "$work/check.groups")
n_links=$(grep -c '^member: ' "$work/check.groups")
echo "found $n_ous OU, $n_accounts accounts, $n_groups groups, $n_links memberships ($(cat "$work"/check.* | wc -c) bytes of LDIF)" >&2
[[ $n_ous == 1 && $n_accounts == "$users" && $n_groups == "$groups" && $n_links == "$links" ]] ||
  die "the directory does not hold what was added"

say "starting alm"
port=$(free_port)
url=http://127.0.0.1:$port
mkdir -p "$work/alm"
alm_env=(ALM_ADMIN_EMAIL=admin@example.test "ALM_ADMIN_PASSWORD=Bench-$(openssl rand -hex 12)-9x" NO_COLOR=1)
start_alm() { # start_alm LOG [ALM_LOG filter]
  local log=$1
  env "${alm_env[@]}" ${2:+"ALM_LOG=$2"} "$bin" serve --data-dir "$work/alm" --listen "127.0.0.1:$port" >"$log" 2>&1 &
  alm_pid=$!
  local i
  for ((i = 0; i < 150; i++)); do
    "$bin" healthcheck --url "$url" >/dev/null 2>&1 && return 0
    kill -0 "$alm_pid" 2>/dev/null || { cat "$log" >&2; die "alm did not start"; }
    sleep 0.2
  done
  cat "$log" >&2
  die "alm is not ready after 30 s"
}
stop_alm() {
  kill "$alm_pid" 2>/dev/null && { wait "$alm_pid" 2>/dev/null || true; }
  alm_pid=
}
start_alm "$work/alm.log"
token=$("$bin" admin create-token admin@example.test --name bench --data-dir "$work/alm")
# api ARGS…: curl with the token ($api_token instead, when set: the baseline's).
api() { curl -sS --max-time 3600 -H "Authorization: Bearer ${api_token:-$token}" -H 'content-type: application/json' "$@"; }
json() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$@"; }

body=$(BASE=$ou_dn python3 -c '
import json, os
e = os.environ
print(json.dumps({"name": "bench", "url": e["SAMBA_LDAPS_URL"], "bind_identity": e["SAMBA_ADMIN_UPN"],
    "bind_password": e["SAMBA_ADMIN_PASSWORD"], "ca_pem": open(e["SAMBA_CA_FILE"]).read(), "base_dn": e["BASE"]}))')
code=$(api -o "$work/domain.json" -w '%{http_code}' -d "$body" "$url/api/v1/domains")
[[ $code == 201 ]] || { cat "$work/domain.json" >&2; die "adding the domain answered $code"; }
domain=$(json "$work/domain.json" 'd["id"]')
api -X POST -o "$work/check.json" "$url/api/v1/domains/$domain/check"
[[ $(json "$work/check.json" 'd["ok"]') == True ]] || { cat "$work/check.json" >&2; die "the domain check failed"; }
echo "domain $domain: $(json "$work/check.json" 'd["message"]')" >&2
if [[ -n $baseline_bin ]]; then
  say "starting the baseline alm ($baseline_bin)"
  base_port=$(free_port)
  base_url=http://127.0.0.1:$base_port
  mkdir -p "$work/alm-base"
  env "${alm_env[@]}" "$baseline_bin" serve --data-dir "$work/alm-base" --listen "127.0.0.1:$base_port" >"$work/alm-base.log" 2>&1 &
  base_pid=$!
  for ((i = 0; i < 150; i++)); do
    "$baseline_bin" healthcheck --url "$base_url" >/dev/null 2>&1 && break
    kill -0 "$base_pid" 2>/dev/null || { cat "$work/alm-base.log" >&2; die "the baseline alm did not start"; }
    sleep 0.2
  done
  base_token=$("$baseline_bin" admin create-token admin@example.test --name bench --data-dir "$work/alm-base")
  code=$(api_token=$base_token api -o "$work/domain-base.json" -w '%{http_code}' -d "$body" "$base_url/api/v1/domains")
  [[ $code == 201 ]] || { cat "$work/domain-base.json" >&2; die "adding the domain to the baseline answered $code"; }
  base_domain=$(json "$work/domain-base.json" 'd["id"]')
fi

# CPU seconds used so far by the DC (every process of its session: the LDAP workers) and by
# alm, from /proc: where a step's time goes when the two cores are the limit.
clk_tck=$(getconf CLK_TCK)
dc_cpu() { cat /proc/[0-9]*/stat 2>/dev/null | awk -v sid="$SAMBA_PID" -v hz="$clk_tck" '{ sub(/^[0-9]+ \(.*\) /, ""); if ($4 == sid) t += $12 + $13 } END { printf "%.2f", t / hz }'; }
alm_cpu() { awk -v hz="$clk_tck" '{ sub(/^[0-9]+ \(.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/${1:-$alm_pid}/stat"; }
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# step NAME START [SECONDS]: NAME ran from START to now (and took SECONDS, when given).
step() { echo "$1 $2 $(now) ${3:-}" >>"$work/steps"; }
# sync MODE OUT [STEP]: POST …/sync?mode=MODE, answer in OUT.json; prints the seconds curl
# took (and records them as step STEP).
sync() {
  local out t
  t=$(now)
  out=$(api -X POST -o "$2.json" -w '%{http_code} %{time_total}' "${sync_domain_url:-$url/api/v1/domains/$domain}/sync?mode=$1")
  [[ -z ${3:-} ]] || step "$3" "$t" "${out#* }"
  [[ ${out%% *} == 200 && $(json "$2.json" 'd["outcome"]') == succeeded ]] ||
    { cat "$2.json" >&2; die "$1 sync: HTTP ${out%% *}"; }
  echo "${out#* }"
}
# sync_base MODE OUT [STEP]: the same through the baseline alm.
sync_base() { api_token=$base_token sync_domain_url=$base_url/api/v1/domains/$base_domain sync "$@"; }
counts() { json "$1.json" '"added %d, updated %d, removed %d" % (d["added"], d["updated"], d["removed"])'; }

# With BENCH_PHASES=1, tcpdump records the opening (SYN) and closing (FIN) packets of
# every LDAPS connection (a kernel filter: nothing else is captured, alm is untouched) and
# $work/steps the start and end of every timed step. alm's sync opens one connection and
# drops it when the directory has been read, before it writes to its database, so per
# step: time with the LDAP connection open vs the rest.
: >"$work/steps"
if [[ $phases == 1 ]]; then
  tcpdump -i lo -n -tt -l -U "host $SAMBA_ADDR and tcp port 636 and (tcp[tcpflags] & (tcp-syn|tcp-fin) != 0)" \
    >"$work/tcp.log" 2>"$work/tcpdump.err" &
  tcpdump_pid=$!
  for ((i = 0; i < 50; i++)); do grep -q 'listening on' "$work/tcpdump.err" && break; sleep 0.1; done
  grep -q 'listening on' "$work/tcpdump.err" || { cat "$work/tcpdump.err" >&2; die "tcpdump did not start"; }
fi

say "raw dump and full sync, $rounds rounds each, alternating"
echo "load average before the rounds: $(uptime | sed 's/.*load average: //')" >&2
raw=() full=() ratios=() raw_dc=() full_dc=() full_alm=() base=() base_ratios=() base_dc=() base_alm=()
for ((r = 1; r <= rounds; r++)); do
  c=$(dc_cpu)
  t=$(now)
  dump /dev/null
  raw+=("$(elapsed "$t")")
  raw_dc+=("$(minus "$(dc_cpu)" "$c")")
  step "raw-$r" "$t"
  c=$(dc_cpu) a=$(alm_cpu)
  full+=("$(sync full "$work/full-$r" "full-$r")")
  full_dc+=("$(minus "$(dc_cpu)" "$c")") full_alm+=("$(minus "$(alm_cpu)" "$a")")
  n=$(json "$work/full-$r.json" 'd["added"] + d["updated"]')
  [[ $n == "$expected" && $(json "$work/full-$r.json" 'd["removed"]') == 0 ]] ||
    die "full sync $r saw $n objects, expected $expected: $(counts "$work/full-$r")"
  ratios+=("$(awk -v f="${full[-1]}" -v r="${raw[-1]}" 'BEGIN { printf "%.2f", f / r }')")
  printf '  round %d: raw dump %7.3f s   full sync %7.3f s (%s)   ratio %s\n' \
    "$r" "${raw[-1]}" "${full[-1]}" "$(counts "$work/full-$r")" "${ratios[-1]}" >&2
  printf '           CPU: raw dump DC %5.2f s   full sync DC %5.2f s + alm %5.2f s\n' \
    "${raw_dc[-1]}" "${full_dc[-1]}" "${full_alm[-1]}" >&2
  if [[ -n $baseline_bin ]]; then
    c=$(dc_cpu) a=$(alm_cpu "$base_pid")
    base+=("$(sync_base full "$work/base-$r" "base-$r")")
    base_dc+=("$(minus "$(dc_cpu)" "$c")") base_alm+=("$(minus "$(alm_cpu "$base_pid")" "$a")")
    n=$(json "$work/base-$r.json" 'd["added"] + d["updated"]')
    [[ $n == "$expected" ]] || die "baseline full sync $r saw $n objects, expected $expected"
    base_ratios+=("$(awk -v f="${base[-1]}" -v r="${raw[-1]}" 'BEGIN { printf "%.2f", f / r }')")
    printf '           baseline full sync %7.3f s (%s)   ratio %s   CPU: DC %5.2f s + alm %5.2f s\n' \
      "${base[-1]}" "$(counts "$work/base-$r")" "${base_ratios[-1]}" "${base_dc[-1]}" "${base_alm[-1]}" >&2
  fi
done

# change USERS_FROM ROUND: a new description for $changes users, one ldapmodify.
change() {
  local i
  for ((i = $1; i < $1 + changes; i++)); do
    printf 'dn: CN=bu%05d,%s\nchangetype: modify\nreplace: description\ndescription: changed in round %s\n\n' \
      $((i % users)) "$ou_dn" "$2"
  done >"$work/change-$2.ldif"
  ldapmodify "${ldap_opts[@]}" -f "$work/change-$2.ldif" >/dev/null
}

say "incremental sync after $changes changed users, $rounds rounds"
incr=()
for ((r = 1; r <= rounds; r++)); do
  change $(((r - 1) * changes)) "$r"
  incr+=("$(sync incremental "$work/incr-$r" "incr-$r")")
  [[ $(json "$work/incr-$r.json" 'd["updated"]') == "$changes" && $(json "$work/incr-$r.json" 'd["added"] + d["removed"]') == 0 ]] ||
    die "incremental sync $r: $(counts "$work/incr-$r"), expected $changes updated"
  printf '  round %d: incremental sync %6.3f s (%s)\n' "$r" "${incr[-1]}" "$(counts "$work/incr-$r")" >&2
done
alm_rss=$(awk '/^VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$alm_pid/status")

raw_m=$(median "${raw[@]}")
full_m=$(median "${full[@]}")
incr_m=$(median "${incr[@]}")
ratio=$(awk -v f="$full_m" -v r="$raw_m" 'BEGIN { printf "%.2f", f / r }')
ratio_m=$(median "${ratios[@]}")

verdict() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "PASS" : "MISS" }'; }

if [[ $phases == 1 ]]; then
  sleep 0.5 # the last FIN
  kill "$tcpdump_pid" && { wait "$tcpdump_pid" || true; }
  tcpdump_pid=
  say "phases of the measured steps: time with LDAPS connections open (from tcpdump) vs the rest"
  python3 - "$work/steps" "$work/tcp.log" <<'PY'
import re, sys
steps = [l.split() + [None] for l in open(sys.argv[1])]
conns = {}  # client endpoint -> [syn time, first fin time]
pkt = re.compile(r'^(\d+\.\d+) IP (\S+) > (\S+): Flags \[([^\]]*)\]')
for line in open(sys.argv[2]):
    m = pkt.match(line)
    if not m:
        continue
    t, src, dst, flags = float(m.group(1)), m.group(2), m.group(3).rstrip(':'), m.group(4)
    client = dst if src.endswith('.636') else src
    if flags == 'S':
        conns[client] = [t, None]
    elif 'F' in flags and client in conns and conns[client][1] is None:
        conns[client][1] = t
split = {}
for name, start, end, total, *_ in steps:
    start, end = float(start), float(end)
    total = float(total) if total else end - start
    inside = sorted((s, f) for s, f in conns.values() if start <= s <= end and f is not None)
    # The union of the connections' lifetimes: overlapping ones count once.
    ldap, reach = 0.0, None
    for s, f in inside:
        if reach is None or s > reach:
            ldap += f - s
            reach = f
        elif f > reach:
            ldap += f - reach
            reach = f
    print(f"  {name:7s} {total:7.3f} s: {len(inside)} LDAPS connection(s) open {ldap:7.3f} s, "
          f"the rest {total - ldap:6.3f} s", file=sys.stderr)
    split.setdefault(name.split('-')[0], []).append((ldap, total - ldap))
med = lambda v: sorted(v)[len(v) // 2]
for kind, v in split.items():
    print(f"  median {kind:4s}: LDAPS connections open {med([a for a, _ in v]):.3f} s, "
          f"the rest {med([b for _, b in v]):.3f} s", file=sys.stderr)
PY
  say "phases: one more full and incremental sync with debug logging (not counted in the figures)"
  stop_alm
  start_alm "$work/alm-debug.log" 'info,tower_http=debug,sqlx::query=debug'
  p_full=$(sync full "$work/phase-full")
  change $((rounds * changes)) phase
  p_incr=$(sync incremental "$work/phase-incr")
  stop_alm
  # Each sync's log lines, in order: the long silence between the last query before the
  # LDAP reads (queueing and leasing the job) and the first one after them is the engine's
  # LDAP read; from there to the end of the request, the database writes of the completion
  # (upserts, removals, user sync, state, run, audit, commit) and the request's wake-up.
  python3 - "$work/alm-debug.log" "$p_full" "$p_incr" <<'PY'
import re, sys
from datetime import datetime
log, totals = sys.argv[1], sys.argv[2:]
ts = re.compile(r'^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+)Z')
ansi = re.compile(r'\x1b\[[0-9;]*m')
# The request span gives each sync's start and end; the engine's work (LDAP read, then the
# completion that writes the database) runs in its own task, so every line inside that time
# window belongs to the sync.
entries, runs, cur = [], [], None
for line in open(log, errors="replace"):
    line = ansi.sub("", line)
    m = ts.match(line)
    if not m:
        continue
    t = datetime.fromisoformat(m.group(1)[:26]).timestamp()
    entries.append((t, line))
    if not re.search(r'path=\S*/sync[ }]', line):
        continue
    if "started processing request" in line:
        cur = {"start": t}
        runs.append(cur)
    elif cur is not None and "finished processing request" in line:
        cur["end"] = t
        cur = None
for run in runs:
    run["lines"] = [(t, l) for t, l in entries if run["start"] < t <= run.get("end", t)]
for name, run, total in zip(["full", "incremental"], runs, totals):
    lines = run["lines"]
    times = [run["start"]] + [t for t, _ in lines]
    gaps = [(times[i + 1] - times[i], i) for i in range(len(times) - 1)]
    gap, i = max(gaps)
    queries = [l for _, l in lines if "sqlx::query" in l]
    upserts = sum(1 for l in queries if "directory_objects" in l)
    sql_s = 0.0
    for l in queries:
        m = re.search(r'elapsed_secs=([0-9.e-]+)', l)
        if m:
            sql_s += float(m.group(1))
    before = times[i] - run["start"]
    after = run["end"] - times[i + 1]
    objs = [t for t, l in lines if "sqlx::query" in l and "directory_objects" in l] or [run["end"]]
    print(f"  {name:11s} sync (curl {float(total):.3f} s, server {run['end'] - run['start']:.3f} s): "
          f"before LDAP {before:.3f} s, LDAP read {gap:.3f} s, database {after:.3f} s "
          f"({len(queries)} statements, {upserts} on directory_objects, {sql_s:.3f} s inside SQLite; "
          f"directory_objects statements {objs[-1] - objs[0]:.3f} s, after them to the answer "
          f"{run['end'] - objs[-1]:.3f} s)", file=sys.stderr)
PY
fi

say "results ($users users, $groups groups, $links memberships; medians of $rounds; load average $(uptime | sed 's/.*load average: //'))"
cat <<TXT
raw dump (4 × ldapsearch -E pr=1000/noprompt):  $raw_m s   [${raw[*]}]
full sync (POST …/sync?mode=full):              $full_m s   [${full[*]}]  (round 1 adds every object)
ratio of the medians full / raw:                 $ratio  (target ≤ 1.2: $(verdict "$ratio" 1.2))
ratio per round:                                 [${ratios[*]}], median $ratio_m
CPU (medians): raw dump DC $(median "${raw_dc[@]}") s; full sync DC $(median "${full_dc[@]}") s + alm $(median "${full_alm[@]}") s
incremental sync after $changes changes:           $incr_m s   [${incr[*]}]  (target ≤ 1 s: $(verdict "$incr_m" 1))
alm peak RSS during the measured runs: $alm_rss; populating took $populate_s s; whole run $(elapsed "$bench_t0") s
TXT
if [[ -n $baseline_bin ]]; then
  cat <<TXT
baseline full sync ($baseline_bin): $(median "${base[@]}") s   [${base[*]}]
baseline ratio full / raw:           $(awk -v f="$(median "${base[@]}")" -v r="$raw_m" 'BEGIN { printf "%.2f", f / r }')   per round [${base_ratios[*]}]
baseline CPU (medians):              DC $(median "${base_dc[@]}") s + alm $(median "${base_alm[@]}") s
TXT
fi
