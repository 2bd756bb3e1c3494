#!/usr/bin/env bash
# `npm run mutants`: mutation testing of the rules (cargo-mutants). Each small change to the code
# (a return value replaced, an operator swapped, a match arm deleted) must make some test fail;
# the ones that do not are listed in docs/quality.md, each with the reason it cannot be caught.
#
#   scripts/mutants.sh                        every file below, then docs/quality.md is rewritten
#   scripts/mutants.sh core/src/links.rs ...  only those files (the table keeps the other groups'
#                                             rows from their last run, with its date and commit)
#   MUTANTS_JOBS=1                            one build at a time (default 2)
#   MUTANTS_TAG=x MUTANTS_ARGS="-F name"      a partial run (cargo-mutants arguments) kept in its
#                                             own result directory beside the group's
#
# Budget: a 2-core machine shared with other work. Each mutant rebuilds the mutated crate and the
# test crates that depend on it, so each file is tested against the test crates that exercise it
# (listed below), not all of them; a mutant only those others would catch counts as missed, so
# the selection can only overstate what is missed. MUTANTS_JOBS (default 2) sets the parallel
# builds. Not part of `npm test`.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "installing cargo-mutants (cargo install cargo-mutants --locked)"
  cargo install cargo-mutants --locked
fi

# Groups of files, each run once against the test targets that exercise them (`lib` = the
# crate's own unit tests; `mod::` = that module of the collector's one integration-test binary,
# tests/integration/): package | files | tests.
groups=(
  "chattag-core|core/src/alphabet.rs core/src/chat_id.rs core/src/find.rs|lib known_answers chat_ids finder_rules text_search events links link_rules"
  "chattag-core|core/src/links.rs core/src/url.rs core/src/template.rs|lib links link_rules url_rules accounts identifiers events limits"
  "chattag-core|core/src/event.rs core/src/identifiers.rs|lib events known_answers identifiers limits"
  # The matcher: how a chat is tied to a visit, end to end through the webhooks and the store.
  "chattag-collector|collector/src/chats/matching.rs|matching_rules:: chats_continuity:: chats_webhooks::"
)

out=target/mutants
for g in "${groups[@]}"; do
  IFS='|' read -r package gfiles gtests <<<"$g"
  sel=()
  for f in $gfiles; do
    if [ "$#" -eq 0 ] || printf '%s\n' "$@" | grep -qxF "$f"; then
      [ -f "$f" ] && sel+=(--file "$f")
    fi
  done
  [ "${#sel[@]}" -gt 0 ] || continue
  args=()
  filters=()
  for t in $gtests; do
    case "$t" in
      lib) args+=(--cargo-arg=--lib) ;;
      *::) filters+=("$t") ;;
      *) args+=(--cargo-arg=--test="$t") ;;
    esac
  done
  if [ "${#filters[@]}" -gt 0 ]; then
    args+=(--cargo-arg=--test=integration --cargo-test-arg=--)
    for f in "${filters[@]}"; do args+=(--cargo-test-arg="$f"); done
  fi
  name=$(echo "$gfiles" | awk '{print $1}' | tr / _)
  # MUTANTS_TAG: a separate result directory (e.g. a partial run with MUTANTS_ARGS="-F fn_name").
  dir="$out/$name${MUTANTS_TAG:+-$MUTANTS_TAG}"
  echo "== ${sel[*]} (tests: $gtests)"
  mkdir -p "$dir"
  { git rev-parse --short HEAD; git status --porcelain --untracked-files=no | grep -q . && echo dirty || true; } >"$dir/commit"
  if [ "$package" = chattag-core ]; then
    # The `mutants` profile (Cargo.toml): optimised tests, so the property tests take seconds.
    where=(--profile mutants -j "${MUTANTS_JOBS:-2}")
  else
    # The collector: in place, in the dev profile, so that its dependencies (already built by
    # `cargo test`) are not rebuilt in a scratch copy. One mutant at a time; the file is
    # restored afterwards. Do not edit the tree while this runs.
    where=(--in-place)
  fi
  cargo mutants -p "$package" "${sel[@]}" "${where[@]}" \
    --no-shuffle --minimum-test-timeout 30 --build-timeout 900 -o "$dir" "${args[@]}" \
    ${MUTANTS_ARGS:-} || true
done
node scripts/mutants_report.mjs "$out"/*/
