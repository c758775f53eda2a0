# shellcheck shell=bash
# Bash functions to install, start and stop a throwaway rsyslog receiver for
# the SIEM tests. Source this file:
#
#   . tests/peers/rsyslog.sh
#   rsyslog_install                                   # Debian packages, only when missing
#   rsyslog_start "$work/rsyslog" UDP TCP TLS         # waits until all three listen
#   ... tests read $RSYSLOG_OUT/{udp,tcp,tls}.log, trust $RSYSLOG_CA_FILE ...
#   rsyslog_config "$work/rsyslog-spare" UDP TCP TLS  # a second config, not started
#   rsyslog_stop
#
# Each instance runs with its own configuration in DIR (nothing of the
# system's rsyslog: no /etc/rsyslog.conf, no /dev/log), on 127.0.0.1 only:
#   - imudp on UDP,
#   - imtcp on TCP (imtcp detects RFC 6587 octet counting by itself: a frame
#     that starts with a digit is octet-counted, anything else newline-framed),
#   - imtcp with the gtls driver on TLS (RFC 5425; streamDriver.authMode="anon":
#     the receiver does not ask for client certificates). Its certificate
#     ($RSYSLOG_TLS_DIR/server.pem) is signed by a test CA made at each start
#     ($RSYSLOG_CA_FILE) and names IP:127.0.0.1, so a verifying client
#     (rustls) accepts it for 127.0.0.1 and refuses it for "localhost".
#     $RSYSLOG_WRONG_CA_FILE is a second CA that signed nothing.
# Each input writes every message to its own file in DIR/out (udp.log,
# tcp.log, tls.log), one line per message: the raw message as received
# (%rawmsg%, i.e. after the octet count or without the newline framing),
# JSON-string-escaped by rsyslog (format="json") so that a message holding a
# newline stays on one line, followed by a newline. Receive-side escaping of
# control characters is off, so what is in the file is exactly what was sent.
# rsyslog's own messages go to DIR/rsyslog-internal.log; its stdout/stderr to
# DIR/rsyslog.log.
#
# Needs root only for the install. Ready in about 0.1 s. The functions work
# under `set -euo pipefail`.

# rsyslog_install: install rsyslog and rsyslog-gnutls (the gtls stream
# driver) when rsyslogd or the driver is missing, openssl when missing. The
# packages' service is not started by us (policy-rc.d permitting); we only
# ever run our own rsyslogd.
rsyslog_install() {
  local need=0
  command -v rsyslogd >/dev/null || need=1
  _rsyslog_gtls_driver >/dev/null || need=1
  command -v openssl >/dev/null || need=1
  command -v ss >/dev/null || need=1
  ((need)) || return 0
  [[ $(id -u) == 0 ]] || { echo "rsyslog_install: rsyslog/rsyslog-gnutls missing; run as root or install them" >&2; return 1; }
  echo "rsyslog_install: installing rsyslog rsyslog-gnutls openssl iproute2" >&2
  export DEBIAN_FRONTEND=noninteractive
  local policy
  policy=$(apt-cache policy rsyslog-gnutls 2>/dev/null) || policy=
  if [[ $policy != *"Candidate: "[0-9]* ]]; then
    apt-get update -qq >&2 || return 1
  fi
  apt-get install -y -qq rsyslog rsyslog-gnutls openssl iproute2 >&2 || return 1
  _rsyslog_gtls_driver >/dev/null || { echo "rsyslog_install: the gtls driver (lmnsd_gtls.so) is still missing" >&2; return 1; }
}

# _rsyslog_gtls_driver: print the path of rsyslog's GnuTLS stream driver.
_rsyslog_gtls_driver() {
  local f
  for f in /usr/lib/*/rsyslog/lmnsd_gtls.so /usr/lib/rsyslog/lmnsd_gtls.so; do
    [[ -f $f ]] && { echo "$f"; return 0; }
  done
  return 1
}

# _rsyslog_alive PID: the process exists and is not a zombie.
_rsyslog_alive() {
  local stat
  { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# _rsyslog_listening PROTO PORT: a socket of ours listens on 127.0.0.1:PORT
# (PROTO t or u). Asks the kernel (ss) instead of connecting, so probing
# leaves no half-open TLS sessions in rsyslog's log.
_rsyslog_listening() {
  local lines
  lines=$(ss -Hln"$1" "sport = :$2" 2>/dev/null) || return 1
  [[ $lines == *"127.0.0.1:$2"* ]]
}

# _rsyslog_check_port PORT: a port number.
_rsyslog_check_port() {
  if [[ ! $1 =~ ^[1-9][0-9]{0,4}$ ]] || (($1 > 65535)); then
    echo "rsyslog: bad port '$1'" >&2
    return 1
  fi
}

# _rsyslog_tls DIR: a test CA (DIR/ca.pem), a server key and certificate
# signed by it for IP:127.0.0.1 (DIR/server.key, DIR/server.pem), and a second,
# unrelated CA (DIR/wrong-ca.pem). rustls (webpki) needs a v3 CA with
# basicConstraints CA:TRUE and a server certificate whose subjectAltName holds
# the address clients connect to, with extendedKeyUsage serverAuth. P-256 keys:
# quick to make, and both GnuTLS and rustls take them.
_rsyslog_tls() {
  local tls=$1
  mkdir -p "$tls" || return 1
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
      -keyout "$tls/ca.key" -out "$tls/ca.pem" -subj "/O=alm tests/CN=alm rsyslog test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -addext "subjectKeyIdentifier=hash" &&
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days 30 \
        -keyout "$tls/wrong-ca.key" -out "$tls/wrong-ca.pem" -subj "/O=alm tests/CN=alm unrelated test CA" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" &&
      openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
        -keyout "$tls/server.key" -out "$tls/server.csr" -subj "/O=alm tests/CN=127.0.0.1" &&
      printf '%s\n' "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" \
        "subjectAltName=IP:127.0.0.1" \
        "subjectKeyIdentifier=hash" \
        "authorityKeyIdentifier=keyid,issuer" >"$tls/server.ext" &&
      openssl x509 -req -sha256 -days 30 -in "$tls/server.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -extfile "$tls/server.ext" -out "$tls/server.pem"
  ) >"$tls/openssl.log" 2>&1 || { cat "$tls/openssl.log" >&2; return 1; }
  chmod 644 "$tls/ca.pem" "$tls/wrong-ca.pem" "$tls/server.pem"
}

# rsyslog_config DIR UDP TCP TLS [TLSDIR]: write DIR/rsyslog.conf for an
# instance on those ports (TLS files from TLSDIR, default $RSYSLOG_TLS_DIR)
# and check it with `rsyslogd -N1`. Output files go to DIR/out. Does not start
# anything: rsyslog_start does, or a test does (a receiver it stops and
# starts itself).
rsyslog_config() {
  local dir=${1:?usage: rsyslog_config DIR UDP TCP TLS [TLSDIR]} udp=${2:?} tcp=${3:?} tls=${4:?}
  local tlsdir=${5:-${RSYSLOG_TLS_DIR:-}}
  [[ -n $tlsdir && -f $tlsdir/server.pem ]] || { echo "rsyslog_config: no TLS files in '$tlsdir'" >&2; return 1; }
  _rsyslog_check_port "$udp" && _rsyslog_check_port "$tcp" && _rsyslog_check_port "$tls" || return 1
  mkdir -p "$dir/out" "$dir/work" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  cat >"$dir/rsyslog.conf" <<EOF
# alm SIEM test receiver (tests/peers/rsyslog.sh). Generated; edits are lost.
global(
  workDirectory="$dir/work"
  maxMessageSize="64k"
  processInternalMessages="on"
  parser.escapeControlCharactersOnReceive="off"
  defaultNetstreamDriverCAFile="$tlsdir/ca.pem"
  defaultNetstreamDriverCertFile="$tlsdir/server.pem"
  defaultNetstreamDriverKeyFile="$tlsdir/server.key"
)
module(load="imudp")
# notifyOnConnectionOpen: one line in rsyslog-internal.log per connection, so a test can
# count the connections a sender opened.
module(load="imtcp" maxSessions="500" notifyOnConnectionOpen="on")

# The message as received, as a JSON string body (quotes, backslashes and
# control characters escaped), then a newline: one line per message.
template(name="alm_raw" type="list") {
  property(name="rawmsg" format="json")
  constant(value="\n")
}

ruleset(name="alm_udp") { action(type="omfile" file="$dir/out/udp.log" template="alm_raw") }
ruleset(name="alm_tcp") { action(type="omfile" file="$dir/out/tcp.log" template="alm_raw") }
ruleset(name="alm_tls") { action(type="omfile" file="$dir/out/tls.log" template="alm_raw") }

input(type="imudp" address="127.0.0.1" port="$udp" ruleset="alm_udp")
input(type="imtcp" address="127.0.0.1" port="$tcp" ruleset="alm_tcp")
input(type="imtcp" address="127.0.0.1" port="$tls" ruleset="alm_tls"
      streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")

# rsyslog's own messages (start-up, TLS handshake failures, ...).
*.* action(type="omfile" file="$dir/rsyslog-internal.log")
EOF
  if ! rsyslogd -N1 -f "$dir/rsyslog.conf" >"$dir/check.log" 2>&1; then
    echo "rsyslog_config: rsyslogd -N1 refused $dir/rsyslog.conf:" >&2
    cat "$dir/check.log" >&2
    return 1
  fi
}

# rsyslog_start DIR UDP TCP TLS: make the TLS files (DIR/tls), write and check
# the configuration, start `rsyslogd -n` in its own session and wait (up to
# ~10 s) until the three ports listen. Exports RSYSLOG_DIR, RSYSLOG_OUT
# (DIR/out), RSYSLOG_UDP_PORT, RSYSLOG_TCP_PORT, RSYSLOG_TLS_PORT,
# RSYSLOG_TLS_DIR, RSYSLOG_CA_FILE, RSYSLOG_WRONG_CA_FILE, RSYSLOG_PID,
# RSYSLOG_LOG. On failure prints rsyslog's logs, stops what it started and
# returns non-zero.
rsyslog_start() {
  local dir=${1:?usage: rsyslog_start DIR UDP TCP TLS} udp=${2:?} tcp=${3:?} tls=${4:?}
  command -v rsyslogd >/dev/null || { echo "rsyslog_start: rsyslogd not found (run rsyslog_install)" >&2; return 1; }
  mkdir -p "$dir" || return 1
  dir=$(cd "$dir" && pwd) || return 1
  export RSYSLOG_DIR=$dir RSYSLOG_OUT=$dir/out RSYSLOG_LOG=$dir/rsyslog.log RSYSLOG_PID=
  export RSYSLOG_UDP_PORT=$udp RSYSLOG_TCP_PORT=$tcp RSYSLOG_TLS_PORT=$tls
  export RSYSLOG_TLS_DIR=$dir/tls RSYSLOG_CA_FILE=$dir/tls/ca.pem RSYSLOG_WRONG_CA_FILE=$dir/tls/wrong-ca.pem
  local p proto
  for p in "t:$tcp" "t:$tls" "u:$udp"; do
    proto=${p%%:*}
    if _rsyslog_listening "$proto" "${p#*:}"; then
      echo "rsyslog_start: something already listens on 127.0.0.1:${p#*:} ($proto)" >&2
      return 1
    fi
  done
  _rsyslog_tls "$RSYSLOG_TLS_DIR" || return 1
  rsyslog_config "$dir" "$udp" "$tcp" "$tls" "$RSYSLOG_TLS_DIR" || return 1

  local pidfile=$dir/rsyslogd.pid t0=$EPOCHREALTIME
  rm -f "$pidfile"
  setsid rsyslogd -n -f "$dir/rsyslog.conf" -i "$pidfile" >"$RSYSLOG_LOG" 2>&1 </dev/null &
  RSYSLOG_PID=$!
  disown "$RSYSLOG_PID" 2>/dev/null || true
  # setsid forks when the caller leads a process group: then $! is setsid's
  # pid, not rsyslogd's. rsyslogd writes its own pid to the pidfile.
  local i ready=0
  for ((i = 0; i < 100; i++)); do
    [[ -s $pidfile ]] && RSYSLOG_PID=$(<"$pidfile")
    if [[ -s $pidfile ]] && ! _rsyslog_alive "$RSYSLOG_PID"; then break; fi
    if _rsyslog_listening t "$tcp" && _rsyslog_listening t "$tls" && _rsyslog_listening u "$udp" && [[ -s $pidfile ]]; then
      ready=1
      break
    fi
    sleep 0.1
  done
  if ((ready)); then
    echo "rsyslog_start: rsyslogd (pid $RSYSLOG_PID) ready on 127.0.0.1 udp $udp, tcp $tcp, tls $tls after $(awk -v a="${t0/,/.}" -v b="${EPOCHREALTIME/,/.}" 'BEGIN { printf "%d", (b - a) * 1000 }') ms" >&2
    return 0
  fi
  echo "rsyslog_start: rsyslogd did not come up on 127.0.0.1 udp $udp, tcp $tcp, tls $tls" >&2
  echo "--- $RSYSLOG_LOG:" >&2
  cat "$RSYSLOG_LOG" >&2 || true
  echo "--- $dir/rsyslog-internal.log:" >&2
  cat "$dir/rsyslog-internal.log" >&2 2>/dev/null || true
  rsyslog_stop
  return 1
}

# rsyslog_stop: stop the rsyslogd started by rsyslog_start (TERM, then KILL
# after ~5 s) and wait until it is gone.
rsyslog_stop() {
  [[ -n ${RSYSLOG_PID:-} ]] || return 0
  local i
  kill -TERM "$RSYSLOG_PID" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    _rsyslog_alive "$RSYSLOG_PID" || break
    sleep 0.1
  done
  if _rsyslog_alive "$RSYSLOG_PID"; then
    echo "rsyslog_stop: rsyslogd (pid $RSYSLOG_PID) did not stop on TERM; killing it" >&2
    kill -KILL "$RSYSLOG_PID" 2>/dev/null || true
  fi
  RSYSLOG_PID=
  return 0
}
