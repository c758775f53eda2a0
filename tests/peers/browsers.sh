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
