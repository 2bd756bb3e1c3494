#!/usr/bin/env bash
# Lists the probe's largest wasm functions (bytes, shortened symbol names) for one feature set, to
# find what to shrink: `./functions.sh "tag ids" | head -40`. Builds a scratch copy of the core
# with `#[inline(never)]` on every function and names kept, and tells wasm-opt not to inline
# functions with one caller: otherwise nearly all of the core folds into the probe's exported
# entry points and nothing can be told apart. Sizes are therefore indicative (inlining changes
# them); measure.sh's gzip numbers are the ones that count.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="$root/target/wasm-core-size-names"
opt="$root/node_modules/.bin/wasm-opt"
flags=(--enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals)
scratch="$target/scratch"
rm -rf "$scratch" && mkdir -p "$scratch/core/size-probe"
cp -r "$here/../src" "$scratch/core/src"
cp -r "$here/src" "$here/Cargo.toml" "$here/Cargo.lock" "$scratch/core/size-probe/"
sed -i -E 's/^(\s*)((pub(\(crate\))? )?fn [a-z_0-9]+)/\1#[inline(never)]\n\1\2/' "$scratch"/core/src/*.rs
# The core's manifest without the workspace inheritance (the scratch copy has no workspace).
sed -e 's/^version.workspace = true/version = "0.0.0"/' -e 's/^edition.workspace = true/edition = "2021"/' \
    -e '/^license.workspace/d' -e '/^\[dev-dependencies\]/,$d' \
    -e 's/^serde.workspace = true/serde = { version = "1", default-features = false, features = ["derive", "std"] }/' \
    "$here/../Cargo.toml" > "$scratch/core/Cargo.toml"
PATH=/usr/bin:$PATH RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR="$target" CARGO_PROFILE_RELEASE_STRIP=false \
  RUSTFLAGS='-Zunstable-options -Cpanic=immediate-abort -Awarnings' \
  cargo build -q --release --manifest-path "$scratch/core/size-probe/Cargo.toml" --target wasm32-unknown-unknown \
    -Zbuild-std=std,panic_abort --features "${1:-tag ids}"
wasm="$target/wasm32-unknown-unknown/release/chattag_core_size_probe.wasm"
"$opt" -Oz -g -ocimfs 20 "${flags[@]}" "$wasm" -o "$target/probe.names.wasm"
"$opt" "${flags[@]}" "$target/probe.names.wasm" --func-metrics -o /dev/null 2>&1 |
  awk '/^func: /{name=$2} /binary-bytes/{if (name != "") {print $3, name; name=""}}' |
  sort -rn | sed -E 's/_R[A-Za-z0-9_]*chattag_core/core::/; s/Cs[A-Za-z0-9]{11}_//g'
