#!/usr/bin/env bash
# Builds dist/wasm-pods.wasm from src/: typecheck, bundle, componentize; then wraps it into
# the OCI image tarball dist/wasm-pods.oci.tar. `--import` also loads that image into the local
# k3s node's containerd (run it on the node, as root); `npm run push` sends it to a registry.
# Each step prints its duration; the first failure stops the build with its reason.
set -euo pipefail
cd "$(dirname "$0")"

BIN=node_modules/.bin
# DIST and MINIFY=0 let the benchmark build its baseline variant beside the real one.
DIST=${DIST:-dist}
MINIFY=${MINIFY:-1}
COMPONENT="$DIST/wasm-pods.wasm"
IMAGE_TARBALL="$DIST/wasm-pods.oci.tar"

die() { echo "build.sh: $*" >&2; exit 1; }

step() {
  local label=$1; shift
  local started
  started=$(date +%s%N)
  printf '==> %s\n' "$label"
  "$@" || die "step '$label' failed (command: $*)"
  printf '    %s: %d ms\n' "$label" $(( ($(date +%s%N) - started) / 1000000 ))
}

IMPORT=0
for arg in "$@"; do
  case $arg in
    --import) IMPORT=1 ;;
    *) die "unknown argument '$arg' (usage: ./build.sh [--import])" ;;
  esac
done
# Fail before the build, not after it: --import ends with `k3s ctr`, which needs k3s running and
# its containerd socket, which only root can open (unless someone opened it up).
if (( IMPORT )); then
  command -v k3s >/dev/null 2>&1 ||
    die "--import needs 'k3s' on PATH: run it on the k3s node, as root; for a cluster of several nodes push the image to a registry instead: npm run push -- <registry>/<repo>:<tag> (docs/k3s.md, section 4)"
  K3S_CONTAINERD_SOCKET=${CONTAINERD_ADDRESS:-/run/k3s/containerd/containerd.sock}
  if (( EUID != 0 )) && [[ ! -w $K3S_CONTAINERD_SOCKET ]]; then
    die "--import runs 'k3s ctr', which needs root (k3s's containerd socket $K3S_CONTAINERD_SOCKET is root's), and you are $(id -un 2>/dev/null || echo "uid $EUID"): run 'sudo env \"PATH=\$PATH\" ./build.sh --import' (PATH: so that root finds this node and npm), or build as yourself and import as root: ./build.sh && sudo scripts/image/import-k3s.sh"
  fi
  if ! ctr_error=$(k3s ctr version 2>&1 >/dev/null); then
    die "--import: 'k3s ctr version' failed, so the import would too: is k3s running (systemctl status k3s)? It said: $(tail -n 1 <<<"$ctr_error")"
  fi
fi

[[ -x $BIN/esbuild && -x $BIN/tsx ]] || die "dependencies missing: run 'npm ci' first"
mkdir -p "$DIST"

step "typecheck (tsc)" "$BIN/tsc" -p src
# The component's esbuild flags are lib/esbuild.ts's (the bench bundles with them too); it prints
# the argv, so the step times esbuild alone.
# --minify: a smaller component for free (npm run bench compares it with the unminified one).
MINIFY_FLAG=(); (( MINIFY )) && MINIFY_FLAG=(--minify)
BUNDLE_ARGV=$("$BIN/tsx" lib/esbuild.ts component src/main.ts "$DIST/bundle.js" "${MINIFY_FLAG[@]}") ||
  die "lib/esbuild.ts could not give the bundle's esbuild argv"
mapfile -t BUNDLE_ARGS <<<"$BUNDLE_ARGV"
step "bundle (esbuild)" "$BIN/esbuild" "${BUNDLE_ARGS[@]}"
step "componentize (componentize-js)" "$BIN/tsx" scripts/componentize.ts "$DIST/bundle.js" "$COMPONENT"

[[ -s $COMPONENT ]] || die "$COMPONENT was not written"
printf '==> wrote %s (%s bytes)\n' "$COMPONENT" "$(stat -c %s "$COMPONENT")"

# The image ref is $IMAGE, else package.json name:version; the step prints it and the digest.
step "image (OCI tarball)" "$BIN/tsx" scripts/image/build-image.ts "$COMPONENT" "$IMAGE_TARBALL"
if (( IMPORT )); then
  step "import into k3s" scripts/image/import-k3s.sh "$IMAGE_TARBALL"
fi
