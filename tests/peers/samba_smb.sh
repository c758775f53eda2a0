# shellcheck shell=bash
# A second, throwaway Samba AD DC that also runs smbd (SMB on port 445), for
# the host scan tests: they list Windows services over SMB + MS-SCMR, and
# Samba's own service control implementation answers those calls. Source
# this file (it sources samba.sh):
#
#   . tests/peers/samba_smb.sh
#   samba_install
#   samba_smb_start "$work/samba-smb"  # waits for LDAPS and port 445
#   ... tests use $SAMBA_SMB_ADDR, $SAMBA_SMB_DOMAIN, $SAMBA_SMB_USER, ...
#   samba_smb_stop
#
# samba.sh's default DC runs without smbd (it may clash with a system
# smbd). This one keeps every SAMBA_* variable of the caller untouched: it
# starts its DC in a subshell with its own address, realm and domain, and
# exports only SAMBA_SMB_* variables, so it can run beside the default DC.
#
# Inputs: SAMBA_SMB_ADDR (default 127.0.0.3; must be configured on an
# interface, e.g. `ip addr add 127.0.0.3/8 dev lo`; added here when missing
# and the address is a loopback one), SAMBA_SMB_REALM (HOSTS.EXAMPLE.TEST),
# SAMBA_SMB_DOMAIN (HOSTS).

_samba_smb_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba.sh
. "$_samba_smb_here/samba.sh"

SAMBA_SMB_ADDR=${SAMBA_SMB_ADDR:-127.0.0.3}
SAMBA_SMB_REALM=${SAMBA_SMB_REALM:-HOSTS.EXAMPLE.TEST}
SAMBA_SMB_DOMAIN=${SAMBA_SMB_DOMAIN:-HOSTS}
# The compiled-in winbindd socket directory of Debian's Samba (see below).
SAMBA_SMB_WINBINDD_DIR=${SAMBA_SMB_WINBINDD_DIR:-/run/samba/winbindd}

# samba_smb_start DIR: provision and start the DC in DIR (see samba_start),
# wait until it answers LDAPS and SMB on $SAMBA_SMB_ADDR:445. Exports
# SAMBA_SMB_DIR, SAMBA_SMB_PID, SAMBA_SMB_ADDR, SAMBA_SMB_REALM,
# SAMBA_SMB_DOMAIN, SAMBA_SMB_USER (Administrator), SAMBA_SMB_PASSWORD.
samba_smb_start() {
  local dir=${1:?usage: samba_smb_start DIR}
  command -v net >/dev/null || { echo "samba_smb_start: net (Debian samba-common-bin) not found" >&2; return 1; }
  # Whole listings, then a match: `cmd | grep -q` under pipefail fails at
  # random when grep exits before cmd has written everything.
  local listing
  listing=$(ip -o addr show 2>/dev/null) || listing=
  if [[ $listing != *" $SAMBA_SMB_ADDR/"* ]]; then
    if [[ $SAMBA_SMB_ADDR == 127.* && $(id -u) == 0 ]]; then
      ip addr add "$SAMBA_SMB_ADDR/8" dev lo || return 1
    fi
  fi
  # This DC's winbindd needs the machine's default winbindd socket (see
  # SAMBA_EXTRA_OPTIONS below): refuse to start when someone listens there.
  listing=$(ss -Hxl 2>/dev/null) || listing=
  if [[ $listing == *" $SAMBA_SMB_WINBINDD_DIR/pipe "* ]]; then
    echo "samba_smb_start: a winbindd already listens on $SAMBA_SMB_WINBINDD_DIR/pipe (a system winbind," >&2
    echo "  or another samba_smb_start DC); this DC needs that socket for its SMB logons" >&2
    return 1
  fi
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  local envfile=$dir/smb.env
  # A subshell: samba_start sets and exports the SAMBA_* variables, which
  # belong to the caller's default DC. samba is started with setsid, so it
  # outlives the subshell; samba_smb_stop finds it through DIR/samba.pid.
  (
    unset SAMBA_ADMIN_PASSWORD SAMBA_PID
    SAMBA_ADDR=$SAMBA_SMB_ADDR SAMBA_REALM=$SAMBA_SMB_REALM SAMBA_DOMAIN=$SAMBA_SMB_DOMAIN SAMBA_HOST=hostdc
    # s3fs is smbd (SMB and the named pipes, svcctl among them); rpc is the
    # endpoint mapper and the AD pipes. 139 (NetBIOS session) is not needed.
    SAMBA_SERVER_SERVICES="s3fs rpc ldap cldap kdc drepl winbindd ntp_signd kcc"
    SAMBA_TCP_PORTS="88 135 389 445 464 636 3268 3269"
    # smbd turns the logged-on user into a unix user through NSS, and
    # nss_winbind (samba-ad-dc puts it in nsswitch.conf) asks the winbindd at
    # the compiled-in socket directory, whatever smb.conf says (Debian's
    # 4.17 ignores WINBINDD_SOCKET_DIR too). With winbindd elsewhere every
    # SMB logon succeeds and then fails with NT_STATUS_INTERNAL_ERROR. So
    # this DC's winbindd takes the machine's default socket: one such DC per
    # machine (checked above).
    SAMBA_EXTRA_OPTIONS=("smb ports=445" "winbindd socket directory=$SAMBA_SMB_WINBINDD_DIR")
    samba_start "$dir" || exit 1
    # Samba's svcctl (in the rpcd_classic worker) rewrites every service's registry values,
    # ObjectName back to LocalSystem, each time the worker starts. smbd starts
    # samba-dcerpcd on demand, which exits after a minute without calls, and so do its
    # workers: the next call would find the start accounts set below wiped. So one
    # samba-dcerpcd is started here and stays, with a worker that does not idle out
    # (smbd finds it at the named-pipe sockets and starts no other). samba-tool provision
    # drops these options, so they go into [global] now; workers read smb.conf when they
    # start. samba_smb_stop ends samba-dcerpcd with the other helpers.
    sed -i -e '/^\[global\]/a\' -e '\trpc start on demand helpers = no\n\trpcd_classic:idle_seconds = 86400' \
      "$dir/etc/smb.conf" || exit 1
    setsid /usr/libexec/samba/samba-dcerpcd "--configfile=$dir/etc/smb.conf" --libexec-rpcds \
      --foreground --debug-stdout >"$dir/samba-dcerpcd.log" 2>&1 </dev/null &
    umask 077
    {
      printf 'SAMBA_SMB_PID=%q\n' "$SAMBA_PID"
      printf 'SAMBA_SMB_PASSWORD=%q\n' "$SAMBA_ADMIN_PASSWORD"
    } >"$envfile"
  ) || return 1
  local line
  while IFS= read -r line; do eval "export $line"; done <"$envfile"
  rm -f "$envfile"
  export SAMBA_SMB_DIR=$dir SAMBA_SMB_ADDR SAMBA_SMB_REALM SAMBA_SMB_DOMAIN SAMBA_SMB_USER=Administrator

  # smbd is forked by samba after the LDAP server is up: wait for port 445.
  local i
  for ((i = 0; i < 120; i++)); do
    if (exec 3<>"/dev/tcp/$SAMBA_SMB_ADDR/445") 2>/dev/null; then
      echo "samba_smb_start: SMB answers on $SAMBA_SMB_ADDR:445" >&2
      _samba_smb_start_names "$dir" && return 0
      samba_smb_stop
      return 1
    fi
    _samba_alive "$SAMBA_SMB_PID" || break
    sleep 0.25
  done
  echo "samba_smb_start: nothing listens on $SAMBA_SMB_ADDR:445; $dir/samba.log:" >&2
  cat "$dir/samba.log" >&2
  samba_smb_stop
  return 1
}

# _samba_smb_start_names DIR: Samba's services all run as LocalSystem; give
# two of them the other forms a Windows service's start account takes, so
# the tests see them: WINS runs as the domain account $SAMBA_SMB_DOMAIN\svc_wins,
# RemoteRegistry as the local account .\localsvc. Samba's service control
# reads them from its registry (HKLM\...\Services\NAME\ObjectName), whose
# keys samba-dcerpcd's svcctl (re)creates when it starts: hence a `net rpc
# service list` first, to know it is up.
# Samba's own client must then show the new accounts.
_samba_smb_start_names() {
  local dir=$1 conf=$1/etc/smb.conf key='HKLM\SYSTEM\CurrentControlSet\Services' out
  local auth=$dir/net-auth
  # The password goes through a file, not the command line (ps shows those).
  (umask 077 && printf 'username=%s\npassword=%s\ndomain=%s\n' "$SAMBA_SMB_USER" "$SAMBA_SMB_PASSWORD" \
    "$SAMBA_SMB_DOMAIN" >"$auth") || return 1
  # samba-dcerpcd was started beside samba: wait until it serves the svcctl pipe.
  local i
  for ((i = 0; i < 40; i++)); do
    out=$(net rpc service list -S "$SAMBA_SMB_ADDR" -A "$auth" 2>&1) && break
    sleep 0.25
  done
  if ((i == 40)); then
    echo "samba_smb_start: net rpc service list failed: $out; $dir/samba-dcerpcd.log:" >&2
    cat "$dir/samba-dcerpcd.log" >&2
    return 1
  fi
  net registry -s "$conf" setvalue "$key\WINS" ObjectName sz "$SAMBA_SMB_DOMAIN\svc_wins" >&2 &&
    net registry -s "$conf" setvalue "$key\RemoteRegistry" ObjectName sz '.\localsvc' >&2 ||
    { echo "samba_smb_start: setting the services' start accounts (net registry) failed" >&2; return 1; }
  out=$(net rpc service status WINS -S "$SAMBA_SMB_ADDR" -A "$auth" 2>&1) || out=
  if [[ $out != *"Start Name           = $SAMBA_SMB_DOMAIN\svc_wins"* ]]; then
    echo "samba_smb_start: Samba does not show WINS's new start account:" >&2
    echo "$out" >&2
    return 1
  fi
}

# _samba_smb_helpers DIR: pids of the processes started with DIR's smb.conf
# that are not in samba's process tree: samba-dcerpcd (started by
# samba_smb_start in a session of its own) and its rpcd_* workers, which
# samba_stop does not see.
_samba_smb_helpers() {
  local conf="--configfile=$1/etc/smb.conf" pid args out=
  while read -r pid args; do
    [[ " $args " == *" $conf "* ]] && out+=" $pid"
  done < <(ps -eo pid=,args=)
  echo "${out# }"
}

# samba_smb_stop: stop the DC of samba_smb_start (by the pid in its DIR) and
# the RPC helpers smbd started for it.
samba_smb_stop() {
  [[ -n ${SAMBA_SMB_DIR:-} ]] || return 0
  local saved=${SAMBA_PID:-} rc=0 left p i
  # samba_stop DIR reads the pid from DIR/samba.pid; keep the default DC's
  # SAMBA_PID as it was.
  samba_stop "$SAMBA_SMB_DIR" || rc=1
  SAMBA_PID=$saved
  left=$(_samba_smb_helpers "$SAMBA_SMB_DIR")
  # shellcheck disable=SC2086 # a list of pids
  [[ -z $left ]] || kill -TERM $left 2>/dev/null || true
  for ((i = 0; i < 25; i++)); do
    left=$(_samba_smb_helpers "$SAMBA_SMB_DIR")
    [[ -z $left ]] && break
    sleep 0.2
  done
  if [[ -n $left ]]; then
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    sleep 0.2
    left=$(_samba_smb_helpers "$SAMBA_SMB_DIR")
    [[ -z $left ]] || { echo "samba_smb_stop: RPC helpers of the DC are still there: $left" >&2; rc=1; }
  fi
  ((rc == 0)) && SAMBA_SMB_DIR=
  return "$rc"
}
