# shellcheck shell=bash
# Bash function to install the ticketing-system stand-in of the API-client tests: Python with
# Authlib (PyPI), a real OAuth 2.0 client library, and requests. The test runs
# tests/peers/ticketing_client.py with it: client credentials at alm's `/oauth/token`
# (client_secret_basic or client_secret_post), then the API with the bearer token it got.
#
#   . tests/peers/oauth_client.sh
#   oauth_client_install "$HOME/.cache/alm-test"   # venv, only when missing; exports ALMTEST_OAUTH_PYTHON
#
# Needs python3 (with venv) and flock. Works under `set -euo pipefail`.

AUTHLIB_VERSION=${AUTHLIB_VERSION:-1.9.10}
REQUESTS_VERSION=${REQUESTS_VERSION:-2.34.2}

oauth_client_install() {
  local cache=${1:?usage: oauth_client_install CACHE_DIR}
  mkdir -p "$cache" || return 1
  cache=$(cd "$cache" && pwd) || return 1
  local venv=$cache/venv-oauth spec="authlib==$AUTHLIB_VERSION requests==$REQUESTS_VERSION"
  (
    flock 9 || exit 1
    if [[ -x $venv/bin/python && $(cat "$venv/.alm-installed" 2>/dev/null) == "$spec" ]] &&
      "$venv/bin/python" -c 'import authlib, requests' 2>/dev/null; then
      exit 0
    fi
    echo "oauth_client_install: installing $spec into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" >&2 || { echo "oauth_client_install: python3 -m venv failed" >&2; exit 1; }
    # shellcheck disable=SC2086 # two requirement specifiers
    "$venv/bin/pip" install --disable-pip-version-check --no-input -q $spec >&2 ||
      { echo "oauth_client_install: pip install $spec failed" >&2; exit 1; }
    echo "$spec" >"$venv/.alm-installed"
  ) 9>"$cache/.oauth-install.lock" || return 1
  export ALMTEST_OAUTH_PYTHON=$venv/bin/python
}
