#!/usr/bin/env bash
# Installs whatever chattag's build, demo and tests need and is missing — idempotently — and
# says what it did. Run by `npm start`, `npm test`, `npm run build` and `npm run bench`.
#
#   wasm toolchain   rustup's wasm32 target if it can be had; otherwise Debian's rustc-web with
#                    its std sources (std is then built from source: see
#                    docs/reference/toolchain.md). scripts/build.mjs picks whichever exists.
#   node packages    npm ci (playwright-core, esbuild, terser, binaryen's wasm-opt)
#   Chromium         Debian's chromium + chromium-driver (Playwright cannot download browsers here)
#   QR test tools    zbar-tools (zbarimg) and qrencode, to check the QR dialog's codes
#
# Flags: --bench also installs wrk (the collector's load tool).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[setup] %s\n' "$*"; }
did=()

want_bench=0
for a in "$@"; do [ "$a" = --bench ] && want_bench=1; done

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else say "need root for: $*"; return 1
  fi
}

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing ${missing[*]} and no apt-get here: install them with your package manager"
    return 1
  fi
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq || return 1; apt_updated=1; fi
  say "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
  did+=("apt: ${missing[*]}")
}

export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null 2>&1 || { say "cargo not found: install Rust (https://rustup.rs) first"; exit 1; }

# --- format and lint gate (npm test runs cargo fmt --check and cargo clippy) -----------------
for tool in rustfmt clippy; do
  if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if timeout 120 rustup component add "$tool" >/dev/null 2>&1; then did+=("rustup component add $tool")
    else say "cargo ${tool/rustfmt/fmt} not found: install the $tool component"; fi
  fi
done

# --- wasm toolchain -------------------------------------------------------------------------
# Debian's rustc-web builds std from source with panic=immediate-abort: the smallest snippet.
# Where apt is unavailable, rustup's wasm32 target plus its std sources (rust-src) give the same
# build (scripts/build.mjs rebuilds std the same way on stable).
if command -v apt-get >/dev/null 2>&1 && apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22; then
  say "wasm toolchain: Debian rustc-web $(/usr/bin/rustc --version | cut -d' ' -f2) with std sources (build-std)"
elif rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  && rustup component list --installed 2>/dev/null | grep -qx rust-src; then
  say "wasm toolchain: rustup target wasm32-unknown-unknown + rust-src (already installed)"
elif timeout 300 rustup target add wasm32-unknown-unknown >/dev/null 2>&1 && timeout 300 rustup component add rust-src >/dev/null 2>&1; then
  did+=("rustup target add wasm32-unknown-unknown; rustup component add rust-src")
  say "wasm toolchain: rustup target wasm32-unknown-unknown + rust-src (just installed)"
else
  say "no way to get a wasm32 toolchain here (neither Debian's rustc-web nor rustup's wasm32 target)"
  exit 1
fi

# --- node packages ----------------------------------------------------------------------------
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -d node_modules/playwright-core ] || [ ! -x node_modules/.bin/esbuild ] || [ ! -d node_modules/terser ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
  did+=("npm ci")
fi

# --- browser ----------------------------------------------------------------------------------
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  apt_install chromium chromium-driver
fi

# Test-only: decode rendered QR codes (zbarimg) and compare with a reference encoder (qrencode).
command -v zbarimg >/dev/null 2>&1 && command -v qrencode >/dev/null 2>&1 || apt_install zbar-tools qrencode

if [ $want_bench = 1 ]; then
  command -v wrk >/dev/null 2>&1 || apt_install wrk
fi

if [ ${#did[@]} -eq 0 ]; then
  say "everything was already installed"
else
  say "installed: $(IFS=';'; echo "${did[*]}")"
fi
