# shellcheck shell=bash
# The headless-Chromium render check for `alm discover`'s HTML report: Debian's chromium
# driven by npm `playwright-core` (no browser download). Source this file:
#
#   . tests/peers/html_render.sh
#   html_render_install "$HOME/.cache/alm-test/html-render"   # exports ALMTEST_HTML_RENDER_DIR
#
# Tests run `node $ALMTEST_HTML_RENDER_DIR/render_check.mjs file:///…/summary.html`.

HTML_RENDER_SRC_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/html_render" && pwd)

# html_render_install DIR: chromium (Debian) when missing, then `npm ci` in DIR when the
# lock file changed since the last install. A lock keeps parallel runs apart.
html_render_install() {
  local dir=${1:?usage: html_render_install DIR}
  command -v chromium >/dev/null || apt_install chromium
  mkdir -p "$dir" || return 1
  (
    flock 9 || exit 1
    cp "$HTML_RENDER_SRC_DIR/package.json" "$HTML_RENDER_SRC_DIR/package-lock.json" "$HTML_RENDER_SRC_DIR/render_check.mjs" "$dir/" || exit 1
    if [[ -d $dir/node_modules ]] && cmp -s "$HTML_RENDER_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"; then
      exit 0
    fi
    rm -f "$dir/.installed-lock.json"
    (cd "$dir" && npm ci --no-audit --no-fund) >&2 || { echo "html_render_install: npm ci failed" >&2; exit 1; }
    cp "$HTML_RENDER_SRC_DIR/package-lock.json" "$dir/.installed-lock.json"
  ) 9>"$dir/.install.lock" || return 1
  export ALMTEST_HTML_RENDER_DIR=$dir
}
