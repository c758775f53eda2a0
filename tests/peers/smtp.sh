# shellcheck shell=bash
# Bash function to install aiosmtpd (PyPI), the SMTP server the notification tests deliver to.
# Each test starts its own aiosmtpd on a free port with the Mailbox handler, so tests running
# side by side never read each other's mail (crates/alm/tests/it/support/smtp.rs). The TLS
# tests run tests/peers/smtp_server.py with the same venv: a server that requires STARTTLS (or
# TLS from the first byte) and a login, with a certificate from the test's own CA:
#
#   . tests/peers/smtp.sh
#   smtp_install "$HOME/.cache/alm-test"    # venv, only when missing; exports ALMTEST_SMTP_PYTHON
#
# Needs python3 (with venv) and flock. Works under `set -euo pipefail`.

AIOSMTPD_VERSION=${AIOSMTPD_VERSION:-1.4.6}

smtp_install() {
  local cache=${1:?usage: smtp_install CACHE_DIR}
  mkdir -p "$cache" || return 1
  cache=$(cd "$cache" && pwd) || return 1
  local venv=$cache/venv-smtp spec="aiosmtpd==$AIOSMTPD_VERSION"
  (
    flock 9 || exit 1
    if [[ -x $venv/bin/python && $(cat "$venv/.alm-installed" 2>/dev/null) == "$spec" ]] &&
      "$venv/bin/python" -c 'import aiosmtpd' 2>/dev/null; then
      exit 0
    fi
    echo "smtp_install: installing $spec into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || { echo "smtp_install: python3 -m venv failed" >&2; exit 1; }
    "$venv/bin/pip" install --disable-pip-version-check --no-input -q "$spec" >&2 ||
      { echo "smtp_install: pip install $spec failed" >&2; exit 1; }
    echo "$spec" >"$venv/.alm-installed"
  ) 9>"$cache/.smtp-install.lock" || return 1
  export ALMTEST_SMTP_PYTHON=$venv/bin/python
}
