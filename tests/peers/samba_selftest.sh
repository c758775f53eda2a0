#!/usr/bin/env bash
# Proves tests/peers/samba.sh works: installs Samba if missing, starts a DC
# in a temporary directory, then over LDAPS (certificate verified against the
# test CA) creates an OU, a user with a password, checks two refusals (weak
# password, duplicate sAMAccountName), creates a group managed service
# account with msDS-GroupMSAMembership, checks the certificate with openssl,
# stops the DC and checks that nothing of it is left. Exits non-zero on the
# first failure. Run as root:
#
#   bash tests/peers/samba_selftest.sh
#
# SAMBA_SELFTEST_KEEP=1 keeps the temporary directory (logs, LDIF files).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba.sh
. "$here/samba.sh"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }
step() { printf '\n== %s\n' "$*"; }
ok() { printf 'ok: %s\n' "$*"; }
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

t=$(now)
samba_install
step "samba_install: $(elapsed "$t")"

work=$(mktemp -d /tmp/alm-samba.XXXXXX)
cleanup() {
  local rc=$?
  if [[ -n ${SAMBA_PID:-} ]]; then
    ((rc == 0)) || { echo "--- last lines of ${SAMBA_DIR:-}/samba.log" >&2; tail -n 40 "$SAMBA_DIR/samba.log" >&2 || true; }
    samba_stop || rc=1
  fi
  if [[ ${SAMBA_SELFTEST_KEEP:-} == 1 ]]; then echo "kept $work" >&2; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT

t=$(now)
samba_start "$work/dc"
step "samba_start (TLS + provision + start + verified LDAPS bind): $(elapsed "$t")"
for v in SAMBA_DIR SAMBA_PID SAMBA_ADDR SAMBA_HOST SAMBA_LDAPS_URL SAMBA_LDAP_URL SAMBA_CA_FILE SAMBA_BASE_DN \
  SAMBA_ADMIN_DN SAMBA_ADMIN_UPN SAMBA_ADMIN_PASSWORD SAMBA_REALM SAMBA_DOMAIN; do
  printf '%s=%s\n' "$v" "${!v}"
done
dc_dir=$SAMBA_DIR
dc_pid=$SAMBA_PID
[[ $SAMBA_BASE_DN == "DC=corp,DC=example,DC=test" ]] || fail "unexpected base DN $SAMBA_BASE_DN"
[[ $SAMBA_ADMIN_DN == "CN=Administrator,CN=Users,DC=corp,DC=example,DC=test" ]] || fail "unexpected admin DN $SAMBA_ADMIN_DN"

# Every LDAP call below verifies the server certificate against the test CA.
export LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand
auth=(-x -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -w "$SAMBA_ADMIN_PASSWORD")
search() { ldapsearch "${auth[@]}" -LLL -o ldif-wrap=no "$@"; }
# modify FILE: ldapmodify with the LDIF in FILE; output in $work/out, status in $rc.
modify() {
  rc=0
  ldapmodify "${auth[@]}" -f "$1" >"$work/out" 2>&1 || rc=$?
  cat "$work/out"
}
# attr NAME < LDIF: the value(s) of NAME (base64 values as they are).
attr() { sed -n "s/^$1::\{0,1\} //p"; }
# unicodePwd value: the password in double quotes, UTF-16LE, base64.
pwd_b64() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }
# objectSid (base64) to S-1-5-21-...: revision, count, 48-bit big-endian
# authority, then little-endian 32-bit sub-authorities.
sid_to_str() {
  local -a b
  read -ra b <<<"$(base64 -d <<<"$1" | od -An -tu1 -v | tr -s ' \n' '  ')"
  local s="S-${b[0]}-$(((b[2] << 40) + (b[3] << 32) + (b[4] << 24) + (b[5] << 16) + (b[6] << 8) + b[7]))" i
  for ((i = 0; i < b[1]; i++)); do
    s+=-$((b[8 + 4 * i] + (b[9 + 4 * i] << 8) + (b[10 + 4 * i] << 16) + (b[11 + 4 * i] << 24)))
  done
  echo "$s"
}
le16() { printf '%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)); }
le32() { printf '%02x%02x%02x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)); }
# S-1-5-21-... to its binary form, as hex.
sid_hex() {
  local IFS=- p i hex
  read -ra p <<<"$1" # S 1 5 21 ...
  hex=$(printf '%02x%02x%012x' "${p[1]}" $((${#p[@]} - 3)) "${p[2]}")
  for ((i = 3; i < ${#p[@]}; i++)); do hex+=$(le32 "${p[i]}"); done
  echo "$hex"
}
# msDS-GroupMSAMembership for one principal, as Windows writes it for
# PrincipalsAllowedToRetrieveManagedPassword: O:BAD:(A;;0xf01ff;;;SID), a
# self-relative security descriptor: header (revision 1, control 0x8004 =
# SELF_RELATIVE|DACL_PRESENT, offsets owner=20 group=0 sacl=0 dacl=36), owner
# BUILTIN\Administrators (S-1-5-32-544), DACL (revision 4, one
# ACCESS_ALLOWED ACE with mask 0x000f01ff). Printed as base64.
gmsa_membership_b64() {
  local sid ace acl owner=01020000000000052000000020020000
  sid=$(sid_hex "$1")
  ace=0000$(le16 $((8 + ${#sid} / 2)))ff010f00$sid
  acl=0400$(le16 $((8 + ${#ace} / 2)))01000000$ace
  local hex="0100048014000000000000000000000024000000$owner$acl" esc='' i
  for ((i = 0; i < ${#hex}; i += 2)); do esc+="\\x${hex:i:2}"; done
  # shellcheck disable=SC2059 # the format is the \xHH escapes
  printf "$esc" | base64 -w0
}

step "certificate check with openssl s_client"
s_client() { openssl s_client -connect "$SAMBA_ADDR:636" -CAfile "$SAMBA_CA_FILE" -verify_return_error -x509_strict -purpose sslserver "$@" </dev/null 2>&1; }
out=$(s_client -verify_ip 127.0.0.1) || { echo "$out"; fail "openssl s_client did not verify the certificate"; }
grep -q 'Verify return code: 0 (ok)' <<<"$out" || { echo "$out"; fail "no 'Verify return code: 0 (ok)'"; }
grep -E '^(subject|issuer)=|Verify return code|^Protocol|Cipher is' <<<"$out" | sort -u
ok "certificate verifies for IP 127.0.0.1"
# The check means something: another name must be refused.
if out=$(s_client -verify_hostname wrong.example.test); then fail "certificate verified for wrong.example.test"; fi
ok "certificate refused for wrong.example.test ($(grep -m1 -o 'verify error:[^ ]*' <<<"$out" || echo refused))"

step "OU"
ou=OU=alm-test,$SAMBA_BASE_DN
cat >"$work/ou.ldif" <<EOF
dn: $ou
changetype: add
objectClass: organizationalUnit
ou: alm-test
description: alm integration tests
EOF
modify "$work/ou.ldif"
((rc == 0)) || fail "adding $ou: ldapmodify exit $rc"
ok "created $ou"

step "user with a password"
user_pw='Alm-Test-Passw0rd!'
user_dn="CN=Alice Example,$ou"
cat >"$work/user.ldif" <<EOF
dn: $user_dn
changetype: add
objectClass: user
cn: Alice Example
sAMAccountName: alice
userPrincipalName: alice@${SAMBA_REALM,,}
givenName: Alice
sn: Example
displayName: Alice Example
unicodePwd:: $(pwd_b64 "$user_pw")
userAccountControl: 512
EOF
cat "$work/user.ldif"
modify "$work/user.ldif"
((rc == 0)) || fail "adding the user: ldapmodify exit $rc"
search -b "$ou" '(sAMAccountName=alice)' objectGUID uSNChanged whenCreated userAccountControl userPrincipalName objectSid pwdLastSet | tee "$work/alice.ldif"
guid=$(attr objectGUID <"$work/alice.ldif")
[[ $(base64 -d <<<"$guid" | wc -c) == 16 ]] || fail "objectGUID is not 16 bytes: $guid"
[[ $(attr uSNChanged <"$work/alice.ldif") =~ ^[0-9]+$ ]] || fail "uSNChanged is not a number"
[[ $(attr whenCreated <"$work/alice.ldif") =~ ^[0-9]{14}\.0Z$ ]] || fail "whenCreated is not a GeneralizedTime"
[[ $(attr userAccountControl <"$work/alice.ldif") == 512 ]] || fail "userAccountControl is not 512"
ok "objectGUID $(base64 -d <<<"$guid" | od -An -tx1 | tr -d ' \n'), uSNChanged $(attr uSNChanged <"$work/alice.ldif"), whenCreated $(attr whenCreated <"$work/alice.ldif")"
# The password works: bind as the user (simple bind with the UPN).
ldapsearch -x -H "$SAMBA_LDAPS_URL" -D "alice@${SAMBA_REALM,,}" -w "$user_pw" -LLL -b '' -s base dnsHostName >/dev/null ||
  fail "bind as alice with her password failed"
ok "alice can bind with her password"

step "weak password refused"
cat >"$work/weak.ldif" <<EOF
dn: CN=Bob Weak,$ou
changetype: add
objectClass: user
sAMAccountName: bobweak
unicodePwd:: $(pwd_b64 abc)
userAccountControl: 512
EOF
modify "$work/weak.ldif"
((rc == 19)) || fail "weak password (too short): expected exit 19 (constraintViolation), got $rc"
grep -q 0000052D "$work/out" || fail "weak password: no 0000052D in the diagnostic"
[[ -z $(search -b "$ou" '(sAMAccountName=bobweak)' dn) ]] || fail "the user with the refused password exists"
sed -i "s|^unicodePwd:: .*|unicodePwd:: $(pwd_b64 abcdefghij)|" "$work/weak.ldif"
modify "$work/weak.ldif"
((rc == 19)) || fail "weak password (no complexity): expected exit 19, got $rc"
cat >"$work/weakmod.ldif" <<EOF
dn: $user_dn
changetype: modify
replace: unicodePwd
unicodePwd:: $(pwd_b64 abc)
-
EOF
modify "$work/weakmod.ldif"
((rc == 19)) || fail "weak password reset: expected exit 19, got $rc"
ok "weak passwords refused with constraintViolation (19), nothing created"

step "duplicate sAMAccountName refused"
cat >"$work/dup.ldif" <<EOF
dn: CN=Alice Again,$ou
changetype: add
objectClass: user
sAMAccountName: ALICE
unicodePwd:: $(pwd_b64 "$user_pw")
userAccountControl: 512
EOF
modify "$work/dup.ldif"
((rc == 68)) || fail "duplicate sAMAccountName: expected exit 68 (entryAlreadyExists), got $rc"
ok "duplicate sAMAccountName (other case) refused with entryAlreadyExists (68)"

step "group managed service account"
cat >"$work/group.ldif" <<EOF
dn: CN=alm-gmsa-hosts,$ou
changetype: add
objectClass: group
sAMAccountName: alm-gmsa-hosts
groupType: -2147483646
EOF
modify "$work/group.ldif"
((rc == 0)) || fail "adding the group: ldapmodify exit $rc"
group_sid=$(sid_to_str "$(search -b "CN=alm-gmsa-hosts,$ou" -s base objectSid | attr objectSid)")
membership=$(gmsa_membership_b64 "$group_sid")
echo "readers: alm-gmsa-hosts $group_sid"
# Cross-check the hand-made descriptor with Samba's own parser (python3-samba
# comes with samba-tool; /usr/bin/python3, not a pyenv one).
if /usr/bin/python3 -c 'import samba' 2>/dev/null; then
  sddl=$(/usr/bin/python3 -c 'import base64, sys
from samba.dcerpc import security
from samba.ndr import ndr_unpack, ndr_pack
b = base64.b64decode(sys.argv[1])
sd = ndr_unpack(security.descriptor, b)
assert ndr_pack(security.descriptor.from_sddl(sd.as_sddl(), security.dom_sid("S-1-5-32"))) == b, "re-encoding differs"
print(sd.as_sddl())' "$membership") || fail "Samba cannot parse the msDS-GroupMSAMembership value"
  [[ $sddl == "O:BAD:(A;;RPWPCRCCDCLCLORCWOWDSDDTSW;;;$group_sid)" ]] || fail "descriptor decodes to $sddl"
  ok "msDS-GroupMSAMembership decodes to $sddl"
fi
gmsa_dn="CN=alm-gmsa,CN=Managed Service Accounts,$SAMBA_BASE_DN"
cat >"$work/gmsa.ldif" <<EOF
dn: $gmsa_dn
changetype: add
objectClass: msDS-GroupManagedServiceAccount
cn: alm-gmsa
sAMAccountName: alm-gmsa\$
dNSHostName: alm-gmsa.${SAMBA_REALM,,}
msDS-ManagedPasswordInterval: 30
msDS-SupportedEncryptionTypes: 24
msDS-GroupMSAMembership:: $membership
EOF
cat "$work/gmsa.ldif"
modify "$work/gmsa.ldif"
((rc == 0)) || fail "adding the gMSA: ldapmodify exit $rc"
search -b "$gmsa_dn" -s base objectClass sAMAccountName dNSHostName msDS-ManagedPasswordInterval userAccountControl \
  msDS-GroupMSAMembership objectGUID uSNChanged whenCreated msDS-ManagedPassword msDS-ManagedPasswordId | tee "$work/gmsa.out"
grep -qx 'objectClass: msDS-GroupManagedServiceAccount' "$work/gmsa.out" || fail "gMSA objectClass missing"
[[ $(attr sAMAccountName <"$work/gmsa.out") == 'alm-gmsa$' ]] || fail "gMSA sAMAccountName"
[[ $(attr msDS-ManagedPasswordInterval <"$work/gmsa.out") == 30 ]] || fail "gMSA msDS-ManagedPasswordInterval"
[[ $(attr msDS-GroupMSAMembership <"$work/gmsa.out") == "$membership" ]] || fail "gMSA msDS-GroupMSAMembership differs"
ok "gMSA created (userAccountControl $(attr userAccountControl <"$work/gmsa.out"))"
if grep -q '^msDS-ManagedPassword::' "$work/gmsa.out"; then
  echo "note: this Samba serves msDS-ManagedPassword"
else
  echo "note: no msDS-ManagedPassword served (Samba $(samba -V | awk '{print $2}') does not compute gMSA passwords)"
fi

step "stop"
t=$(now)
samba_stop || fail "samba_stop failed"
step "samba_stop: $(elapsed "$t")"
# Zombies aside: processes re-parented to init stay zombies until it reaps them.
left=$(_samba_left <<<"$(_samba_procs "$dc_pid")")
[[ -z $left ]] || fail "processes of the DC's session remain: $left"
# ps first, filter after: an awk in the same pipeline would match itself.
all=$(ps -e -o pid=,stat=,args=)
left=$(awk -v d="$dc_dir" '$2 !~ /^Z/ && (index($0, "samba: ") || index($0, d))' <<<"$all")
[[ -z $left ]] || fail "samba processes remain: $left"
busy=$(_samba_busy_ports)
[[ -z $busy ]] || fail "ports still in use: $busy"
ok "no samba process and no listener on $SAMBA_ADDR ports $SAMBA_TCP_PORTS"
echo
echo "samba selftest passed"
