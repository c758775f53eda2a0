#!/usr/bin/env bash
# The whole test suite, with every peer it needs, on a fresh Debian/Ubuntu machine (as root):
#   bash scripts/test.sh
# Installs missing Debian packages, starts a throwaway PostgreSQL, installs the test OIDC
# provider (npm) and schemathesis (PyPI) into ~/.cache/alm-test, then runs formatting and
# lint checks, every Rust test (SQLite and PostgreSQL), and schemathesis against the API.
# Anything that cannot start fails the run with its log. `.ci/run` runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
. tests/peers/oidc.sh
. tests/peers/samba.sh
. tests/peers/samba_smb.sh
. tests/peers/samba_outage.sh
. tests/peers/samba_pair.sh
. tests/peers/openbao.sh
. tests/peers/moto.sh
. tests/peers/prism.sh
. tests/peers/smtp.sh
. tests/peers/oauth_client.sh
. tests/peers/html_render.sh
. tests/peers/rsyslog.sh
. tests/peers/browsers.sh

started=$(date +%s)
export ALM_TEST_CACHE=${ALM_TEST_CACHE:-$HOME/.cache/alm-test}
# Builds are reused between runs from outside the clone (CI starts from a fresh clone).
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
# Incremental caches are kept per checkout path and never cleaned: on a machine that tests many
# clones in one reused target directory they grew to 50 GB and filled the disk. A test run gains
# little from them (the workspace is built once per run).
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
mkdir -p "$ALM_TEST_CACHE" "$CARGO_TARGET_DIR"

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (1.85 or newer), e.g. with rustup"
# Packages are installed only when their command is missing, so a machine whose Node.js or
# Python came from elsewhere keeps them.
[[ -d /usr/lib/postgresql ]] || apt_install postgresql
command -v curl >/dev/null || apt_install curl ca-certificates
command -v python3 >/dev/null || apt_install python3 python3-venv
python3 -m venv --help >/dev/null 2>&1 || apt_install python3-venv
command -v node >/dev/null || apt_install nodejs
command -v npm >/dev/null || apt_install npm
samba_install
rsyslog_install
# The HTTPS tests: openssl makes the test CA and is the TLS client; nginx is the reverse proxy.
command -v openssl >/dev/null || apt_install openssl
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || apt_install nginx
# The ACME test's CA: pebble, the test server of RFC 8555's Let's Encrypt implementers.
command -v pebble >/dev/null || apt_install pebble
# The Debian package test: its units are checked with systemd-analyze (no running systemd needed).
command -v systemd-analyze >/dev/null || apt_install systemd
# The DNS discovery of domain controllers: each test serves its SRV records from a dnsmasq of its own.
command -v dnsmasq >/dev/null || [[ -x /usr/sbin/dnsmasq ]] || apt_install dnsmasq-base
ALMTEST_DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
export ALMTEST_DNSMASQ
# alm discover's report tests: pdftotext reads the PDF back.
command -v pdftotext >/dev/null || apt_install poppler-utils
# Two real alm processes on one PostgreSQL walk a clock set from outside: libfaketime makes
# their wall clock read a file the test writes (the binary itself has no clock switch).
[[ -e /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 || -e /usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1 ]] || apt_install libfaketime
lib_faketime=$(ls /usr/lib/*-linux-gnu/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
[[ -n $lib_faketime ]] || die "libfaketime installed but libfaketimeMT.so.1 not found"
export ALMTEST_FAKETIME_LIB=$lib_faketime


work=$(mktemp -d /tmp/alm-test.XXXXXX)
chmod 755 "$work"
cleanup() {
  local rc=$?
  samba_smb_stop || true
  samba_outage_stop || true
  samba_pair_stop || true
  samba_stop || true
  openbao_stop || true
  moto_stop || true
  prism_stop || true
  rsyslog_stop || true
  pg_stop
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

say "starting PostgreSQL"
pg_start "$work/pg"
echo "PostgreSQL ready on port $PG_PORT" >&2
# The crash-consistency suite (crates/alm/tests/crash) crashes this server and starts it again.
# (Its remote engine and replicas run cargo's alm binary; ALMTEST_ALM_BIN, if set, names another
# — a long run's own copy, where clones share CARGO_TARGET_DIR.)
ALMTEST_PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
export ALMTEST_PG_DIR=$PG_DIR/data ALMTEST_PG_BIN

say "starting a Samba Active Directory domain controller (LDAPS with a test CA)"
samba_start "$work/samba"
export ALMTEST_AD_URL=$SAMBA_LDAPS_URL ALMTEST_AD_CA_FILE=$SAMBA_CA_FILE ALMTEST_AD_BASE_DN=$SAMBA_BASE_DN \
  ALMTEST_AD_BIND=$SAMBA_ADMIN_UPN ALMTEST_AD_PASSWORD=$SAMBA_ADMIN_PASSWORD
echo "Samba AD ready at $SAMBA_LDAPS_URL ($SAMBA_REALM)" >&2

say "starting a second Samba DC with smbd (host scan tests: SMB2 + MS-SCMR) on $SAMBA_SMB_ADDR"
samba_smb_start "$work/samba-smb"
export ALMTEST_SMB_ADDR=$SAMBA_SMB_ADDR ALMTEST_SMB_DOMAIN=$SAMBA_SMB_DOMAIN ALMTEST_SMB_USER=$SAMBA_SMB_USER \
  ALMTEST_SMB_PASSWORD=$SAMBA_SMB_PASSWORD

say "starting a third Samba DC on $SAMBA_OUTAGE_ADDR that the outage tests stop and start again"
samba_outage_start "$work/samba-outage"
export ALMTEST_OUTAGE_DC_SCRIPT=$PWD/tests/peers/samba_outage.sh

say "starting a domain of two replicating Samba DCs ($SAMBA_PAIR_ADDR1, $SAMBA_PAIR_ADDR2) that the failover tests take turns stopping"
samba_pair_start "$work/pair"
export ALMTEST_PAIR_SCRIPT=$PWD/tests/peers/samba_pair.sh

say "starting OpenBao (dev server, KV v2) and moto (Secrets Manager, signatures checked)"
openbao_install "$ALM_TEST_CACHE"
moto_install "$ALM_TEST_CACHE"
bao_port=$(free_port)
moto_port=$(free_port)
# OpenBao also listens on its port + 1 (cluster listener).
while ((moto_port == bao_port + 1 || moto_port == bao_port)); do moto_port=$(free_port); done
openbao_start "$work/openbao" "$bao_port"
moto_start "$work/moto" "$moto_port"
export ALMTEST_OPENBAO_ADDR=$OPENBAO_ADDR ALMTEST_OPENBAO_TOKEN=$OPENBAO_TOKEN ALMTEST_OPENBAO_ALM_TOKEN=$OPENBAO_ALM_TOKEN \
  ALMTEST_MOTO_ENDPOINT=$MOTO_ENDPOINT ALMTEST_MOTO_REGION=$MOTO_REGION \
  ALMTEST_MOTO_ACCESS_KEY_ID=$MOTO_ACCESS_KEY_ID ALMTEST_MOTO_SECRET_ACCESS_KEY=$MOTO_SECRET_ACCESS_KEY

say "starting Prism with Azure Key Vault's published API description (contract tests of the Azure vault)"
prism_install "$ALM_TEST_CACHE/prism"
prism_start "$work/prism-azure" "$(free_port)" "$PRISM_AZURE_KV_SPEC"
export ALMTEST_PRISM_AZURE_KV=$PRISM_ADDR

say "starting rsyslog (SIEM receiver: UDP, TCP, TLS) and writing a spare configuration the SIEM tests start and stop"
# Four distinct TCP ports (the kernel may hand out a just-closed one again).
rsyslog_ports=()
while ((${#rsyslog_ports[@]} < 4)); do
  p=$(free_port)
  [[ " ${rsyslog_ports[*]} " == *" $p "* ]] || rsyslog_ports+=("$p")
done
rsyslog_start "$work/rsyslog" "$(free_port)" "${rsyslog_ports[0]}" "${rsyslog_ports[1]}"
rsyslog_spare_tcp=${rsyslog_ports[2]}
rsyslog_spare_tls=${rsyslog_ports[3]}
rsyslog_config "$work/rsyslog-spare" "$(free_port)" "$rsyslog_spare_tcp" "$rsyslog_spare_tls"
export ALMTEST_RSYSLOG_UDP_PORT=$RSYSLOG_UDP_PORT ALMTEST_RSYSLOG_TCP_PORT=$RSYSLOG_TCP_PORT \
  ALMTEST_RSYSLOG_TLS_PORT=$RSYSLOG_TLS_PORT ALMTEST_RSYSLOG_CA_FILE=$RSYSLOG_CA_FILE \
  ALMTEST_RSYSLOG_WRONG_CA_FILE=$RSYSLOG_WRONG_CA_FILE ALMTEST_RSYSLOG_DIR=$RSYSLOG_OUT \
  ALMTEST_RSYSLOG_SPARE_CONF=$work/rsyslog-spare/rsyslog.conf ALMTEST_RSYSLOG_SPARE_DIR=$work/rsyslog-spare/out \
  ALMTEST_RSYSLOG_SPARE_TCP_PORT=$rsyslog_spare_tcp ALMTEST_RSYSLOG_SPARE_TLS_PORT=$rsyslog_spare_tls

say "installing aiosmtpd (each notification test runs its own SMTP server)"
smtp_install "$ALM_TEST_CACHE"

say "installing Authlib (the API-client tests' OAuth 2.0 client)"
oauth_client_install "$ALM_TEST_CACHE"

say "installing the OIDC test provider"


oidc_install "$ALM_TEST_CACHE/oidc"
export ALMTEST_OIDC_DIR=$ALM_TEST_CACHE/oidc

say "installing the HTML render check (Debian chromium + npm playwright-core)"
html_render_install "$ALM_TEST_CACHE/html-render"

say "installing the browsers of the web UI tests (chromium, firefox-esr, their drivers)"
browsers_install "$ALM_TEST_CACHE"
axe_install "$ALM_TEST_CACHE/axe"
# The UI tests' screenshots: the reviewer's evidence, kept after the run.
export ALMTEST_SCREENSHOTS=${ALMTEST_SCREENSHOTS:-$CARGO_TARGET_DIR/ui-screenshots}
rm -rf "$ALMTEST_SCREENSHOTS"

say "cargo fmt --check"
cargo fmt --all --check
say "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "cargo test (unit tests; integration tests on SQLite and PostgreSQL)"
# Unset: a developer's own RUST_LOG/ALM_* must not change what the tests see.
env -u RUST_LOG cargo test --workspace --quiet 2>&1 | tee "$work/cargo-test.log"
test_status=${PIPESTATUS[0]}
((test_status == 0)) || die "cargo test failed"

say "fuzzing the parsers and formatters (scripts/fuzz.sh: ${FUZZ_SECONDS:-10}s per target)"
bash scripts/fuzz.sh

say "schemathesis against /api/v1/openapi.json"
cargo build --quiet -p alm
ALM_BIN="$CARGO_TARGET_DIR/debug/alm" bash scripts/schemathesis.sh

elapsed=$(($(date +%s) - started))
passed=$(grep -Eo '[0-9]+ passed' "$work/cargo-test.log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$work/cargo-test.log" | awk '{s+=$1} END {print s+0}')
say "all checks passed in ${elapsed}s"
echo "web UI screenshots: $ALMTEST_SCREENSHOTS"
echo "$passed passed, $failed failed"
