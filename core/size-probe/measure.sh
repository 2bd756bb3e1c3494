#!/usr/bin/env bash
# Prints the wasm-opt'd, gzip -9 size of the probe for each feature set: the difference from
# the empty set is what chattag-core adds to the snippet. Uses the offline wasm path of
# docs/reference/toolchain.md (Debian rustc 1.96 + build-std) and its own target dir.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="$root/target/wasm-core-size"
opt="$root/node_modules/.bin/wasm-opt"
for features in "" "tag" "ids" "tag ids"; do
  PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$target" \
    RUSTFLAGS='-Zunstable-options -Cpanic=immediate-abort' \
    cargo build -q --release --manifest-path "$here/Cargo.toml" --target wasm32-unknown-unknown \
      -Zbuild-std=std,panic_abort --features "$features"
  wasm="$target/wasm32-unknown-unknown/release/chattag_core_size_probe.wasm"
  "$opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals "$wasm" -o "$target/probe.opt.wasm"
  printf '%-10s wasm %6d B   gzip %6d B\n' "[${features}]" "$(stat -c %s "$target/probe.opt.wasm")" \
    "$(gzip -9 -c "$target/probe.opt.wasm" | wc -c)"
done
