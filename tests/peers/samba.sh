# shellcheck shell=bash
# Bash functions to install, provision, start and stop a throwaway Samba
# Active Directory domain controller for integration tests. Source this file:
#
#   . tests/peers/samba.sh
#   samba_install                      # Debian packages, only when missing
#   samba_start "$work/samba"          # fresh domain, waits for LDAPS
#   ... tests use $SAMBA_LDAPS_URL, $SAMBA_CA_FILE, $SAMBA_ADMIN_UPN, ...
#   samba_stop
#
# The DC answers LDAPS on $SAMBA_ADDR:636 with a server certificate signed by
# a test CA made for each start (DIR/tls/ca.pem = $SAMBA_CA_FILE), so strict
# TLS clients (rustls) can verify it: Samba's own auto-generated certificate
# has no subjectAltName and rustls rejects it.
#
# Needs root (samba binds privileged ports and runs as root), samba-tool,
# samba, ldapsearch, openssl, ss and ip (iproute2). Provisioning takes a few
# seconds (about 3.5 s on an idle 2-core machine), start-to-ready a few more.
#
# Samba listens on the standard ports (88, 135, 389, 464, 636, 3268, 3269) of
# one address, so there can be one DC per machine address. Everything
# address-specific comes from SAMBA_ADDR (default 127.0.0.1); a second DC for
# multi-domain tests can use another loopback address with its own
# SAMBA_REALM, SAMBA_DOMAIN, SAMBA_HOST and DIR, after saving the first DC's
# exported variables. Samba only binds addresses that are configured on an
# interface: 127.0.0.2 needs `ip addr add 127.0.0.2/8 dev lo` first (tried:
# two DCs, CORP on 127.0.0.1 and OTHER on 127.0.0.2, run side by side).
#
# The functions work under `set -euo pipefail`.

# Inputs (set before samba_start to change them). The realm and NetBIOS
# domain are fixed by the tests' expectations; they are variables only so a
# second DC can use other ones.
SAMBA_ADDR=${SAMBA_ADDR:-127.0.0.1}
SAMBA_REALM=${SAMBA_REALM:-CORP.EXAMPLE.TEST}
SAMBA_DOMAIN=${SAMBA_DOMAIN:-CORP}
# The DC's own name (dNSHostName SAMBA_HOST.realm, NetBIOS name in capitals).
# Fixed instead of the machine's host name, which may be too long for
# NetBIOS (15 characters), clash with the domain name, or differ between
# machines.
SAMBA_HOST=${SAMBA_HOST:-dc1}
# Only the services the tests need. Samba's default set also runs smbd (s3fs:
# ports 139/445), NetBIOS (nbt: 137/138) and WINS replication (wrepl: 42);
# those collide with the system smbd/nmbd that the Debian `samba` package
# starts on machines with systemd, and alm talks LDAP (and maybe Kerberos)
# only. Set to Samba's list ("s3fs rpc nbt wrepl ldap cldap kdc drepl
# winbindd ntp_signd kcc dnsupdate") to get a complete DC.
SAMBA_SERVER_SERVICES=${SAMBA_SERVER_SERVICES:-rpc ldap cldap kdc drepl winbindd ntp_signd kcc}
# TCP ports that must be free on SAMBA_ADDR before starting (the ones the
# services above listen on).
SAMBA_TCP_PORTS=${SAMBA_TCP_PORTS:-88 135 389 464 636 3268 3269}
# Extra smb.conf options for the provision step, one "name=value" per array
# element (empty by default). tests/peers/samba_smb.sh uses it for smbd's
# ports.
[[ $(declare -p SAMBA_EXTRA_OPTIONS 2>/dev/null) == "declare -a"* ]] || SAMBA_EXTRA_OPTIONS=()

# samba_install: install the Debian packages when samba-tool, samba or
# ldapsearch (or openssl, ss, ip) are missing; a machine that has them from
# elsewhere keeps them. `apt-get update` runs only when apt does not know the
# package yet (fresh images ship without package lists).
samba_install() {
  local need=0
  command -v samba-tool >/dev/null || need=1
  command -v samba >/dev/null || need=1
  command -v ldapsearch >/dev/null || need=1
  command -v openssl >/dev/null || need=1
  command -v ss >/dev/null || need=1
  command -v ip >/dev/null || need=1
  ((need)) || return 0
  [[ $(id -u) == 0 ]] || { echo "samba_install: samba/ldap-utils missing; run as root or install them" >&2; return 1; }
  echo "samba_install: installing samba-ad-dc samba ldap-utils" >&2
  export DEBIAN_FRONTEND=noninteractive
  local policy
  policy=$(apt-cache policy samba-ad-dc 2>/dev/null) || policy=
  if [[ $policy != *"Candidate: "[0-9]* ]]; then
    apt-get update -qq >&2 || return 1
  fi
  # samba-ad-dc pulls in samba-tool (python3-samba) and the AD schema
  # (samba-ad-provision). Its postinst adds winbind to /etc/nsswitch.conf and,
  # with systemd, may start the system smbd/nmbd: see SAMBA_SERVER_SERVICES.
  apt-get install -y -qq samba-ad-dc samba ldap-utils openssl iproute2 >&2 || return 1
}

# _samba_alive PID: the process exists and is not a zombie (samba stays a
# zombie until the starting shell reaps it).
_samba_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# _samba_busy_ports: print the `ss` lines of TCP listeners that would clash
# with a DC on SAMBA_ADDR (same address, or any-address, on one of
# SAMBA_TCP_PORTS). A leftover DC from an earlier run shows up here; talking
# to it instead of the new one would test the wrong server.
_samba_busy_ports() {
  { ss -Hltnp 2>/dev/null || true; } | awk -v addr="$SAMBA_ADDR" -v ports="$SAMBA_TCP_PORTS" '
    BEGIN { n = split(ports, p, " "); for (i = 1; i <= n; i++) want[p[i]] = 1 }
    {
      local = $4; port = local; sub(/.*:/, "", port); host = local; sub(/:[^:]*$/, "", host)
      if (!(port in want)) next
      if (host == addr || host == "0.0.0.0" || host == "*" || host == "[::]" || host == "[::ffff:" addr "]") print
    }'
}

# _samba_tls DIR HOSTFQDN: a test CA (DIR/tls/ca.pem) and a server key and
# certificate signed by it (DIR/tls/key.pem, DIR/tls/cert.pem). rustls
# (webpki) needs: a v3 CA certificate with basicConstraints CA:TRUE, and a
# server certificate whose subjectAltName holds the address clients connect
# to (the CN is ignored) with extendedKeyUsage serverAuth. Samba refuses a key
# file readable by others, hence mode 600.
_samba_tls() {
  local dir=$1 fqdn=$2 tls=$1/tls san
  mkdir -p "$tls" || return 1
  # localhost only for the DC on 127.0.0.1, where it points.
  san="IP:$SAMBA_ADDR,DNS:$fqdn,DNS:${SAMBA_REALM,,}"
  [[ $SAMBA_ADDR != 127.0.0.1 ]] || san="$san,DNS:localhost"
  (
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 365 \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" -subj "/O=alm tests/CN=alm test CA $SAMBA_REALM" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" &&
      openssl req -newkey rsa:2048 -nodes -sha256 -keyout "$tls/key.pem" -out "$tls/server.csr" \
        -subj "/O=alm tests/CN=$fqdn" &&
      printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature,keyEncipherment" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=$san" \
        "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid,issuer" >"$tls/server.ext" &&
      openssl x509 -req -sha256 -days 365 -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$tls/server.ext" -out "$tls/cert.pem"
  ) >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; return 1; }
  chmod 600 "$tls/key.pem" "$tls/ca.key" && chmod 644 "$tls/ca.pem" "$tls/cert.pem"
}

# _samba_since T0 [FORMAT]: seconds since $EPOCHREALTIME was T0 ("%.1f s").
_samba_since() {
  local now=$EPOCHREALTIME # the decimal separator follows the locale
  awk -v a="${1/,/.}" -v b="${now/,/.}" -v f="${2:-%.1f s}" 'BEGIN { printf f, b - a }'
}

# _samba_ldaps_ready: one verified LDAPS bind as the Administrator and a read
# of the root DSE. LDAPTLS_REQCERT=demand with our CA: a server with another
# certificate (say, a DC from an earlier run) fails here. (ldapwhoami is no
# use: Samba answers its extended operation with a protocol error.)
_samba_ldaps_ready() {
  LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand \
    ldapsearch -x -LLL -o nettimeout=5 -o ldif-wrap=no -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -w "$SAMBA_ADMIN_PASSWORD" \
    -b '' -s base defaultNamingContext 2>/dev/null | grep -qi "^defaultNamingContext: $SAMBA_BASE_DN\$"
}

# samba_start DIR: generate the TLS files, provision a fresh domain in DIR
# (which must be empty, missing, or a DIR of an earlier samba_start that is
# no longer running: it is wiped), start samba and wait (up to ~60 s) until
# an LDAPS bind verified against the test CA succeeds. Exports SAMBA_DIR,
# SAMBA_PID, SAMBA_LDAPS_URL, SAMBA_LDAP_URL, SAMBA_CA_FILE, SAMBA_BASE_DN,
# SAMBA_ADMIN_DN, SAMBA_ADMIN_UPN, SAMBA_ADMIN_PASSWORD, SAMBA_REALM,
# SAMBA_DOMAIN, SAMBA_ADDR, SAMBA_HOST. On failure prints the logs, stops what it started
# and returns non-zero. Keep DIR short: Samba puts unix sockets under DIR/run
# (sun_path is limited to 107 bytes).
samba_start() {
  local dir=${1:?usage: samba_start DIR}
  local cmd
  for cmd in samba-tool samba ldapsearch openssl ss ip; do
    command -v "$cmd" >/dev/null || { echo "samba_start: $cmd not found (run samba_install)" >&2; return 1; }
  done
  [[ $(id -u) == 0 ]] || { echo "samba_start: samba must run as root" >&2; return 1; }

  # Fresh domain every time: refuse a directory that is not ours, and one
  # whose DC still runs.
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  if [[ -n $(ls -A "$dir") ]]; then
    if [[ ! -e $dir/.alm-samba ]]; then
      echo "samba_start: $dir is not empty and was not made by samba_start; refusing to wipe it" >&2
      return 1
    fi
    local old
    old=$(cat "$dir/samba.pid" 2>/dev/null) || old=
    if [[ -n $old ]] && _samba_alive "$old"; then
      echo "samba_start: the DC of $dir still runs (pid $old); run samba_stop $dir first" >&2
      return 1
    fi
    find "$dir" -mindepth 1 -delete || return 1
  fi
  : >"$dir/.alm-samba"

  # Without the address on an interface samba starts, logs "no network
  # interfaces found" and never listens.
  # The listing is read whole before matching: `ip ... | grep -q` under
  # pipefail fails at random when grep exits before ip has written all.
  local addrs
  addrs=$(ip -o addr show 2>/dev/null) || addrs=
  if [[ $addrs != *" $SAMBA_ADDR/"* ]]; then
    echo "samba_start: $SAMBA_ADDR is not configured on any interface (e.g. ip addr add $SAMBA_ADDR/8 dev lo)" >&2
    return 1
  fi
  local busy
  busy=$(_samba_busy_ports)
  if [[ -n $busy ]]; then
    echo "samba_start: ports of a DC on $SAMBA_ADDR are already in use (a DC left running? a system samba?):" >&2
    echo "$busy" >&2
    return 1
  fi

  local realm_lc=${SAMBA_REALM,,} host=${SAMBA_HOST,,}
  # Samba's NetBIOS name must differ from the domain's and have at most 15
  # characters.
  if [[ ${host^^} == "${SAMBA_DOMAIN^^}" || ${#host} -gt 15 || ! $host =~ ^[a-z0-9-]+$ ]]; then
    echo "samba_start: SAMBA_HOST '$host' is not a usable DC name for domain $SAMBA_DOMAIN" >&2
    return 1
  fi

  # Complexity rules (3 of: upper, lower, digit, symbol; 7+ characters; not
  # containing the account name) apply to the admin password too.
  export SAMBA_ADMIN_PASSWORD=${SAMBA_ADMIN_PASSWORD:-Alm-$(openssl rand -hex 10)-Dc9}
  export SAMBA_DIR=$dir SAMBA_ADDR SAMBA_REALM SAMBA_DOMAIN SAMBA_HOST
  export SAMBA_LDAPS_URL=ldaps://$SAMBA_ADDR:636 SAMBA_LDAP_URL=ldap://$SAMBA_ADDR:389
  export SAMBA_CA_FILE=$dir/tls/ca.pem
  local part dn=
  IFS=. read -ra part <<<"$realm_lc"
  for cmd in "${part[@]}"; do dn+=${dn:+,}DC=$cmd; done
  export SAMBA_BASE_DN=$dn
  export SAMBA_ADMIN_UPN=Administrator@$realm_lc
  export SAMBA_ADMIN_DN=CN=Administrator,CN=Users,$SAMBA_BASE_DN
  export SAMBA_PID=

  _samba_tls "$dir" "$host.$realm_lc" || { echo "samba_start: making the TLS files failed" >&2; return 1; }

  # An empty base configuration: otherwise samba-tool merges the machine's
  # /etc/samba/smb.conf (shares, log file, passwd program...) into ours.
  # pid/socket directories go under DIR instead of /run/samba and
  # /var/lib/samba, so the DC touches nothing outside DIR and a second DC
  # would not collide with it. DNS is not served (--dns-backend=NONE): tests
  # connect by address.
  : >"$dir/provision.conf"
  local t0=$EPOCHREALTIME extra=()
  for cmd in "${SAMBA_EXTRA_OPTIONS[@]}"; do extra+=(--option="$cmd"); done
  if ! samba-tool domain provision -s "$dir/provision.conf" \
    --use-rfc2307 --realm="$SAMBA_REALM" --domain="$SAMBA_DOMAIN" --server-role=dc \
    --dns-backend=NONE --adminpass="$SAMBA_ADMIN_PASSWORD" --targetdir="$dir" \
    --host-name="$host" --option="netbios name=${host^^}" \
    --option="interfaces=$SAMBA_ADDR" --option="bind interfaces only=yes" \
    --option="server services=$SAMBA_SERVER_SERVICES" \
    --option="tls enabled=yes" --option="tls keyfile=$dir/tls/key.pem" \
    --option="tls certfile=$dir/tls/cert.pem" --option="tls cafile=$dir/tls/ca.pem" \
    --option="pid directory=$dir/run" --option="ncalrpc dir=$dir/run/ncalrpc" \
    --option="winbindd socket directory=$dir/run/winbindd" \
    --option="ntp signd socket directory=$dir/run/ntp_signd" "${extra[@]}" \
    >"$dir/provision.log" 2>&1; then
    echo "samba_start: samba-tool domain provision failed; $dir/provision.log:" >&2
    cat "$dir/provision.log" >&2
    return 1
  fi
  # The default minimum password age (one day) would stop an account changing its own
  # password right after it was made; the tests of "cannot change password" need the
  # directory's access check, not its age rule, to be what answers.
  if ! samba-tool domain passwordsettings set --min-pwd-age=0 -s "$dir/etc/smb.conf" \
    >>"$dir/provision.log" 2>&1; then
    echo "samba_start: setting the minimum password age failed; $dir/provision.log:" >&2
    cat "$dir/provision.log" >&2
    return 1
  fi
  echo "samba_start: provisioned $SAMBA_REALM in $(_samba_since "$t0")" >&2

  # What samba_restart needs to start this DC again and check it (mode 600: a password).
  (
    umask 077
    local v
    for v in SAMBA_ADDR SAMBA_REALM SAMBA_DOMAIN SAMBA_HOST SAMBA_LDAPS_URL SAMBA_LDAP_URL SAMBA_CA_FILE \
      SAMBA_BASE_DN SAMBA_ADMIN_UPN SAMBA_ADMIN_DN SAMBA_ADMIN_PASSWORD; do
      printf '%s=%q\n' "$v" "${!v}"
    done >"$dir/dc.env"
  ) || return 1
  _samba_run "$dir" samba_start
}

# samba_dc_values DIR: the LDAPS URL, CA file, base DN, administrator UPN and password of the DC
# that samba_start provisioned in DIR, one per line (read from DIR/dc.env in a subshell, so the
# caller's SAMBA_* stay as they are): for peers that start a DC of their own beside the default.
samba_dc_values() {
  (
    local line
    while IFS= read -r line; do eval "$line"; done <"${1:?usage: samba_dc_values DIR}/dc.env"
    printf '%s\n' "$SAMBA_LDAPS_URL" "$SAMBA_CA_FILE" "$SAMBA_BASE_DN" "$SAMBA_ADMIN_UPN" "$SAMBA_ADMIN_PASSWORD"
  )
}

# samba_restart DIR: start again the DC that samba_start provisioned in DIR and samba_stop
# stopped (an outage that ends), without provisioning: the same domain, objects and
# certificate come back. Waits for a verified LDAPS bind like samba_start. Reads DIR/dc.env;
# sets SAMBA_PID.
samba_restart() {
  local dir=${1:?usage: samba_restart DIR}
  [[ -s $dir/dc.env ]] || { echo "samba_restart: $dir/dc.env not found (not a samba_start DC?)" >&2; return 1; }
  local old
  old=$(cat "$dir/samba.pid" 2>/dev/null) || old=
  if [[ -n $old ]] && _samba_alive "$old"; then
    echo "samba_restart: the DC of $dir still runs (pid $old)" >&2
    return 1
  fi
  local line
  while IFS= read -r line; do eval "$line"; done <"$dir/dc.env"
  SAMBA_PID=
  _samba_run "$dir" samba_restart
}

# _samba_run DIR WHO: start samba on DIR/etc/smb.conf and wait (up to ~60 s) until an LDAPS
# bind verified against the test CA succeeds; WHO names the caller in messages.
_samba_run() {
  local dir=$1 who=$2 t0
  # setsid gives samba its own session, so samba_stop can find every worker
  # it forks. setsid forks when the caller leads a process group, so $! is not
  # always samba's pid: the child shell writes its own pid, then execs samba.
  # -i keeps samba in the foreground and --debug-stdout sends its log to
  # DIR/samba.log. stdin must be /dev/null: in -i mode samba exits on EOF when
  # stdin is a pipe or socket (as under some test runners).
  local pidfile=$dir/samba.pid
  local -a run=(samba -s "$dir/etc/smb.conf" -i --debug-stdout)
  # An executable DIR/samba-exec gets that command line and starts samba in
  # an environment of its own (tests/peers/samba_join.sh: a mount namespace
  # with another /etc/hosts). It must exec samba, so the pid stays samba's.
  if [[ -x $dir/samba-exec ]]; then run=("$dir/samba-exec" "${run[@]}"); fi
  rm -f "$pidfile"
  t0=$EPOCHREALTIME
  # shellcheck disable=SC2016 # $$ and $1 belong to the child shell
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' samba-dc \
    "$pidfile" "${run[@]}" >"$dir/samba.log" 2>&1 </dev/null &
  # Out of the job table: no "Killed ..." notice from bash if samba_stop has
  # to KILL it (bash still reaps it).
  disown $! 2>/dev/null || true

  local i
  for ((i = 0; i < 240; i++)); do # 240 x (0.25 s + the probe) ≈ 60 s or more
    [[ -z $SAMBA_PID && -s $pidfile ]] && SAMBA_PID=$(<"$pidfile")
    if [[ -n $SAMBA_PID ]]; then
      _samba_alive "$SAMBA_PID" || break # it died: the log says why
      if _samba_ldaps_ready; then
        # Exact DN of the Administrator, read back (proves search works too).
        local got
        got=$(LDAPTLS_CACERT=$SAMBA_CA_FILE LDAPTLS_REQCERT=demand ldapsearch -x -LLL -o ldif-wrap=no \
          -H "$SAMBA_LDAPS_URL" -D "$SAMBA_ADMIN_UPN" -w "$SAMBA_ADMIN_PASSWORD" -b "$SAMBA_BASE_DN" \
          "(sAMAccountName=Administrator)" dn 2>/dev/null | sed -n 's/^dn: //p') || got=
        [[ -n $got ]] && SAMBA_ADMIN_DN=$got
        echo "$who: DC $SAMBA_DOMAIN (pid $SAMBA_PID) answers on $SAMBA_LDAPS_URL $(_samba_since "$t0") after start" >&2
        return 0
      fi
    fi
    (($(_samba_since "$t0" %d) > 60)) && break
    sleep 0.25
  done
  echo "$who: the DC did not answer a verified LDAPS bind on $SAMBA_LDAPS_URL; $dir/samba.log:" >&2
  cat "$dir/samba.log" >&2
  if [[ -n $SAMBA_PID ]]; then samba_stop "$dir"; else echo "$who: samba wrote no pid to $pidfile" >&2; fi
  return 1
}

# _samba_procs SID...: "pid sid" of every process in the given sessions and
# of all their descendants (smbd/winbindd children of samba start sessions
# of their own, so the session alone is not enough).
_samba_procs() {
  ps -e -o pid=,ppid=,sid= | awk -v sids="$*" '
    BEGIN { n = split(sids, s, " "); for (i = 1; i <= n; i++) root[s[i]] = 1 }
    { pid[NR] = $1; ppid[NR] = $2; sid[NR] = $3; if ($3 in root) keep[$1] = 1 }
    END {
      do { changed = 0
        for (i = 1; i <= NR; i++) if (!(pid[i] in keep) && (ppid[i] in keep)) { keep[pid[i]] = 1; changed = 1 }
      } while (changed)
      for (i = 1; i <= NR; i++) if (pid[i] in keep) print pid[i], sid[i]
    }'
}

# _samba_left: reads "PID SID" lines, prints (space-separated, once each)
# the pids that still run (not zombies) in that same session; the session
# check also skips pids the kernel has since given to someone else. Reads
# /proc with builtins: it runs in a polling loop over ~50 processes.
_samba_left() {
  local p s st state sess seen=" " out=
  while read -r p s; do
    [[ -n $p && $seen != *" $p "* ]] || continue
    seen+="$p "
    { read -r st <"/proc/$p/stat"; } 2>/dev/null || continue
    st=${st##*) } # after "pid (comm) ": state ppid pgrp session ...
    read -r state _ _ sess _ <<<"$st"
    [[ $state != Z && $sess == "$s" ]] && out+=" $p"
  done
  echo "${out# }"
}

# samba_stop [DIR]: stop the DC started by samba_start (or the one whose pid
# DIR/samba.pid holds): TERM to samba's root process, which shuts its
# workers down; after ~10 s KILL whatever is left of its process tree and
# sessions. Returns once none of those processes remains (zombies aside),
# so the ports are free for the next samba_start.
samba_stop() {
  local pid=${SAMBA_PID:-}
  if [[ -n ${1:-} ]]; then pid=$(cat "$1/samba.pid" 2>/dev/null) || pid=; fi
  [[ -n $pid ]] || return 0
  # Remember the whole tree before signalling: once samba exits its children
  # are re-parented to init and no longer look like ours. winbindd (and smbd,
  # with s3fs) run in sessions of their own, hence the list of sessions.
  local procs i left p
  local -a sids
  procs=$(_samba_procs "$pid")
  mapfile -t sids < <(awk '{print $2}' <<<"$procs" | sort -u)
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    left=$(_samba_left <<<"$procs"$'\n'"$(_samba_procs "${sids[@]}")")
    [[ -z $left ]] && break
    sleep 0.2
  done
  if [[ -n $left ]]; then
    echo "samba_stop: samba (pid $pid) did not stop on TERM; killing $left" >&2
    kill -KILL -- "-$pid" 2>/dev/null || true # samba's own process group (= its session)
    for p in $left; do kill -KILL "$p" 2>/dev/null || true; done
    for ((i = 0; i < 25; i++)); do
      left=$(_samba_left <<<"$procs"$'\n'"$(_samba_procs "${sids[@]}")")
      [[ -z $left ]] && break
      sleep 0.2
    done
  fi
  [[ $pid == "${SAMBA_PID:-}" ]] && SAMBA_PID=
  if [[ -n $left ]]; then
    echo "samba_stop: processes of the DC are still there: $left" >&2
    return 1
  fi
  return 0
}
