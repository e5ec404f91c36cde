#!/usr/bin/env bash
# Imports the OCI image tarball into this node's k3s containerd (namespace k8s.io, where the
# kubelet looks), checks it is there under exactly the ref the manifests use, and says when the
# import replaced a different image under that ref (pods already running keep the old one).
# Usage: scripts/image/import-k3s.sh [dist/wasm-pods.oci.tar]   (as root, on the k3s node)
set -euo pipefail
cd "$(dirname "$0")/../.."

TARBALL=${1:-dist/wasm-pods.oci.tar}

die() { echo "import-k3s: $*" >&2; exit 1; }

command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH. --import loads the image into the k3s node you run it on.
  On another machine: copy $TARBALL to every node that may run the pods and run there:
    k3s ctr -n k8s.io images import --all-platforms [--local on containerd 2.x] wasm-pods.oci.tar
  or push it to a registry the nodes can pull from (npm run push; docs/k3s.md, section 4)."
[[ -s $TARBALL ]] || die "$TARBALL is missing or empty: run ./build.sh first"

REF=$(node_modules/.bin/tsx scripts/image/build-image.ts --print-ref) || die "could not compute the image ref"

# The manifest digest containerd lists for $REF, or nothing. The listing is read whole before
# it is searched: `ls | grep -q` under pipefail can fail on SIGPIPE when grep stops early.
listed_digest() {
  local listing
  listing=$(k3s ctr -n k8s.io images ls) || die "'k3s ctr -n k8s.io images ls' failed: is k3s running, and are you root?"
  awk -v ref="$REF" '$1 == ref { print $3; exit }' <<<"$listing"
}

# containerd 2.x (k3s >= v1.31.6 / v1.32.2) imports through its transfer service unless
# --local is given; early 2.0 releases fail there with "no unpack platforms defined"
# (containerd#11228). --local is the client-side import that every 2.x runs and unpacks with.
server_version=$(k3s ctr version 2>/dev/null | awk '/^Server:/ { server = 1 } server && $1 == "Version:" { print $2; exit }') ||
  true
[[ -n $server_version ]] || die "'k3s ctr version' did not answer: is k3s running, and are you root?"
import_flags=(--all-platforms)
if [[ $server_version =~ ^v?([0-9]+)\. ]] && (( BASH_REMATCH[1] >= 2 )); then
  import_flags+=(--local)
fi

before=$(listed_digest)
echo "    containerd $server_version: k3s ctr -n k8s.io images import ${import_flags[*]} $TARBALL"
k3s ctr -n k8s.io images import "${import_flags[@]}" "$TARBALL" >&2 || die "import failed (see above)"

after=$(listed_digest)
[[ -n $after ]] ||
  die "import finished but $REF is not listed by 'k3s ctr -n k8s.io images ls'; the pods would fail with ErrImagePull/ImagePullBackOff"
echo "    imported $REF ($after)"
if [[ -z $before ]]; then
  echo "    (new on this node)"
elif [[ $before == "$after" ]]; then
  echo "    unchanged: this node already had this image"
else
  # Same tag, new content: kubectl apply sees no change in the manifests, so nothing restarts.
  echo "    replaced $before: pods already running keep the old image until they restart:"
  echo "      kubectl rollout restart deployment -l app.kubernetes.io/name=wasm-pods"
  echo "    (scripts/k3s-e2e.sh rolls them itself: it puts the digest into the pod template)"
fi
