#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs and starts the real engines, then runs
# formatting and lint checks and every test against them.
#
#   bash scripts/test.sh
#
# Cargo's target directory defaults to ~/.cache/gosight/target (outside the clone), so a second
# run on the same machine reuses the build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/gosight/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

step() { printf '\n=== %s\n' "$*"; }

step "engines: install and start"
bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests"
status=0
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast || status=$?
else
  cargo test --workspace --locked --no-fail-fast || status=$?
fi

step "sdk: typecheck, build, unit and Chromium tests"
(cd sdk && npm ci --no-audit --no-fund && npm test) || status=$?

step "dashboard: typecheck, build, component tests and Chromium tests against the real services"
(cd dashboard && npm ci --no-audit --no-fund && npm test) || status=$?

exit "$status"
