#!/usr/bin/env bash
# Proves tests/peers/samba_join.sh works: starts a first DC (domain JOIN, on
# 127.0.0.6), joins a second DC of the same domain (127.0.0.7), checks that
# the test CA verifies both certificates, that users and attribute changes
# made over LDAPS on either DC show up on the other one within a bounded time
# (and a password set on one works on the other), that `samba-tool drs
# showrepl` finds every replication link healthy and that the machine's
# /etc/hosts was not touched; stops both DCs and checks that nothing of them
# is left. Exits non-zero on the first failure. Run as root:
#
#   bash tests/peers/samba_join_selftest.sh
#
# SAMBA_JOIN_SELFTEST_ADDR1 / _ADDR2 change the addresses (added to lo when
# missing), SAMBA_JOIN_SELFTEST_KEEP=1 keeps the temporary directory (logs).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba_join.sh
. "$here/samba_join.sh"

addr1=${SAMBA_JOIN_SELFTEST_ADDR1:-127.0.0.6}
addr2=${SAMBA_JOIN_SELFTEST_ADDR2:-127.0.0.7}
# A domain of its own: nothing here can be confused with the default DC's.
SAMBA_ADDR=$addr1 SAMBA_REALM=JOIN.EXAMPLE.TEST SAMBA_DOMAIN=JOIN SAMBA_HOST=dc1j
SAMBA_JOIN_ADDR=$addr2 SAMBA_JOIN_HOST=dc2j
# How long a change may take to reach the other DC. Samba tells its partners
# about changes every 5 s (urgent ones, such as a new account's
# userAccountControl and password, at once), and they pull them.
repl_limit=60

now() { echo "$EPOCHREALTIME"; }
elapsed() { _samba_since "$1" "${2:-%.1f s}"; }
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
timings=()

t=$(now)
samba_install
command -v iconv >/dev/null || fail "iconv not found"
step "samba_install: $(elapsed "$t")"

work=$(mktemp -d "${TMPDIR:-/tmp}/alm-samba-join.XXXXXX")
cleanup() {
  local rc=$?
  if [[ -n ${SAMBA_JOIN_PID:-} ]]; then
    ((rc == 0)) || { echo "--- last lines of $SAMBA_JOIN_DIR/samba.log" >&2; tail -n 40 "$SAMBA_JOIN_DIR/samba.log" >&2 || true; }
    samba_join_stop || rc=1
  fi
  if [[ -n ${SAMBA_PID:-} ]]; then
    ((rc == 0)) || { echo "--- last lines of ${SAMBA_DIR:-}/samba.log" >&2; tail -n 40 "$SAMBA_DIR/samba.log" >&2 || true; }
    samba_stop || rc=1
  fi
  if [[ ${SAMBA_JOIN_SELFTEST_KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

# The listing is read whole before matching (no `ip | grep -q` under pipefail).
listing=$(ip -o addr show 2>/dev/null) || listing=
if [[ $listing != *" $addr1/"* ]]; then
  ip addr add "$addr1/8" dev lo || fail "cannot add $addr1 to lo"
  echo "added $addr1 to lo"
fi
hosts_before=$(sha256sum /etc/hosts)

t=$(now)
samba_start "$work/dc1"
timings+=("samba_start (first DC): $(elapsed "$t")")
step "${timings[-1]}"
first_pid=$SAMBA_PID

t=$(now)
samba_join_start "$work/dc2"
timings+=("samba_join_start (join + restart of the first DC + start + replication set up): $(elapsed "$t")")
step "${timings[-1]}"
for v in SAMBA_JOIN_DIR SAMBA_JOIN_PID SAMBA_JOIN_ADDR SAMBA_JOIN_HOST SAMBA_JOIN_LDAPS_URL SAMBA_JOIN_LDAP_URL \
  SAMBA_DIR SAMBA_PID SAMBA_LDAPS_URL SAMBA_CA_FILE SAMBA_BASE_DN SAMBA_ADMIN_UPN; do
  printf '%s=%s\n' "$v" "${!v}"
done
[[ $SAMBA_JOIN_LDAPS_URL == "ldaps://$addr2:636" ]] || fail "SAMBA_JOIN_LDAPS_URL is $SAMBA_JOIN_LDAPS_URL"
[[ $SAMBA_LDAPS_URL == "ldaps://$addr1:636" ]] || fail "the first DC's SAMBA_LDAPS_URL changed to $SAMBA_LDAPS_URL"
_samba_alive "$SAMBA_JOIN_PID" || fail "the second DC (pid $SAMBA_JOIN_PID) does not run"
_samba_alive "$SAMBA_PID" || fail "the first DC (pid $SAMBA_PID) does not run"
dc1_dir=$SAMBA_DIR dc1_pid=$SAMBA_PID dc2_dir=$SAMBA_JOIN_DIR dc2_pid=$SAMBA_JOIN_PID
for d in "$dc1_dir" "$dc2_dir"; do
  # Each DC's own /etc/hosts is the file in its directory (samba's mount namespace).
  p=$(<"$d/samba.pid")
  [[ /proc/$p/root/etc/hosts -ef $d/hosts ]] || fail "the DC of $d does not see $d/hosts as /etc/hosts"
done
[[ $(sha256sum /etc/hosts) == "$hosts_before" ]] || fail "/etc/hosts changed"
ok "both DCs run with their own /etc/hosts; the machine's is unchanged"

step "certificates: one test CA for both DCs"
for a in "$addr1" "$addr2"; do
  out=$(openssl s_client -connect "$a:636" -CAfile "$SAMBA_CA_FILE" -verify_return_error -x509_strict \
    -purpose sslserver -verify_ip "$a" </dev/null 2>&1) || { echo "$out"; fail "openssl s_client did not verify $a:636"; }
  [[ $out == *"Verify return code: 0 (ok)"* ]] || { echo "$out"; fail "no 'Verify return code: 0 (ok)' for $a"; }
  ok "$a:636 verifies against $SAMBA_CA_FILE ($(grep -m1 '^subject=' <<<"$out"))"
done

# Every LDAP call below verifies the server certificate against the test CA.
export LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand
url1=$SAMBA_LDAPS_URL url2=$SAMBA_JOIN_LDAPS_URL
admin=(-x -D "$SAMBA_ADMIN_UPN" -w "$SAMBA_ADMIN_PASSWORD")
pwd_b64() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }
# modify URL FILE: ldapmodify on the DC at URL; fails the test on error.
modify() {
  local out
  out=$(ldapmodify "${admin[@]}" -H "$1" -f "$2" 2>&1) || { echo "$out"; fail "ldapmodify on $1 with $2"; }
}
# wait_for URL DN WANT: poll the DC at URL (every 0.1 s, up to repl_limit)
# until a base search of DN returns a line WANT; prints the seconds it took.
wait_for() {
  local url=$1 dn=$2 want=$3 t0=$EPOCHREALTIME out
  while :; do
    out=$(ldapsearch "${admin[@]}" -H "$url" -LLL -o ldif-wrap=no -b "$dn" -s base description 2>/dev/null) || out=
    [[ $'\n'$out$'\n' == *$'\n'"$want"$'\n'* ]] && break
    (($(_samba_since "$t0" %d) < repl_limit)) || return 1
    sleep 0.1
  done
  _samba_since "$t0" "%.2f s"
}

user_pw='Alm-Join-Passw0rd!'
# new_user URL NAME: an enabled user with a password, made on the DC at URL.
new_user() {
  cat >"$work/$2.ldif" <<EOF
dn: CN=$2,CN=Users,$SAMBA_BASE_DN
changetype: add
objectClass: user
sAMAccountName: $2
userPrincipalName: $2@${SAMBA_REALM,,}
description: made on $1
unicodePwd:: $(pwd_b64 "$user_pw")
userAccountControl: 512
EOF
  modify "$1" "$work/$2.ldif"
}
# set_description URL NAME VALUE
set_description() {
  cat >"$work/$2-desc.ldif" <<EOF
dn: CN=$2,CN=Users,$SAMBA_BASE_DN
changetype: modify
replace: description
description: $3
EOF
  modify "$1" "$work/$2-desc.ldif"
}

# check_direction FROM_URL TO_URL USER: a user made on FROM shows up on TO and
# can bind there with its password; then a change of description on FROM (not
# an urgent change) shows up on TO.
check_direction() {
  local from=$1 to=$2 user=$3 dn took
  dn="CN=$user,CN=Users,$SAMBA_BASE_DN"
  new_user "$from" "$user"
  took=$(wait_for "$to" "$dn" "description: made on $from") ||
    fail "$user, made on $from, is not on $to after $repl_limit s"
  timings+=("new user $from -> $to: $took")
  ok "user $user made on $from is on $to after $took"
  ldapsearch -x -H "$to" -D "$user@${SAMBA_REALM,,}" -w "$user_pw" -LLL -b '' -s base dnsHostName >/dev/null ||
    fail "$user cannot bind on $to with the password set on $from"
  ok "$user binds on $to with the password set on $from"
  set_description "$from" "$user" "changed on $from"
  took=$(wait_for "$to" "$dn" "description: changed on $from") ||
    fail "the description of $user changed on $from is not on $to after $repl_limit s"
  timings+=("changed description $from -> $to: $took")
  ok "description changed on $from is on $to after $took"
}

step "replication from the first DC to the second"
check_direction "$url1" "$url2" joinalice
step "replication from the second DC to the first"
check_direction "$url2" "$url1" joinbob
step "a change of the first DC's user on the second DC goes back"
set_description "$url2" joinalice "changed back on $url2"
took=$(wait_for "$url1" "CN=joinalice,CN=Users,$SAMBA_BASE_DN" "description: changed back on $url2") ||
  fail "joinalice's description changed on $url2 is not on $url1 after $repl_limit s"
timings+=("changed description of the other DC's user $url2 -> $url1: $took")
ok "after $took"

step "samba-tool drs showrepl"
: >"$work/empty.conf"
for a in "$addr1" "$addr2"; do
  out=$(PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool drs showrepl --summary "$a" -s "$work/empty.conf" -U Administrator 2>&1) ||
    { echo "$out"; fail "showrepl --summary on $a"; }
  [[ $out == *"[ALL GOOD]"* ]] || { echo "$out"; fail "showrepl --summary on $a does not say [ALL GOOD]"; }
  full=$(PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool drs showrepl "$a" -s "$work/empty.conf" -U Administrator 2>&1) ||
    { echo "$full"; fail "showrepl on $a"; }
  good=$(grep -c 'was successful' <<<"$full") || good=0
  bad=$(grep -Ec 'failed|[1-9][0-9]* consecutive failure' <<<"$full") || bad=0
  ((bad == 0)) || { echo "$full"; fail "showrepl on $a reports failures"; }
  ok "$a: [ALL GOOD]; $good neighbour entries 'was successful', none failing"
done

step "stop"
t=$(now)
samba_join_stop || fail "samba_join_stop failed"
[[ -z $SAMBA_JOIN_PID ]] || fail "SAMBA_JOIN_PID still set"
samba_stop || fail "samba_stop failed"
timings+=("stop both DCs: $(elapsed "$t")")
step "${timings[-1]}"
for p in "$first_pid" "$dc1_pid" "$dc2_pid"; do
  left=$(_samba_left <<<"$(_samba_procs "$p")")
  [[ -z $left ]] || fail "processes of the session of $p remain: $left"
done
# ps first, filter after: an awk in the same pipeline would match itself.
all=$(ps -e -o pid=,stat=,args=)
left=$(awk -v w="$work" '$2 !~ /^Z/ && index($0, w)' <<<"$all")
[[ -z $left ]] || fail "processes of the test directory remain: $left"
for a in "$addr1" "$addr2"; do
  busy=$(SAMBA_ADDR=$a _samba_busy_ports)
  [[ -z $busy ]] || fail "ports still in use on $a: $busy"
done
mounts=$(cat /proc/self/mountinfo)
[[ $mounts != *"$work"* ]] || fail "a mount of $work is visible outside the DCs' namespaces"
[[ $(sha256sum /etc/hosts) == "$hosts_before" ]] || fail "/etc/hosts changed"
ok "no process, listener or mount of either DC left; /etc/hosts unchanged"

step "timings"
printf '%s\n' "${timings[@]}"
echo
echo "samba join selftest passed"
