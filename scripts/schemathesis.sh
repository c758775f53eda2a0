#!/usr/bin/env bash
# Property-based API testing of alm with schemathesis.
#
#   bash scripts/schemathesis.sh
#
# Starts a throwaway alm (SQLite in a temporary directory, a free port on
# 127.0.0.1), creates an administrator API token for it, and runs schemathesis
# against the server's own OpenAPI document (/api/v1/openapi.json) with that
# token. Exits non-zero when schemathesis reports failures or errors.
#
# Settings (all optional):
#   ALM_BIN        the alm binary to test (default target/debug/alm; build it
#                  first with `cargo build -p alm`)
#   ALM_TEST_CACHE where the schemathesis venv lives, kept between runs
#                  (default ~/.cache/alm-test)
#
# Output goes to target/schemathesis/: schemathesis.txt (what it printed),
# junit.xml, events.ndjson (every request and response), alm.log (the server).
#
# Needs python3 >= 3.11 with venv (schemathesis 4.32 requires it), flock, and
# access to PyPI on the first run.
set -euo pipefail

# Everything below is relative to the repository root, wherever we are called from.
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The pinned version: bump deliberately, since new schemathesis releases add
# checks and change generation, which changes what a run finds.
SCHEMATHESIS_VERSION=4.32.5

BIN=${ALM_BIN:-target/debug/alm}
CACHE=${ALM_TEST_CACHE:-$HOME/.cache/alm-test}
VENV=$CACHE/venv-schemathesis
OUT=target/schemathesis
CONFIG=$(realpath tests/peers/schemathesis.toml)


# alm refuses to start when it sees an ALM_* variable it does not know (and
# ALM_BIN / ALM_TEST_CACHE are ours, not alm's), and a caller's ALM_CONFIG or
# ALM_DATABASE__URL must never point the throwaway server at a real database.
# So drop every ALM_* variable from the environment; the alm commands below get
# exactly the ones they need.
while read -r name; do
  unset "$name"
done < <(compgen -e | grep '^ALM_' || true)

[[ -x $BIN ]] || { echo "schemathesis.sh: $BIN is missing; run cargo build -p alm" >&2; exit 2; }
BIN=$(realpath "$BIN")

# --- schemathesis in its own venv, installed only when missing or another version
installed_version() {
  "$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("schemathesis"))' 2>/dev/null || true
}
mkdir -p "$CACHE"
(
  # A lock keeps two runs from installing into the same venv at once.
  flock 9
  if [[ $(installed_version) != "$SCHEMATHESIS_VERSION" ]]; then
    echo "schemathesis.sh: installing schemathesis $SCHEMATHESIS_VERSION into $VENV" >&2
    # Recreate the venv when its python no longer runs (e.g. the interpreter it
    # was made from was upgraded or removed).
    "$VENV/bin/python" -c '' 2>/dev/null || python3 -m venv --clear "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
  fi
) 9>"$CACHE/.venv-schemathesis.lock"
"$VENV/bin/schemathesis" --version

# --- a throwaway alm
WORK=$(mktemp -d "${TMPDIR:-/tmp}/alm-schemathesis.XXXXXX")
mkdir -p "$OUT"
OUT=$(realpath "$OUT") # schemathesis runs with $OUT as its working directory
LOG=$OUT/alm.log
JUNIT=$OUT/junit.xml
EVENTS=$OUT/events.ndjson
# .schemathesis/ holds the failures of the previous run, which schemathesis
# would replay first: without it a run depends on the seed alone.
rm -rf "$LOG" "$JUNIT" "$EVENTS" "$OUT/schemathesis.txt" "$OUT/.schemathesis"
SERVER_PID=
STATUS=1 # what the EXIT trap reports; set to 0 only when everything passed

cleanup() {
  local rc=$?
  # Stop the server we started, by its PID only (TERM, then KILL if it hangs).
  if [[ -n $SERVER_PID ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  # On any failure the server's side of the story is what one needs next.
  if [[ $rc -ne 0 || $STATUS -ne 0 ]] && [[ -s $LOG ]]; then
    echo "----- alm server log ($LOG) -----" >&2
    cat "$LOG" >&2
    echo "----- end of alm server log -----" >&2
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM # run the EXIT trap on Ctrl-C / kill too

# A free port: bind port 0 and read what the kernel picked. (Racy in theory:
# another process could take it before alm binds; alm then fails to start and
# we say so below.)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT

ADMIN_EMAIL=admin@example.test
# setsid puts the server in its own session so a Ctrl-C in the terminal reaches
# only us (and our trap stops it). setsid may fork when its caller leads a
# process group, making $! the wrong PID, so the child shell writes its own PID
# and then execs alm in place.
setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' alm-serve "$WORK/pid" \
  env ALM_ADMIN_EMAIL="$ADMIN_EMAIL" ALM_ADMIN_PASSWORD='a-long-test-password' \
  "$BIN" serve --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
  >"$LOG" 2>&1 </dev/null &

# Wait (up to ~30 s) until alm says it is ready. The log line proves that our
# process, not another one on the same port, is the one answering.
ready=
for _ in $(seq 150); do
  [[ -z $SERVER_PID && -s $WORK/pid ]] && SERVER_PID=$(<"$WORK/pid")
  if [[ -n $SERVER_PID ]]; then
    kill -0 "$SERVER_PID" 2>/dev/null || break # it died (e.g. port taken)
    if grep -q 'alm is listening on' "$LOG" && "$BIN" healthcheck --url "$BASE" >/dev/null 2>&1; then
      ready=1
      break
    fi
  fi
  sleep 0.2
done
[[ -n $ready ]] || { echo "schemathesis.sh: alm did not become ready on $BASE" >&2; exit 1; }

# An administrator API token (System Administrator holds every permission), so
# that every operation is reachable rather than answering 403.
TOKEN=$("$BIN" admin create-token "$ADMIN_EMAIL" --name schemathesis --data-dir "$WORK/data")

# --- the run
#
# Checks: all of them, so that the checks a newer pinned version adds are on
# too. None is excluded: each one tests something alm promises (no 5xx, the
# documented statuses, content types, headers and schemas, rejecting invalid
# and accepting valid input, 405 with Allow for other methods, 401 without or
# with a wrong credential). object_level_authorization would need a second
# identity; with one token it finds nothing, which is harmless.
#
# Operations: all of them. POST /api/v1/auth/logout stays in: it ends only a
# cookie session, and for an API token it answers 409 without touching the
# token, so it cannot log schemathesis out. POST /api/v1/auth/login stays in
# too: it needs no credentials, random ones just fail (and after a few tries
# for admin@example.test the account's login is locked with 429, which does
# not affect the token).
# Beware: alm lets an administrator revoke the token in use and take the
# System Administrator role from themselves. This seed does neither; if a
# later run shows a flood of 401/403 answers, that is what happened.
#
# Generation: at most 50 examples per operation (about 30 s for the whole run
# on 2 cores) and a fixed seed, so that a failure comes back with the same
# command. --generation-database none: no replay of examples saved by earlier
# runs, so each run depends only on the seed (and a server at the same commit).
# --continue-on-failure: report every distinct failure of an operation, not
# only the first one found.
# --workers 1: the server's state is shared by all operations (what one deletes
# another looks up); one worker keeps the order of requests, and so the
# outcome, the same for a given seed.
ARGS=(
  --config-file "$CONFIG"
  run "$BASE/api/v1/openapi.json"

  --header "Authorization: Bearer $TOKEN"
  --checks all
  --max-examples 50
  --seed 20261129
  --generation-database none
  --continue-on-failure
  --workers 1
  --request-timeout 10
  --no-color
  --report junit,ndjson
  --report-junit-path "$JUNIT"
  --report-ndjson-path "$EVENTS"
)
# The command line, with the token masked (it is throwaway, but keep logs clean).
cmdline="$VENV/bin/schemathesis ${ARGS[*]}"
echo "schemathesis.sh: (in $OUT) ${cmdline//"$TOKEN"/<token>}"

start=$SECONDS
set +e
# Run from $OUT: schemathesis and hypothesis keep caches (.schemathesis/,
# .hypothesis/) in the working directory, which must not be the work tree, and
# a schemathesis.toml lying around there would change the run. `st replay ID`
# works from $OUT afterwards. A copy of the output goes to
# $OUT/schemathesis.txt, for the summary below.
(cd "$OUT" && exec "$VENV/bin/schemathesis" "${ARGS[@]}") 2>&1 | tee "$OUT/schemathesis.txt"
st_rc=${PIPESTATUS[0]}
set -e
elapsed=$((SECONDS - start))

# schemathesis closes with a line like "==== 99 failures in 31.50s ====" and
# before it counts failures by check ("❌ ST103 Undocumented status code: 72").
# (|| true: finding nothing to quote must not end the script under set -e.)
closing=$(grep -E '^=+ .+ =+$' "$OUT/schemathesis.txt" | tail -n 1 | sed -E 's/^=+ (.+) =+$/\1/' || true)
by_check=$(sed -n '/^Failures:$/,/^$/p' "$OUT/schemathesis.txt" | grep -oE 'ST[0-9]+ [^:]+: [0-9]+' | paste -sd ';' - | sed 's/;/; /g' || true)
if [[ $st_rc -eq 0 ]]; then
  STATUS=0
  echo "schemathesis.sh: PASSED: schemathesis $SCHEMATHESIS_VERSION, ${closing:-no failures}, ${elapsed}s in all (reports in $OUT)"
else
  echo "schemathesis.sh: FAILED: schemathesis $SCHEMATHESIS_VERSION exited $st_rc: ${closing:-see above}${by_check:+ ($by_check)}, ${elapsed}s in all (reports and server log in $OUT)"
fi
exit "$st_rc"
