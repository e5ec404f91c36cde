#!/usr/bin/env bash
# Builds dist/wasm-pods.wasm from src/: typecheck, bundle, componentize.
# Each step prints its duration; the first failure stops the build with its reason.
set -euo pipefail
cd "$(dirname "$0")"

BIN=node_modules/.bin
DIST=dist
COMPONENT="$DIST/wasm-pods.wasm"

die() { echo "build.sh: $*" >&2; exit 1; }

step() {
  local label=$1; shift
  local started=$(date +%s%N)
  printf '==> %s\n' "$label"
  "$@" || die "step '$label' failed (command: $*)"
  printf '    %s: %d ms\n' "$label" $(( ($(date +%s%N) - started) / 1000000 ))
}

[[ -x $BIN/esbuild && -x $BIN/tsx ]] || die "dependencies missing: run 'npm ci' first"
mkdir -p "$DIST"

step "typecheck (tsc)" "$BIN/tsc" -p .
# wasi:* modules are host imports: componentize-js binds them, so the bundle keeps them external.
step "bundle (esbuild)" "$BIN/esbuild" src/main.ts --bundle --format=esm --platform=neutral \
  --target=es2022 --main-fields=module,main --external:'wasi:*' --log-level=warning \
  --outfile="$DIST/bundle.js"
step "componentize (componentize-js)" "$BIN/tsx" scripts/componentize.ts "$DIST/bundle.js" "$COMPONENT"

[[ -s $COMPONENT ]] || die "$COMPONENT was not written"
printf '==> wrote %s (%s bytes)\n' "$COMPONENT" "$(stat -c %s "$COMPONENT")"
