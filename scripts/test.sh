#!/usr/bin/env bash
# `npm test`: install what is missing, build the snippet, run every suite, print one summary.
#   0. gate: cargo fmt --check and cargo clippy -D warnings (native targets, every crate)
#   1. native: cargo test for the workspace (core rules, snippet helpers, collector integration
#      tests that start the real server on loopback with a temporary SQLite database)
#   1b. the collector's integration tests again on PostgreSQL: scripts/postgres.sh installs it
#      when missing, starts a throwaway cluster on a loopback port, and removes it after
#   2. browser: node --test tests/browser/ (Playwright + headless Chromium against dist/ and the
#      real collector)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# A full run, not an edit loop: incremental state would be ~1.8 GB of target/ that a clean
# clone never reads back (CI machines can be short of disk), and a clean build is faster without.
export CARGO_INCREMENTAL=0

bash scripts/setup.sh
node scripts/build.mjs

logs=$(mktemp -d)
status=0

echo "== format and lint (cargo fmt --check, cargo clippy -D warnings)"
gate=0
if ! cargo fmt --all -- --check; then gate=1; echo "cargo fmt: run \`cargo fmt --all\`"; fi
if ! cargo clippy --workspace --all-targets -- -D warnings; then gate=1; fi
[ $gate -eq 0 ] || status=1

echo "== native tests (cargo test --workspace --no-fail-fast)"
if ! cargo test --workspace --no-fail-fast 2>&1 | tee "$logs/cargo.log"; then status=1; fi

echo "== collector integration tests on PostgreSQL (throwaway cluster, scripts/postgres.sh)"
: >"$logs/pg.log"
if pg_env=$(bash scripts/postgres.sh start); then
  eval "$pg_env"
  trap 'bash scripts/postgres.sh stop "$CHATTAG_PG_DIR" || true' EXIT
  if ! CHATTAG_TEST_POSTGRES="$CHATTAG_TEST_POSTGRES" CHATTAG_TEST_POSTGRES_CA="${CHATTAG_TEST_POSTGRES_CA:-}" cargo test -p chattag-collector --no-fail-fast --test '*' 2>&1 | tee "$logs/pg.log"; then status=1; fi
  bash scripts/postgres.sh stop "$CHATTAG_PG_DIR" || true
  trap - EXIT
else
  echo "PostgreSQL could not be started (see above)"
  echo "test result: FAILED. 0 passed; 1 failed; 0 ignored" >>"$logs/pg.log"
  status=1
fi

echo "== node + browser tests (GTM template, npm package, tests/browser/ in headless Chromium)"
if ! node --test --test-concurrency=1 tests/gtm.test.mjs tests/npm-pack.test.mjs tests/browser/ 2>&1 | tee "$logs/node.log"; then status=1; fi

# One closing line over both runners.
read -r cp cf < <(awk '/^test result:/{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i}} END{print p+0, f+0}' "$logs/cargo.log")
read -r gp gf < <(awk '/^test result:/{for(i=1;i<=NF;i++){if($(i+1)~/^passed/)p+=$i; if($(i+1)~/^failed/)f+=$i}} END{print p+0, f+0}' "$logs/pg.log")
read -r np nf < <(awk '/^# pass /{p=$3} /^# fail /{f=$3} END{print p+0, f+0}' "$logs/node.log")
echo "native (SQLite): $cp passed, $cf failed; collector on PostgreSQL: $gp passed, $gf failed; browser: $np passed, $nf failed"
echo "all: $((cp + gp + np)) passed, $((cf + gf + nf)) failed"
[ $gate -eq 0 ] || echo "format/lint gate failed (see above)"
[ $((cf + gf + nf)) -eq 0 ] || status=1
[ $((cp + np)) -gt 0 ] || { echo "no tests ran"; status=1; }
exit $status
