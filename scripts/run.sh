#!/usr/bin/env bash
# Builds alm and runs it on this machine: embedded SQLite in a local data directory,
#   bash scripts/run.sh
# and prints where to log in. The first start creates the administrator
# (ALM_ADMIN_EMAIL, default admin@alm.localhost) and prints a one-time password, unless
# ALM_ADMIN_PASSWORD is set. Stop it with Ctrl-C; the data stays in the data directory.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (1.85 or newer), e.g. with rustup"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
data_dir=${ALM_DATA_DIR:-$PWD/.alm-dev}
listen=${ALM_LISTEN:-127.0.0.1:8080}
unset ALM_DATA_DIR ALM_LISTEN  # passed as flags below

say "building alm (release; the first build takes a few minutes)"
cargo build --release --quiet -p alm
bin=$CARGO_TARGET_DIR/release/alm

say "starting alm: data in $data_dir, listening on $listen"
cat >&2 <<TXT
Log in with the administrator's email and password:
  curl -c cookies.txt -H 'content-type: application/json' \\
       -d '{"email":"ADMIN_EMAIL","password":"PASSWORD"}' http://$listen/api/v1/auth/login
or create an API token:  $bin admin create-token ADMIN_EMAIL --name me --data-dir $data_dir
API description: http://$listen/api/v1/openapi.json
TXT
exec "$bin" serve --data-dir "$data_dir" --listen "$listen"
