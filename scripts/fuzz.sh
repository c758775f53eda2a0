#!/usr/bin/env bash
# Coverage-guided fuzzing of alm's parsers and formatters with bolero (libFuzzer, stable Rust):
#   bash scripts/fuzz.sh                      # every target 10 s (the CI run; scripts/test.sh)
#   FUZZ_SECONDS=1800 bash scripts/fuzz.sh    # longer, by hand
#   bash scripts/fuzz.sh dn::                 # only the targets whose path contains "dn::"
# A target is a `#[test] fn fuzz_*` calling `bolero::check!()` in a module named `fuzz`
# (`src/**/fuzz.rs` or `src/**/fuzz/*.rs`) of alm-core, alm-directory, alm-siem or alm-scmr;
# its test path follows from the file (`src/dn/fuzz.rs` → `dn::fuzz::fuzz_…`). alm-server's
# config targets run under plain `cargo test` only (their header says why).
# Installs cargo-bolero (pinned) when missing. Builds with the workspace's `fuzz` profile into
# $CARGO_TARGET_DIR/fuzz. Prints each target's runs and whether it crashed; exits 1 naming the
# crash inputs if any did. Inputs worth keeping stay in each target's
# `__fuzz__/<target>/corpus` (not in git) and make the next run start further; a crash input is
# replayed by `cargo test` once committed under `__fuzz__/<target>/crashes` with its fix.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# Pinned: cargo-bolero and the bolero crate (Cargo.lock) speak one protocol version.
CARGO_BOLERO_VERSION=0.13.5
CRATES=(alm-core alm-directory alm-siem alm-scmr)
FUZZ_SECONDS=${FUZZ_SECONDS:-10}
filter=${1:-}
[[ $FUZZ_SECONDS =~ ^[1-9][0-9]*$ ]] || die "FUZZ_SECONDS must be a whole number of seconds, found ${FUZZ_SECONDS@Q}"

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/alm-target}
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
command -v cargo >/dev/null || die "cargo not found: install a Rust toolchain (1.85 or newer), e.g. with rustup"
# bolero builds libFuzzer from its C++ sources.
command -v c++ >/dev/null || apt_install g++
if [[ $(cargo bolero --version 2>/dev/null || true) != "cargo-bolero $CARGO_BOLERO_VERSION" ]]; then
  say "installing cargo-bolero $CARGO_BOLERO_VERSION"
  cargo install cargo-bolero --version "$CARGO_BOLERO_VERSION" --locked --quiet
fi

# crate<TAB>test path, for every fuzz target of the crates above.
list_targets() {
  local crate file module fn
  for crate in "${CRATES[@]}"; do
    while IFS= read -r file; do
      module=${file#crates/"$crate"/src/}
      module=${module%.rs}
      module=${module%/mod}
      module=${module//\//::}
      # A target is a #[test] fn named fuzz_* (helpers and regression tests are not).
      { grep -A1 -E '^\s*#\[test\]' "$file" | grep -oE '^\s*fn fuzz_[a-z0-9_]+' || true; } | while read -r _ fn; do
        printf '%s\t%s::%s\n' "$crate" "$module" "$fn"
      done
    done < <(find "crates/$crate/src" \( -name fuzz.rs -o -path '*/fuzz/*.rs' \) | sort)
  done
}

work=$(mktemp -d /tmp/alm-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
crashes=()
count=0
while IFS=$'\t' read -r crate target; do
  [[ -z $filter || $target == *"$filter"* ]] || continue
  count=$((count + 1))
  log="$work/$crate-${target//::/-}.log"
  say "fuzzing $crate $target for ${FUZZ_SECONDS}s"
  status=0
  cargo bolero test "$target" -p "$crate" --sanitizer NONE -T "${FUZZ_SECONDS}s" \
    --target-dir "$CARGO_TARGET_DIR/fuzz" >"$log" 2>&1 || status=$?
  # libFuzzer's last word: "Done 123456 runs in 10 second(s)"; after a crash, its last status line.
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  crash=$(grep -oE 'Test unit written to .*' "$log" | tail -n 1 | sed 's/^Test unit written to //' || true)
  if ((status == 0)) && [[ -n $done_line ]]; then
    runs=$(awk '{print $2}' <<<"$done_line")
    secs=$(awk '{print $5}' <<<"$done_line")
    corpus=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" | tail -n 1 | sed 's/^corp: //' || true)
    printf '%s %s: %s runs in %ss (%s/s), corpus %s, no crash\n' "$crate" "$target" "$runs" "$secs" \
      "$((runs / (secs > 0 ? secs : 1)))" "${corpus:-?}"
  elif [[ -n $crash ]]; then
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 | awk '{print $1}' | tr -d '#' || true)
    grep -A12 -E '^Error:' "$log" | cut -c1-300 >&2 || true
    printf '%s %s: CRASH after %s runs, input written to %s\n' "$crate" "$target" "${last:-?}" "$crash"
    crashes+=("$crash")
  else
    tail -n 40 "$log" >&2
    die "$crate $target: cargo bolero failed (exit $status) without a crash input; see above"
  fi
done < <(list_targets)

((count > 0)) || die "no fuzz target matches ${filter@Q}"
say "fuzzed $count targets in $(($(date +%s) - started))s"
if ((${#crashes[@]} > 0)); then
  printf 'crash input: %s\n' "${crashes[@]}" >&2
  die "${#crashes[@]} target(s) crashed; replay one with \`cargo test -p <crate> --lib <target>\` (it reads crashes/)"
fi
