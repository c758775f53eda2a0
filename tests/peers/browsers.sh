# shellcheck shell=bash
# The browsers of the web UI tests: Debian's chromium + chromium-driver and firefox-esr, and
# geckodriver built from crates.io (pinned; Debian has no package of it). Source this file:
#
#   . tests/peers/browsers.sh
#   browsers_install "$HOME/.cache/alm-test"   # exports ALMTEST_GECKODRIVER
#
# The tests start each driver themselves (crates/alm/tests/it/support/browser.rs).

GECKODRIVER_VERSION=0.37.1

browsers_install() {
  local cache=${1:?usage: browsers_install CACHE_DIR}
  command -v chromium >/dev/null || apt_install chromium
  command -v chromedriver >/dev/null || apt_install chromium-driver
  command -v firefox-esr >/dev/null || apt_install firefox-esr
  local root=$cache/geckodriver-$GECKODRIVER_VERSION
  if [[ ! -x $root/bin/geckodriver ]]; then
    echo "building geckodriver $GECKODRIVER_VERSION from crates.io (once per cache)" >&2
    CARGO_TARGET_DIR=$cache/geckodriver-build cargo install --quiet --locked geckodriver \
      --version "$GECKODRIVER_VERSION" --root "$root" >&2 || { echo "browsers_install: geckodriver did not build" >&2; return 1; }
    rm -rf "$cache/geckodriver-build"
  fi
  "$root/bin/geckodriver" --version >/dev/null || { echo "browsers_install: geckodriver does not run" >&2; return 1; }
  chromedriver --version >/dev/null || { echo "browsers_install: chromedriver does not run" >&2; return 1; }
  export ALMTEST_GECKODRIVER=$root/bin/geckodriver
}

AXE_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/axe" && pwd)

# axe_install DIR: npm axe-core (pinned by tests/peers/axe/package-lock.json) into DIR, when
# the lock file changed since the last install; exports ALMTEST_AXE_JS (the script the tests
# inject into each page).
axe_install() {
  local dir=${1:?usage: axe_install DIR}
  mkdir -p "$dir" || return 1
  (
    flock 9 || exit 1
    cp "$AXE_SRC_DIR/package.json" "$AXE_SRC_DIR/package-lock.json" "$dir/" || exit 1
    if [[ -f $dir/node_modules/axe-core/axe.min.js ]] && cmp -s "$AXE_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"; then
      exit 0
    fi
    rm -f "$dir/.installed-lock.json"
    (cd "$dir" && npm ci --no-audit --no-fund) >&2 || { echo "axe_install: npm ci failed" >&2; exit 1; }
    cp "$AXE_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"
  ) 9>"$dir/.install.lock" || return 1
  [[ -f $dir/node_modules/axe-core/axe.min.js ]] || { echo "axe_install: axe.min.js missing" >&2; return 1; }
  export ALMTEST_AXE_JS=$dir/node_modules/axe-core/axe.min.js
}
