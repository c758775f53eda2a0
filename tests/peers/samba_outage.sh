# shellcheck shell=bash
# A third throwaway Samba AD DC that tests may stop and start again: the directory outage
# tests (a DC down for longer than any retry budget, then back). The shared DC of
# samba.sh must never be stopped while other tests use it; this one belongs to the outage
# tests alone. Source it (it sources samba.sh), or run it as a command for the tests:
#
#   . tests/peers/samba_outage.sh
#   samba_outage_start "$work/samba-outage"   # exports ALMTEST_OUTAGE_DC_*
#   samba_outage_stop
#
#   bash tests/peers/samba_outage.sh stop DIR      # from a test: the outage begins
#   bash tests/peers/samba_outage.sh restart DIR   # the outage ends (waits for LDAPS)
#
# Inputs: SAMBA_OUTAGE_ADDR (default 127.0.0.4, added to lo when missing), realm
# OUTAGE.EXAMPLE.TEST, domain OUTAGE. Keeps the caller's SAMBA_* variables untouched.

_samba_outage_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba.sh
. "$_samba_outage_here/samba.sh"

SAMBA_OUTAGE_ADDR=${SAMBA_OUTAGE_ADDR:-127.0.0.4}

# samba_outage_start DIR: provision and start the DC; exports ALMTEST_OUTAGE_DC_DIR, _URL,
# _CA_FILE, _BASE_DN, _BIND, _PASSWORD.
samba_outage_start() {
  local dir=${1:?usage: samba_outage_start DIR}
  local listing
  listing=$(ip -o addr show 2>/dev/null) || listing=
  if [[ $listing != *" $SAMBA_OUTAGE_ADDR/"* && $SAMBA_OUTAGE_ADDR == 127.* && $(id -u) == 0 ]]; then
    ip addr add "$SAMBA_OUTAGE_ADDR/8" dev lo || return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  (
    unset SAMBA_ADMIN_PASSWORD SAMBA_PID
    SAMBA_ADDR=$SAMBA_OUTAGE_ADDR SAMBA_REALM=OUTAGE.EXAMPLE.TEST SAMBA_DOMAIN=OUTAGE SAMBA_HOST=outagedc
    samba_start "$dir" || exit 1
  ) || return 1
  local values
  values=$(samba_dc_values "$dir") || return 1
  local -a v
  mapfile -t v <<<"$values"
  export ALMTEST_OUTAGE_DC_URL=${v[0]} ALMTEST_OUTAGE_DC_CA_FILE=${v[1]} ALMTEST_OUTAGE_DC_BASE_DN=${v[2]} \
    ALMTEST_OUTAGE_DC_BIND=${v[3]} ALMTEST_OUTAGE_DC_PASSWORD=${v[4]} ALMTEST_OUTAGE_DC_DIR=$dir
}

samba_outage_stop() {
  [[ -n ${ALMTEST_OUTAGE_DC_DIR:-} ]] || return 0
  samba_stop "$ALMTEST_OUTAGE_DC_DIR"
}

# As a command: stop or restart the DC of DIR.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  case ${1:-} in
    stop) samba_stop "${2:?DIR}" ;;
    restart) samba_restart "${2:?DIR}" ;;
    *) echo "usage: $0 stop|restart DIR" >&2; exit 2 ;;
  esac
fi
