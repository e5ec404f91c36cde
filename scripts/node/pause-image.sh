#!/usr/bin/env bash
# Builds the pod sandbox ("pause") image as an OCI image tarball, from scripts/node/pause/.
# A CRI pod needs a sandbox image even when its containers run under the wasm shim, and
# registry.k8s.io cannot be reached here, so the node and the shim suite import this one
# (`ctr -n k8s.io images import`) and pin it as containerd's sandbox image.
#
#   scripts/node/pause-image.sh OUT.oci.tar
#
# The same source gives the same bytes (static binary built with -trimpath, fixed tar
# metadata), so the image digest only changes when the source does.
set -euo pipefail
cd "$(dirname "$0")"

# The name containerd knows it by (io.containerd.image.name): PAUSE_IMAGE in containerd.sh.
IMAGE=${PAUSE_IMAGE:-localhost/wasm-pods/pause:1.0}
out=${1:?usage: scripts/node/pause-image.sh OUT.oci.tar}
[[ $out == /* ]] || out="$PWD/../../$out"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/rootfs" "$work/image/blobs/sha256"

(cd pause && CGO_ENABLED=0 GOFLAGS="-buildvcs=false" go build -trimpath -ldflags="-s -w -buildid=" -o "$work/rootfs/pause" .)

blob() { # FILE -> prints its digest hex, after moving it into the blob store
  local hex
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  mv "$1" "$work/image/blobs/sha256/$hex"
  printf '%s' "$hex"
}
size() { stat -c %s "$work/image/blobs/sha256/$1"; }

tar --create --file="$work/layer.tar" --directory="$work/rootfs" --sort=name --mtime=@0 \
  --owner=0 --group=0 --numeric-owner --mode=0755 --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime pause
layer=$(blob "$work/layer.tar")

# Runs as 65535 like the upstream pause image: the sandbox needs no privilege.
printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"],"User":"65535:65535"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
  "$layer" >"$work/config.json"
config=$(blob "$work/config.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}' \
  "$config" "$(size "$config")" "$layer" "$(size "$layer")" >"$work/manifest.json"
manifest=$(blob "$work/manifest.json")

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
  "$manifest" "$(size "$manifest")" "$IMAGE" "${IMAGE##*:}" >"$work/image/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$work/image/oci-layout"

mkdir -p "$(dirname "$out")"
tar --create --file="$out" --directory="$work/image" --sort=name --mtime=@0 --owner=0 --group=0 \
  --numeric-owner --format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
  oci-layout index.json blobs
printf '%s sha256:%s\n' "$IMAGE" "$manifest"
