# shellcheck shell=bash
# A domain with two domain controllers that replicate (samba.sh's DC joined by a second one,
# samba_join.sh), for the failover tests: alm's engines must go on with the second DC while
# the first is down, and read back from the DC they wrote to. The tests stop the first DC and
# start it again, so the pair belongs to them alone. Source it (it sources samba_join.sh), or
# run it as a command for the tests:
#
#   . tests/peers/samba_pair.sh
#   samba_pair_start "$work/pair"      # exports ALMTEST_PAIR_*
#   samba_pair_stop
#
#   bash tests/peers/samba_pair.sh stop DIR      # from a test: the first DC goes down
#   bash tests/peers/samba_pair.sh restart DIR   # it comes back (waits for LDAPS)
#
# Inputs: SAMBA_PAIR_ADDR1 (default 127.0.0.6) and SAMBA_PAIR_ADDR2 (127.0.0.7), added to lo
# when missing; realm PAIR.EXAMPLE.TEST, domain PAIR. Keeps the caller's SAMBA_* untouched.

_samba_pair_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba_join.sh
. "$_samba_pair_here/samba_join.sh"

SAMBA_PAIR_ADDR1=${SAMBA_PAIR_ADDR1:-127.0.0.6}
SAMBA_PAIR_ADDR2=${SAMBA_PAIR_ADDR2:-127.0.0.7}

# samba_pair_start DIR: the first DC in DIR/dc1, the second joined in DIR/dc2; exports
# ALMTEST_PAIR_DIR, _DC1_URL, _DC2_URL, _CA_FILE (verifies both), _BASE_DN, _BIND, _PASSWORD,
# and the DCs' DNS names and addresses, _DC1_HOST, _DC1_ADDR, _DC2_HOST, _DC2_ADDR (their
# certificates name both; the DNS discovery test serves them from a DNS server of its own).
samba_pair_start() {
  local dir=${1:?usage: samba_pair_start DIR}
  local listing addr
  listing=$(ip -o addr show 2>/dev/null) || listing=
  for addr in "$SAMBA_PAIR_ADDR1" "$SAMBA_PAIR_ADDR2"; do
    if [[ $listing != *" $addr/"* && $addr == 127.* && $(id -u) == 0 ]]; then
      ip addr add "$addr/8" dev lo || return 1
    fi
  done
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  (
    unset SAMBA_ADMIN_PASSWORD SAMBA_PID
    SAMBA_ADDR=$SAMBA_PAIR_ADDR1 SAMBA_REALM=PAIR.EXAMPLE.TEST SAMBA_DOMAIN=PAIR SAMBA_HOST=pairdc1
    samba_start "$dir/dc1" || exit 1
    SAMBA_JOIN_ADDR=$SAMBA_PAIR_ADDR2 SAMBA_JOIN_HOST=pairdc2
    if ! samba_join_start "$dir/dc2"; then
      samba_stop "$dir/dc1"
      exit 1
    fi
    printf '%s\n' "$SAMBA_JOIN_LDAPS_URL" >"$dir/dc2.url"
  ) || return 1
  local values
  values=$(samba_dc_values "$dir/dc1") || return 1
  local -a v
  mapfile -t v <<<"$values"
  export ALMTEST_PAIR_DC1_URL=${v[0]} ALMTEST_PAIR_CA_FILE=${v[1]} ALMTEST_PAIR_BASE_DN=${v[2]} \
    ALMTEST_PAIR_BIND=${v[3]} ALMTEST_PAIR_PASSWORD=${v[4]} ALMTEST_PAIR_DIR=$dir
  ALMTEST_PAIR_DC2_URL=$(<"$dir/dc2.url") || return 1
  export ALMTEST_PAIR_DC2_URL
  export ALMTEST_PAIR_DC1_HOST=pairdc1.pair.example.test ALMTEST_PAIR_DC1_ADDR=$SAMBA_PAIR_ADDR1 \
    ALMTEST_PAIR_DC2_HOST=pairdc2.pair.example.test ALMTEST_PAIR_DC2_ADDR=$SAMBA_PAIR_ADDR2
}

samba_pair_stop() {
  [[ -n ${ALMTEST_PAIR_DIR:-} ]] || return 0
  samba_join_stop "$ALMTEST_PAIR_DIR/dc2" || true
  samba_stop "$ALMTEST_PAIR_DIR/dc1"
}

# As a command: stop or restart the first DC of the pair in DIR.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    stop) samba_stop "${2:?DIR}/dc1" ;;
    restart) samba_restart "${2:?DIR}/dc1" ;;
    *) echo "usage: $0 stop|restart DIR" >&2; exit 2 ;;
  esac
fi
