#!/usr/bin/env bash
# Imports the OCI image tarball into this node's k3s containerd (namespace k8s.io, where the
# kubelet looks) and checks it is there under exactly the ref the manifests use.
# Usage: scripts/image/import-k3s.sh [dist/wasm-pods.oci.tar]   (as root, on the k3s node)
set -euo pipefail
cd "$(dirname "$0")/../.."

TARBALL=${1:-dist/wasm-pods.oci.tar}

die() { echo "import-k3s: $*" >&2; exit 1; }

command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH. --import loads the image into the k3s node you run it on.
  On another machine: copy $TARBALL to every node that may run the pods and run there:
    k3s ctr -n k8s.io images import --all-platforms [--local on containerd 2.x] wasm-pods.oci.tar"
[[ -s $TARBALL ]] || die "$TARBALL is missing or empty: run ./build.sh first"

REF=$(node_modules/.bin/tsx scripts/image/build-image.ts --print-ref) || die "could not compute the image ref"

# containerd 2.x (k3s >= v1.31.6 / v1.32.2) imports through the transfer service unless
# --local is given, and that path does not import this image (containerd#11228).
server_version=$(k3s ctr version 2>/dev/null | awk '/^Server:/ { server = 1 } server && $1 == "Version:" { print $2; exit }') ||
  true
[[ -n $server_version ]] || die "'k3s ctr version' did not answer: is k3s running, and are you root?"
import_flags=(--all-platforms)
if [[ $server_version =~ ^v?([0-9]+)\. ]] && (( BASH_REMATCH[1] >= 2 )); then
  import_flags+=(--local)
fi

echo "    containerd $server_version: k3s ctr -n k8s.io images import ${import_flags[*]} $TARBALL"
k3s ctr -n k8s.io images import "${import_flags[@]}" "$TARBALL" >&2 || die "import failed (see above)"

k3s ctr -n k8s.io images ls -q | grep -Fqx -- "$REF" ||
  die "import finished but $REF is not listed by 'k3s ctr -n k8s.io images ls'; the pods would fail with ErrImageNeverPull/ImagePullBackOff"
echo "    imported $REF"
