#!/usr/bin/env bash
# `alm discover` benchmark (run by hand, not a test):
#
#   sudo bash bench/discover.sh
#
# Builds alm (release), starts a throwaway Samba AD DC on 127.0.0.6, fills OU=bench with
# 20,000 users of which 10 % look like service accounts (svc- names, SPNs, non-expiring
# passwords, description keywords, a few with risky flags), and measures, in the same run:
#   - raw dump: the two paged searches alm discover makes for its data (accounts with the
#     directory reader's ACCOUNT_ATTRIBUTES, computers with COMPUTER_ATTRIBUTES; same base
#     and filters), by `ldapsearch -E pr=1000/noprompt` over LDAPS, output to /dev/null;
#   - analysis: `alm discover --no-host-scan --yes` on that OU, from start to exit (bind,
#     scope count, privileged-group look-ups, the reads, analysis, CSV/HTML/PDF reports),
#     under `/usr/bin/time -v` for the peak RSS;
#   - host scan: BENCH_SMB_SERVERS standalone smbd servers (security = user, each with its
#     own config, state, lock, private, pid and ncalrpc dirs and passdb, on its own loopback
#     address 127.0.0.10, .11, …), BENCH_HOSTS_PER_SERVER computer objects per server in
#     OU=hosts,OU=bench (dNSHostName = the server's address), scanned by
#     `alm discover --ou OU=hosts,… --parallel P` for P in BENCH_PARALLEL (1 8 32), logging
#     on as the servers' local account (.\root, --host-user/--host-password-file); the
#     hosts/s figure is the one alm prints for its scan phase.
# Raw dumps and analysis runs alternate, BENCH_ROUNDS times (default 3); medians reported.
# Target: analysis ÷ raw dump ≤ 1.3.
#
# Why standalone smbd servers: Debian's Samba DC needs the fixed winbindd socket
# /run/samba/winbindd for SMB logons (tests/peers/samba_smb.sh), so one SMB DC per machine.
# A standalone smbd needs no winbindd: local users come from its own passdb (tdbsam) and
# NSS files; its svcctl (rpcd_classic under samba-dcerpcd) answers as a DC's does. Each server
# runs its own samba-dcerpcd (started here, workers that do not idle out), so no scan pays
# for starting RPC helpers on demand. The local account is root (in each server's own passdb
# only, with a random password): smbd maps an SMB user to a Unix account, and root needs no
# new account on the machine.
#
# Takes about 8 minutes on 2 cores with a warm cargo target directory, most of it filling
# the directory. Needs root (Samba), the Debian `time` package (installed when missing) and
# 127.0.0.6 and 127.0.0.10… free (added to lo when missing, removed at the end).
#
# Knobs (environment): BENCH_USERS (20000), BENCH_SERVICE_EVERY (10: one user in 10 looks
# like a service account), BENCH_ROUNDS (3), BENCH_SMB_SERVERS (8), BENCH_HOSTS_PER_SERVER
# (8), BENCH_PARALLEL ("1 8 32"), BENCH_SCAN_ROUNDS (3), BENCH_SAMBA_ADDR (127.0.0.6),
# BENCH_SMB_NET (127.0.0: servers on NET.10, NET.11, …), BENCH_KEEP=1 keeps the work
# directory, CARGO_TARGET_DIR (~/.cache/alm-target).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
export SAMBA_ADDR=${BENCH_SAMBA_ADDR:-127.0.0.6}
# shellcheck source=tests/peers/samba.sh
. tests/peers/samba.sh

users=${BENCH_USERS:-20000}
service_every=${BENCH_SERVICE_EVERY:-10}
rounds=${BENCH_ROUNDS:-3}
smb_servers=${BENCH_SMB_SERVERS:-8}
hosts_per_server=${BENCH_HOSTS_PER_SERVER:-8}
read -r -a parallels <<<"${BENCH_PARALLEL:-1 8 32}"
scan_rounds=${BENCH_SCAN_ROUNDS:-3}
smb_net=${BENCH_SMB_NET:-127.0.0}
user_slice=2000 # users per ldapadd
hosts=$((smb_servers * hosts_per_server))

[[ $(id -u) == 0 ]] || die "run as root (Samba binds privileged ports)"
command -v cargo >/dev/null || die "cargo not found"
samba_install
for c in smbd smbpasswd net; do
  command -v "$c" >/dev/null || die "$c is missing (Debian samba, samba-common-bin)"
done
[[ -x /usr/bin/time ]] || apt_install time

now() { local t=$EPOCHREALTIME; echo "${t/,/.}"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { printf "%.3f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_t0=$(now)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
say "building alm (release)"
t=$(now)
cargo build --release --quiet -p alm
bin=$CARGO_TARGET_DIR/release/alm
echo "built in $(elapsed "$t") s: $bin ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+changes'))" >&2

# Everything this run starts goes under $work (short: Samba's unix sockets live there).
work=$(mktemp -d /tmp/almd.XXXXXX)
added_addrs=()
smb_pids=() # smbd and samba-dcerpcd of the SMB servers
cleanup() {
  local rc=$?
  set +e
  [[ -f $work/samba/samba.pid ]] && samba_stop "$work/samba"
  smb_stop_all
  local a
  for a in "${added_addrs[@]}"; do ip addr del "$a/8" dev lo; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

add_addr() {
  local listing
  listing=$(ip -o addr show dev lo)
  if [[ $listing != *" $1/"* ]]; then
    ip addr add "$1/8" dev lo
    added_addrs+=("$1")
  fi
}

# --- SMB servers -------------------------------------------------------------------------
smb_addr() { echo "$smb_net.$((10 + $1))"; }

# smb_procs DIR: pids of the processes started with DIR's smb.conf (smbd's children and
# samba-dcerpcd's rpcd_* workers included: they carry the config path in their arguments).
smb_procs() {
  local pid args out=
  while read -r pid args; do
    [[ " $args " == *"$1/smb.conf "* ]] && out+=" $pid"
  done < <(ps -eo pid=,args=)
  echo "${out# }"
}

smb_stop_all() {
  local p i d left
  for p in "${smb_pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for d in "$work"/smb/*/; do
    [[ -d $d ]] || continue
    d=${d%/}
    for ((i = 0; i < 25; i++)); do
      left=$(smb_procs "$d")
      [[ -z $left ]] && break
      # shellcheck disable=SC2086 # a list of pids
      kill -TERM $left 2>/dev/null
      sleep 0.2
    done
    left=$(smb_procs "$d")
    # shellcheck disable=SC2086
    [[ -z $left ]] || { kill -KILL $left 2>/dev/null; echo "killed leftover SMB processes of $d: $left" >&2; }
  done
  smb_pids=()
}

# smb_start N PASSWORD: standalone smbd N on its own address, with root in its own passdb.
smb_start() {
  local n=$1 addr d
  addr=$(smb_addr "$n")
  d=$work/smb/$n
  mkdir -p "$d"/{state,lock,private,pid,cache,ncalrpc,log}
  add_addr "$addr"
  local listing
  listing=$(ss -Hltn)
  [[ $listing != *" $addr:445 "* ]] || die "something already listens on $addr:445"
  cat >"$d/smb.conf" <<EOF
[global]
  netbios name = ALMBENCH$n
  workgroup = ALMBENCH
  server role = standalone server
  security = user
  interfaces = $addr
  bind interfaces only = yes
  smb ports = 445
  disable netbios = yes
  server min protocol = SMB2_02
  passdb backend = tdbsam:$d/private/passdb.tdb
  state directory = $d/state
  lock directory = $d/lock
  private dir = $d/private
  binddns dir = $d/private
  pid directory = $d/pid
  cache directory = $d/cache
  ncalrpc dir = $d/ncalrpc
  log file = $d/log/smbd.log
  load printers = no
  printcap name = /dev/null
  disable spoolss = yes
  rpc start on demand helpers = no
  rpcd_classic:idle_seconds = 86400
  rpcd_lsad:idle_seconds = 86400
  rpcd_winreg:idle_seconds = 86400
EOF
  printf '%s\n%s\n' "$2" "$2" | smbpasswd -c "$d/smb.conf" -s -a root >/dev/null
  setsid /usr/libexec/samba/samba-dcerpcd "--configfile=$d/smb.conf" --libexec-rpcds \
    --foreground --debug-stdout >"$d/samba-dcerpcd.log" 2>&1 </dev/null &
  smb_pids+=("$!")
  setsid smbd -s "$d/smb.conf" --foreground --no-process-group --debug-stdout >"$d/smbd.log" 2>&1 </dev/null &
  smb_pids+=("$!")
}

# smb_ready N: port 445 answers and `net rpc service list` lists Samba's services.
smb_ready() {
  local addr i out
  addr=$(smb_addr "$1")
  for ((i = 0; i < 80; i++)); do
    if (exec 3<>"/dev/tcp/$addr/445") 2>/dev/null; then
      out=$(net rpc service list -S "$addr" -A "$work/smb-auth" 2>&1) && [[ $out == *Spooler* ]] && return 0
    fi
    sleep 0.25
  done
  echo "$out" >&2
  cat "$work/smb/$1/smbd.log" "$work/smb/$1/samba-dcerpcd.log" >&2
  die "SMB server $1 ($addr) does not list its services"
}

# --- the DC and its data -----------------------------------------------------------------
add_addr "$SAMBA_ADDR"
say "starting a Samba AD DC on $SAMBA_ADDR"
samba_start "$work/samba"
export LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand
(umask 077 && printf '%s\n' "$SAMBA_ADMIN_PASSWORD" >"$work/bindpw")
ldap() { "$1" -x -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -y "$work/bindpw.raw" "${@:2}"; }
(umask 077 && printf '%s' "$SAMBA_ADMIN_PASSWORD" >"$work/bindpw.raw")
ou_dn="OU=bench,$SAMBA_BASE_DN"
hosts_dn="OU=hosts,$ou_dn"
realm_lc=${SAMBA_REALM,,}

say "populating $ou_dn: $users users (1 in $service_every like a service account), $hosts computers"
mkdir -p "$work/ldif"
# Users bu00000…: disabled (514) user objects without a password, as in directory_sync.sh.
# Every SERVICE_EVERY-th user is a service account svc-… instead, enabled with a password:
# by turns an SPN account with a non-expiring password (60 %), a non-expiring one with a
# "service account" description (25 %), a plain svc- account (10 %), and one with a risky
# flag or attribute (5 %: password not required, reversible encryption, AS-REP roastable,
# unconstrained delegation, DES only, adminCount). Fixed seed.
svc_password="Svc-$(openssl rand -hex 8)-9x!"
python3 - "$work/ldif" "$ou_dn" "$realm_lc" "$users" "$service_every" "$user_slice" \
  "$smb_servers" "$hosts_per_server" "$smb_net" "$hosts_dn" "$svc_password" <<'PY'
import base64, random, sys
out, ou, realm = sys.argv[1:4]
users, every, slice_, servers, per = map(int, sys.argv[4:9])
net, hosts_ou, password = sys.argv[9:12]
rng = random.Random(20000)
pwd = base64.b64encode(f'"{password}"'.encode("utf-16-le")).decode()
risky = [  # (userAccountControl, extra attributes)
    (0x220, []),                                   # password not required
    (0x10280, []),                                 # reversible encryption
    (0x410200, []),                                # AS-REP roastable
    (0x90200, []),                                 # unconstrained delegation
    (0x210200, [("msDS-SupportedEncryptionTypes", "3")]),  # DES only
    (0x10200, [("adminCount", "1")]),
]
stats = {"service": 0, "spn": 0, "risky": 0}
with open(f"{out}/ou.ldif", "w") as f:
    f.write(f"dn: {ou}\nobjectClass: organizationalUnit\nou: bench\ndescription: alm discover benchmark\n\n")
    f.write(f"dn: {hosts_ou}\nobjectClass: organizationalUnit\nou: hosts\n\n")
    for s in range(servers):
        for k in range(per):
            n = f"bh{s:02d}{k:03d}"
            f.write(f"dn: CN={n},{hosts_ou}\nobjectClass: computer\nsAMAccountName: {n}$\n"
                    f"dNSHostName: {net}.{10 + s}\nuserAccountControl: 4096\n\n")
svc = 0
for s in range(0, users, slice_):
    with open(f"{out}/users-{s // slice_:03d}.ldif", "w") as f:
        for i in range(s, min(s + slice_, users)):
            if i % every:
                n = f"bu{i:05d}"
                f.write(f"dn: CN={n},{ou}\nobjectClass: user\nsAMAccountName: {n}\n"
                        f"userPrincipalName: {n}@{realm}\ndisplayName: Bench User {i}\n"
                        f"description: bench user {i}\nuserAccountControl: 514\n\n")
                continue
            n = f"svc-app{i:05d}"
            kind = svc % 20
            svc += 1
            stats["service"] += 1
            extra = []
            desc = f"application {i}"
            if kind < 12:
                uac = 0x10200
                host = f"app{i:05d}.{realm}"
                extra = [("servicePrincipalName", f"HTTP/{host}"),
                         ("servicePrincipalName", f"MSSQLSvc/{host}:1433")]
                stats["spn"] += 1
            elif kind < 17:
                uac = 0x10200
                desc = f"service account for batch job {i}"
            elif kind < 19:
                uac = 0x200
            else:
                uac, extra = risky[(svc // 20) % len(risky)]
                stats["risky"] += 1
            f.write(f"dn: CN={n},{ou}\nobjectClass: user\nsAMAccountName: {n}\n"
                    f"userPrincipalName: {n}@{realm}\ndescription: {desc}\n")
            if uac & 0x20 == 0:
                f.write(f"unicodePwd:: {pwd}\n")
            f.write(f"userAccountControl: {uac}\n")
            f.writelines(f"{k}: {v}\n" for k, v in extra)
            f.write("\n")
with open(f"{out}/stats", "w") as f:
    f.write(f"{stats['service']} {stats['spn']} {stats['risky']}\n")
PY
read -r n_service n_spn n_risky <"$work/ldif/stats"
t=$(now)
ldap ldapadd -f "$work/ldif/ou.ldif" >/dev/null
done_users=0
for f in "$work"/ldif/users-*.ldif; do
  ldap ldapadd -f "$f" >/dev/null
  done_users=$((done_users + $(grep -c '^dn: ' "$f")))
  s=$(elapsed "$t")
  printf '  users %6d/%d  %6.0f s  %4.0f/s\n' "$done_users" "$users" "$s" "$(awk -v n="$done_users" -v s="$s" 'BEGIN { print n / s }')" >&2
done
populate_s=$(elapsed "$t")
echo "populated in $populate_s s: $users users, $n_service service-like ($n_spn with SPNs, $n_risky with a risky flag), $hosts computers" >&2

# The raw dump: the directory reader's two data searches (crates/alm-discover/src/
# directory_reader.rs: ACCOUNT_FILTER + ACCOUNT_ATTRIBUTES, COMPUTER_FILTER +
# COMPUTER_ATTRIBUTES), paged, same base.
account_filter='(|(&(objectCategory=person)(objectClass=user))(objectClass=msDS-GroupManagedServiceAccount)(objectClass=msDS-ManagedServiceAccount))'
account_attrs=(objectClass sAMAccountName description userAccountControl msDS-User-Account-Control-Computed
  servicePrincipalName msDS-AllowedToDelegateTo pwdLastSet lastLogonTimestamp whenCreated adminCount
  msDS-SupportedEncryptionTypes userWorkstations primaryGroupID msDS-GroupMSAMembership memberOf)
computer_filter='(objectCategory=computer)'
computer_attrs=(sAMAccountName dNSHostName userAccountControl)
dump() { # dump OUT_PREFIX (/dev/null: both to /dev/null)
  local a=$1 c=$1
  [[ $1 == /dev/null ]] || { a=$1.accounts; c=$1.computers; }
  ldap ldapsearch -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$ou_dn" "$account_filter" "${account_attrs[@]}" >"$a"
  ldap ldapsearch -LLL -o ldif-wrap=no -E pr=1000/noprompt -b "$ou_dn" "$computer_filter" "${computer_attrs[@]}" >"$c"
}
say "checking the directory (one untimed dump, also warms Samba's caches)"
dump "$work/check"
n_accounts=$(grep -c '^dn: ' "$work/check.accounts")
n_computers=$(grep -c '^dn: ' "$work/check.computers")
echo "found $n_accounts accounts, $n_computers computers ($(cat "$work"/check.* | wc -c) bytes of LDIF)" >&2
[[ $n_accounts == "$users" && $n_computers == "$hosts" ]] || die "the directory does not hold what was added"

discover_args=(discover --domain "$SAMBA_LDAPS_URL" --user "$SAMBA_ADMIN_UPN" --password-file "$work/bindpw"
  --ca-file "$SAMBA_CA_FILE" --company "Bench Corp" --yes)

# --- analysis vs raw dump ----------------------------------------------------------------
say "raw dump and alm discover --no-host-scan, $rounds rounds each, alternating"
raw=() ana=() rss=()
for ((r = 1; r <= rounds; r++)); do
  t=$(now)
  dump /dev/null
  raw+=("$(elapsed "$t")")
  t=$(now)
  /usr/bin/time -v -o "$work/time-$r" "$bin" "${discover_args[@]}" --ou "$ou_dn" --no-host-scan \
    --out "$work/out-$r" >"$work/discover-$r.out" 2>"$work/discover-$r.err" ||
    { cat "$work/discover-$r.err" >&2; die "alm discover failed"; }
  ana+=("$(elapsed "$t")")
  rss+=("$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$work/time-$r")")
  line=$(grep -m1 '^read ' "$work/discover-$r.err") || line="(no analysis line)"
  wrote=$(grep -o 'in [0-9]* ms:$' "$work/discover-$r.err" | grep -o '[0-9]*') || wrote='?'
  printf '  round %d: raw dump %7.3f s   alm discover %7.3f s (peak RSS %s MiB; %s; reports %s ms)\n' \
    "$r" "${raw[-1]}" "${ana[-1]}" "${rss[-1]}" "$line" "$wrote" >&2
done
out=$work/out-$rounds
report_files=$(cd "$out" && find . -type f ! -path './logs/*' -printf '%P %s\n' | sort | tr '\n' ';')

# --- host scan ---------------------------------------------------------------------------
say "starting $smb_servers standalone SMB servers on $(smb_addr 0)…$(smb_addr $((smb_servers - 1)))"
smb_password="Host-$(openssl rand -hex 8)-9x"
(umask 077 && printf '%s\n' "$smb_password" >"$work/hostpw" &&
  printf 'username=root\npassword=%s\n' "$smb_password" >"$work/smb-auth")
for ((n = 0; n < smb_servers; n++)); do smb_start "$n" "$smb_password"; done
for ((n = 0; n < smb_servers; n++)); do smb_ready "$n"; done
echo "all $smb_servers answer net rpc service list" >&2

say "host scan of $hosts computers ($hosts_per_server per server), $scan_rounds rounds per parallelism"
declare -A scan_rate scan_all
for ((r = 1; r <= scan_rounds; r++)); do
  for p in "${parallels[@]}"; do
    o=$work/scan-$p-$r
    "$bin" "${discover_args[@]}" --ou "$hosts_dn" --host-user '.\root' --host-password-file "$work/hostpw" \
      --parallel "$p" --out "$o" >"$o.out" 2>"$o.err" </dev/null || { cat "$o.err" >&2; die "alm discover (host scan) failed"; }
    line=$(grep -m1 '^scanned ' "$o.err") || { cat "$o.err" >&2; die "no scan line"; }
    [[ $line == "scanned $hosts hosts (0 failed)"* ]] || { cat "$o"/logs/discover.log >&2; die "host scan: $line"; }
    rate=$(sed -E 's/.* ([0-9.]+) hosts\/s.*/\1/' <<<"$line")
    scan_all[$p]+="$rate "
    printf '  round %d, --parallel %2s: %s\n' "$r" "$p" "$line" >&2
  done
done
for p in "${parallels[@]}"; do
  # shellcheck disable=SC2086 # a list of numbers
  scan_rate[$p]=$(median ${scan_all[$p]})
done
services=$(($(wc -l <"$work/scan-${parallels[0]}-1/services.csv") - 1))

raw_m=$(median "${raw[@]}")
ana_m=$(median "${ana[@]}")
ratio=$(awk -v a="$ana_m" -v r="$raw_m" 'BEGIN { printf "%.2f", a / r }')
verdict=$(awk -v v="$ratio" 'BEGIN { print (v <= 1.3) ? "PASS" : "MISS" }')
rss_max=$(printf '%s\n' "${rss[@]}" | sort -n | tail -1)

say "results ($users users, $n_service service-like; $hosts computers on $smb_servers SMB servers; load: $(uptime | sed 's/.*load average: //'))"
cat <<TXT
raw dump (2 × ldapsearch -E pr=1000/noprompt):     $raw_m s   [${raw[*]}]
alm discover --no-host-scan (analysis + reports):  $ana_m s   [${ana[*]}]
ratio analysis / raw:                              $ratio  (target ≤ 1.3: $verdict)
alm's analysis line (last round): $(grep -m1 '^read ' "$work/discover-$rounds.err")
peak RSS of alm discover (max of $rounds):             $rss_max MiB   [${rss[*]}]
reports (bytes): $report_files
host scan, hosts/s (median of $scan_rounds; $hosts hosts, $smb_servers servers, $services services listed):$(for p in "${parallels[@]}"; do printf '  --parallel %s: %s' "$p" "${scan_rate[$p]}"; done)
  all rounds:$(for p in "${parallels[@]}"; do printf '  %s: [%s]' "$p" "${scan_all[$p]% }"; done)
populating took $populate_s s; whole run $(elapsed "$bench_t0") s
TXT
