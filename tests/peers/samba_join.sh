# shellcheck shell=bash
# A second domain controller of the same domain as the DC of samba.sh, for
# tests that need two DCs that replicate (a write on one, a read on the other;
# one DC down while the other serves). Source this file (it sources samba.sh):
#
#   . tests/peers/samba_join.sh
#   samba_install
#   samba_start "$work/samba"              # the first DC (SAMBA_* variables)
#   samba_join_start "$work/samba-join"    # joins a second DC, waits for LDAPS
#   ... tests use $SAMBA_JOIN_LDAPS_URL beside $SAMBA_LDAPS_URL; $SAMBA_CA_FILE
#   ... verifies both certificates; the Administrator's credentials are the same
#   samba_join_stop
#   samba_stop
#
# The second DC is joined with `samba-tool domain join REALM DC` against the
# first one's address, replicates the whole domain at the join, and then
# replicates with the first DC in both directions (a change is sent on within
# seconds: each DC tells its partners every 5 s that it has changes, and they
# pull them).
#
# Without a DNS server (samba.sh provisions with --dns-backend=NONE) a DC
# cannot find its replication partner: Samba connects to
# <NTDS Settings objectGUID>._msdcs.<forest DNS name>, and Kerberos (which DRS
# replication requires) looks for the realm's KDC in DNS. So each DC gets, in
# its directory, a hosts file naming both DCs (DIR/hosts), a krb5.conf naming
# its own KDC (DIR/etc/krb5.conf) and DIR/samba-exec, through which samba.sh's
# _samba_run starts samba: in a mount namespace of its own where DIR/hosts is
# mounted over /etc/hosts, with KRB5_CONFIG set. The machine's /etc/hosts and
# Kerberos configuration are not changed. The first DC must run that way too
# (it pulls from the second): samba_join_start restarts it when it does not
# (samba_stop + samba_restart, about a second; SAMBA_PID changes).
#
# Inputs: SAMBA_JOIN_ADDR (default 127.0.0.5: 127.0.0.2-4 are taken by the
# other DCs of scripts/test.sh; added to lo when missing and the address is a
# loopback one), SAMBA_JOIN_HOST (the second DC's name, default dc2). Needs
# root, unshare and mount (util-linux), samba_spnupdate (samba-ad-dc).

_samba_join_here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=samba.sh
. "$_samba_join_here/samba.sh"

SAMBA_JOIN_ADDR=${SAMBA_JOIN_ADDR:-127.0.0.5}
SAMBA_JOIN_HOST=${SAMBA_JOIN_HOST:-dc2}

# _samba_join_guid B64: an objectGUID as LDAP returns it (base64) in its
# string form: the first three fields are little-endian.
_samba_join_guid() {
  local -a b
  read -ra b <<<"$(base64 -d <<<"$1" | od -An -tx1 -v | tr -s ' \n' '  ')"
  ((${#b[@]} == 16)) || return 1
  printf '%s%s%s%s-%s%s-%s%s-%s%s-%s%s%s%s%s%s\n' "${b[3]}" "${b[2]}" "${b[1]}" "${b[0]}" \
    "${b[5]}" "${b[4]}" "${b[7]}" "${b[6]}" "${b[@]:8:8}"
}

# _samba_join_tls DIR FQDN ADDR: a server key and certificate for the second
# DC (DIR/tls/key.pem, cert.pem) signed by the first DC's test CA, whose
# certificate is copied to DIR/tls/ca.pem: $SAMBA_CA_FILE verifies both DCs.
# The same extensions as samba.sh's _samba_tls (see there why).
_samba_join_tls() {
  local dir=$1 fqdn=$2 addr=$3 tls=$1/tls ca=$SAMBA_DIR/tls
  [[ -s $ca/ca.key && -s $ca/ca.pem ]] || { echo "samba_join_start: no test CA in $ca" >&2; return 1; }
  mkdir -p "$tls" || return 1
  (
    umask 077
    openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$tls/key.pem" -out "$tls/server.csr" \
      -subj "/O=alm tests/CN=$fqdn" &&
      printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:$addr,DNS:$fqdn,DNS:${SAMBA_REALM,,}" \
        "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid,issuer" >"$tls/server.ext" &&
      openssl x509 -req -sha256 -days 365 -in "$tls/server.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$tls/server.ext" -out "$tls/cert.pem"
  ) >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; return 1; }
  cp "$ca/ca.pem" "$tls/ca.pem" || return 1
  chmod 600 "$tls/key.pem" && chmod 644 "$tls/ca.pem" "$tls/cert.pem"
}

# _samba_join_ntds_guids: "NAME GUID" for each DC of the domain (NetBIOS
# name in capitals, objectGUID of its NTDS Settings object), read from the
# first DC.
_samba_join_ntds_guids() {
  local out line name guid
  out=$(LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand ldapsearch -x -LLL -o ldif-wrap=no \
    -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -w "$SAMBA_ADMIN_PASSWORD" \
    -b "CN=Sites,CN=Configuration,$SAMBA_BASE_DN" '(objectClass=nTDSDSA)' objectGUID) || return 1
  while IFS= read -r line; do
    case $line in
      "dn: CN=NTDS Settings,CN="*)
        name=${line#dn: CN=NTDS Settings,CN=}
        name=${name%%,*}
        ;;
      "objectGUID:: "*)
        [[ -n ${name:-} ]] || continue
        guid=$(_samba_join_guid "${line#objectGUID:: }") || return 1
        printf '%s %s\n' "${name^^}" "$guid"
        name=
        ;;
    esac
  done <<<"$out"
}

# _samba_join_env DIR ADDR LINES: the files through which a DC (of DIR, on
# ADDR) finds its partners.
# - DIR/hosts: the DCs by name (LINES), then the machine's /etc/hosts (the
#   first match wins). Written in place, so a DC that already runs with it
#   mounted sees the new content (a new file would not be the mounted one).
# - DIR/etc/krb5.conf: the realm's KDC is this DC itself (it has every
#   account since the join), over TCP. Samba reads the krb5.conf beside its
#   smb.conf, but its GSSAPI code only the one KRB5_CONFIG names; without
#   both, each DC's first replication stalled for about 10 s (a request over
#   UDP answered "too big", then a KDC lookup in the GSSAPI code).
# - DIR/samba-exec, which _samba_run (samba.sh) starts samba through: a mount
#   namespace of samba's own with DIR/hosts mounted over /etc/hosts, and
#   KRB5_CONFIG set. unshare and bash exec in place: the pid stays samba's.
_samba_join_env() {
  local dir=$1 addr=$2 lines=$3 machine
  machine=$(cat /etc/hosts 2>/dev/null) || machine=
  cat >"$dir/hosts" <<EOF || return 1
# /etc/hosts of a test DC (tests/peers/samba_join.sh), mounted in samba's own mount namespace.
# DRS replication connects to <NTDS Settings objectGUID>._msdcs.<forest DNS name>:
$lines
# The machine's /etc/hosts:
$machine
EOF
  cat >"$dir/etc/krb5.conf" <<EOF || return 1
[libdefaults]
    default_realm = $SAMBA_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
[realms]
    $SAMBA_REALM = {
        kdc = tcp/$addr
    }
EOF
  cat >"$dir/samba-exec" <<EOF || return 1
#!/usr/bin/env bash
# Starts samba for _samba_run (tests/peers/samba.sh); written by samba_join_start.
export KRB5_CONFIG=$(printf %q "$dir/etc/krb5.conf")
exec unshare --mount --propagation private -- bash -c 'mount --bind "\$0" /etc/hosts && exec "\$@"' $(printf %q "$dir/hosts") "\$@"
EOF
  chmod 755 "$dir/samba-exec"
}

# _samba_join_link DIR ADDR NAME: make replication between the first DC and the
# second (NAME, on ADDR) run both ways now, and prove it.
# The join leaves the second DC pulling from the first, and the first
# notifying it of changes; the first DC's KCC would only list the second as a
# source 15 s after its start, and its first pull (which makes the second DC
# notify it in turn) would come minutes later. So: run the first DC's KCC,
# have it pull each partition from the second DC, then the second pull the
# domain from the first. samba-tool waits for each replication's outcome.
_samba_join_link() {
  local dir=$1 addr=$2 name=$3 nc t0=$EPOCHREALTIME log=$1/link.log
  local -a opts=(-s "$dir/join.conf" -U Administrator)
  : >"$log"
  if ! PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool drs kcc "$SAMBA_ADDR" "${opts[@]}" >>"$log" 2>&1 </dev/null; then
    echo "samba_join_start: running the first DC's KCC failed; $log:" >&2
    cat "$log" >&2
    return 1
  fi
  echo "[$(_samba_since "$t0")]" >>"$log"
  for nc in "$SAMBA_BASE_DN" "CN=Configuration,$SAMBA_BASE_DN" "CN=Schema,CN=Configuration,$SAMBA_BASE_DN"; do
    if ! PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool drs replicate "$SAMBA_ADDR" "$name" "$nc" "${opts[@]}" \
      >>"$log" 2>&1 </dev/null; then
      echo "samba_join_start: the first DC could not replicate $nc from $name; $log, then the DCs' logs:" >&2
      cat "$log" >&2
      tail -n 40 "$SAMBA_DIR/samba.log" "$dir/samba.log" >&2
      return 1
    fi
    echo "[$(_samba_since "$t0")]" >>"$log"
  done
  if ! PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool drs replicate "$addr" "${SAMBA_HOST^^}" "$SAMBA_BASE_DN" \
    "${opts[@]}" >>"$log" 2>&1 </dev/null; then
    echo "samba_join_start: $name could not replicate $SAMBA_BASE_DN from the first DC; $log, then the DCs' logs:" >&2
    cat "$log" >&2
    tail -n 40 "$SAMBA_DIR/samba.log" "$dir/samba.log" >&2
    return 1
  fi
  echo "samba_join_start: replication runs both ways ($(_samba_since "$t0") to set up)" >&2
}

# samba_join_start DIR: join a second DC of the first DC's domain (the one
# samba_start started: SAMBA_DIR, SAMBA_ADDR, SAMBA_REALM, ...) in DIR, on
# $SAMBA_JOIN_ADDR, start it and wait until it answers a verified LDAPS bind.
# DIR must be empty, missing, or an earlier samba_join_start DIR whose DC is
# stopped (it is wiped). Everything of the DC (databases, sockets, pid file,
# logs, TLS files) stays under DIR. Exports SAMBA_JOIN_ADDR, SAMBA_JOIN_HOST,
# SAMBA_JOIN_DIR, SAMBA_JOIN_PID, SAMBA_JOIN_LDAPS_URL, SAMBA_JOIN_LDAP_URL. On
# failure prints the logs and returns non-zero.
samba_join_start() {
  local dir=${1:?usage: samba_join_start DIR}
  local cmd addr=$SAMBA_JOIN_ADDR host=${SAMBA_JOIN_HOST,,} realm_lc=${SAMBA_REALM,,} t0
  for cmd in samba-tool samba samba_spnupdate ldapsearch openssl ss ip unshare mount; do
    command -v "$cmd" >/dev/null || { echo "samba_join_start: $cmd not found" >&2; return 1; }
  done
  [[ $(id -u) == 0 ]] || { echo "samba_join_start: samba must run as root" >&2; return 1; }
  if [[ -z ${SAMBA_DIR:-} || -z ${SAMBA_PID:-} ]] || ! _samba_alive "$SAMBA_PID"; then
    echo "samba_join_start: no running first DC (SAMBA_DIR, SAMBA_PID: run samba_start first)" >&2
    return 1
  fi
  if [[ $addr == "$SAMBA_ADDR" ]]; then
    echo "samba_join_start: SAMBA_JOIN_ADDR is the first DC's address $SAMBA_ADDR" >&2
    return 1
  fi
  if [[ ${host^^} == "${SAMBA_HOST^^}" || ${host^^} == "${SAMBA_DOMAIN^^}" || ${#host} -gt 15 ||
    ! $host =~ ^[a-z0-9-]+$ ]]; then
    echo "samba_join_start: SAMBA_JOIN_HOST '$host' is not a usable name for a second DC of $SAMBA_DOMAIN" >&2
    return 1
  fi

  # The same rules as samba_start: a fresh DC every time, in a directory of
  # ours whose DC does not run.
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  if [[ -n $(ls -A "$dir") ]]; then
    if [[ ! -e $dir/.alm-samba-join ]]; then
      echo "samba_join_start: $dir is not empty and was not made by samba_join_start; refusing to wipe it" >&2
      return 1
    fi
    local old
    old=$(cat "$dir/samba.pid" 2>/dev/null) || old=
    if [[ -n $old ]] && _samba_alive "$old"; then
      echo "samba_join_start: the DC of $dir still runs (pid $old); run samba_join_stop $dir first" >&2
      return 1
    fi
    find "$dir" -mindepth 1 -delete || return 1
  fi
  : >"$dir/.alm-samba-join"

  # Whole listings, then a match: `cmd | grep -q` under pipefail fails at
  # random when grep exits before cmd has written everything.
  local listing
  listing=$(ip -o addr show 2>/dev/null) || listing=
  if [[ $listing != *" $addr/"* ]]; then
    if [[ $addr == 127.* ]]; then
      ip addr add "$addr/8" dev lo || return 1
    else
      echo "samba_join_start: $addr is not configured on any interface" >&2
      return 1
    fi
  fi
  local busy
  busy=$(SAMBA_ADDR=$addr _samba_busy_ports)
  if [[ -n $busy ]]; then
    echo "samba_join_start: ports of a DC on $addr are already in use (a DC left running?):" >&2
    echo "$busy" >&2
    return 1
  fi

  _samba_join_tls "$dir" "$host.$realm_lc" "$addr" || { echo "samba_join_start: making the TLS files failed" >&2; return 1; }

  # The first DC lacks the SPNs that replication asks tickets for
  # (GC/<host>/<forest>, E3514235-...): samba_spnupdate adds them, normally
  # from the dnsupdate service that samba.sh does not run. Before the join, so
  # the second DC's KDC has them from the start.
  if ! samba_spnupdate -s "$SAMBA_DIR/etc/smb.conf" >"$dir/spnupdate.log" 2>&1; then
    echo "samba_join_start: samba_spnupdate on the first DC failed; $dir/spnupdate.log:" >&2
    cat "$dir/spnupdate.log" >&2
    return 1
  fi
  # A DC of this name joined before (and was stopped): see the restart below.
  local before
  before=$(_samba_join_ntds_guids) || { echo "samba_join_start: reading the DCs' NTDS GUIDs failed" >&2; return 1; }

  # As samba_start: an empty base configuration, every path under DIR
  # (--targetdir gives the private, lock, state, cache and binddns
  # directories; the pid and socket directories are set here), only the
  # services of the first DC, no DNS. The password goes in the environment
  # (PASSWD, read by samba-tool), not on the command line.
  : >"$dir/join.conf"
  t0=$EPOCHREALTIME
  if ! PASSWD=$SAMBA_ADMIN_PASSWORD samba-tool domain join "$SAMBA_REALM" DC -s "$dir/join.conf" \
    --server="$SAMBA_ADDR" -U Administrator --dns-backend=NONE --targetdir="$dir" \
    --option="netbios name=${host^^}" --option="workgroup=$SAMBA_DOMAIN" \
    --option="interfaces=$addr" --option="bind interfaces only=yes" \
    --option="server services=$SAMBA_SERVER_SERVICES" \
    --option="idmap_ldb:use rfc2307=yes" \
    --option="tls enabled=yes" --option="tls keyfile=$dir/tls/key.pem" \
    --option="tls certfile=$dir/tls/cert.pem" --option="tls cafile=$dir/tls/ca.pem" \
    --option="pid directory=$dir/run" --option="ncalrpc dir=$dir/run/ncalrpc" \
    --option="winbindd socket directory=$dir/run/winbindd" \
    --option="ntp signd socket directory=$dir/run/ntp_signd" \
    >"$dir/join.log" 2>&1 </dev/null; then
    echo "samba_join_start: samba-tool domain join failed; $dir/join.log:" >&2
    cat "$dir/join.log" >&2
    return 1
  fi
  echo "samba_join_start: joined ${host^^} to $SAMBA_REALM in $(_samba_since "$t0")" >&2

  # Both DCs by their NTDS GUID name and their DNS name.
  local guids name guid lines= a
  guids=$(_samba_join_ntds_guids) || { echo "samba_join_start: reading the DCs' NTDS GUIDs failed" >&2; return 1; }
  while read -r name guid; do
    case $name in
      "${SAMBA_HOST^^}") a=$SAMBA_ADDR ;;
      "${host^^}") a=$addr ;;
      *) continue ;; # some other DC of the domain: not ours to name
    esac
    lines+="$a $guid._msdcs.$realm_lc ${name,,}.$realm_lc"$'\n'
  done <<<"$guids"
  if [[ $lines != *" ${SAMBA_HOST,,}.$realm_lc"* || $lines != *" $host.$realm_lc"* ]]; then
    echo "samba_join_start: the NTDS Settings of ${SAMBA_HOST^^} and ${host^^} were not both found:" >&2
    echo "$guids" >&2
    return 1
  fi
  lines=${lines%$'\n'}
  _samba_join_env "$dir" "$addr" "$lines" || return 1
  _samba_join_env "$SAMBA_DIR" "$SAMBA_ADDR" "$lines" || return 1

  # The first DC uses these files only if samba was started through its
  # samba-exec: otherwise restart it. -ef compares the file the DC sees as
  # /etc/hosts with its DIR/hosts (same inode when mounted). Restart it too
  # after a second join of the same name: it keeps the Kerberos ticket it had
  # for the earlier DC, made with the machine password the join replaced, and
  # the new DC refuses it.
  local why=
  if [[ ! /proc/$SAMBA_PID/root/etc/hosts -ef $SAMBA_DIR/hosts ]]; then
    why="with its own /etc/hosts"
  elif [[ $'\n'$before == *$'\n'"${host^^} "* ]]; then
    why="to forget its Kerberos tickets for the earlier ${host^^}"
  fi
  if [[ -n $why ]]; then
    echo "samba_join_start: restarting the first DC (pid $SAMBA_PID) $why" >&2
    samba_stop "$SAMBA_DIR" || return 1
    samba_restart "$SAMBA_DIR" || return 1
  fi

  # _samba_run in a subshell: it reads and sets SAMBA_* variables, which
  # stay the first DC's.
  (
    SAMBA_LDAPS_URL=ldaps://$addr:636 SAMBA_PID=
    _samba_run "$dir" samba_join_start
  ) || return 1
  _samba_join_link "$dir" "$addr" "${host^^}" || { samba_stop "$dir" || true; return 1; }
  export SAMBA_JOIN_ADDR=$addr SAMBA_JOIN_HOST=$host SAMBA_JOIN_DIR=$dir
  export SAMBA_JOIN_LDAPS_URL=ldaps://$addr:636 SAMBA_JOIN_LDAP_URL=ldap://$addr:389
  export SAMBA_JOIN_PID
  SAMBA_JOIN_PID=$(<"$dir/samba.pid") || return 1
}

# samba_join_stop [DIR]: stop the second DC (of DIR, default $SAMBA_JOIN_DIR)
# like samba_stop. The first DC keeps it as a replication partner (and logs
# failed attempts to reach it).
samba_join_stop() {
  local dir=${1:-${SAMBA_JOIN_DIR:-}}
  [[ -n $dir ]] || return 0
  samba_stop "$dir" || return 1
  [[ $dir != "${SAMBA_JOIN_DIR:-}" ]] || SAMBA_JOIN_PID=
}
