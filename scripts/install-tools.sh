#!/usr/bin/env bash
# Installs the field's own tools that the tests, `npm start -- --runtime wasmtime`
# and `npm run bench` drive, pinned, from their registries only (crates.io, the Go
# module proxy, Debian). A tool already present at its pinned version is skipped,
# so a second run takes seconds. .ci/run calls this; so can you (Linux).
#
#   scripts/install-tools.sh            # the cargo/go tools (no root needed)
#   scripts/install-tools.sh --apt      # also the Debian packages (root)
#
# Where: $WASM_PODS_TOOLS (default ~/.cache/wasm-pods-tools), one folder per tool
# and version, with symlinks in its bin/. lib/tools.ts looks there first.
set -euo pipefail
cd "$(dirname "$0")/.."

# --- Pins (why each one: README "Tools and versions") ---------------------------------
# runwasi's newest release, containerd-shim-wasmtime v0.6.0, links wasmtime 27.0.0 (its Cargo.lock).
WASMTIME_VERSION=27.0.0
WASMTIME_CRATE_SHA256=feaaaa96fa6b973d2d5f203299dea15cf86712a413752219e5f458e4683f35f0
# wasmtime-cli 27.0.0's lockfile pins wit-parser/wasmparser 0.219.1, since yanked: its
# derived PartialOrd on `Alignment` contradicts its Ord, and rustc >= 1.86's Ord::max
# now uses it, so component bindgen computes an alignment of 1 and wasmtime-wasi fails to
# build ("assertion failed: 1 == <DirectoryEntry as ComponentType>::ALIGN32"). 0.219.2 is the fix.
WASMTIME_PATCHED_DEPS=(wit-parser@0.219.2 wasmparser@0.219.2)
# Only what `wasmtime serve` and `wasmtime compile` need: a much shorter build than the default features.
WASMTIME_FEATURES=serve,run,cranelift,cache,parallel-compilation,pooling-allocator,component-model,compile,gc-drc,clap/default,clap/wrap_help
KUSTOMIZE_VERSION=v5.8.2 # newest that builds with this machine's Go (v5.8.3 needs Go 1.27)
CONTAINERD2_VERSION=2.0.14 # the containerd 2.0 line k3s 1.32 embeds; go.mod in scripts/tools/containerd2
# The 2.2 line current k3s 1.33/1.34 releases embed (v1.33.13: 2.2.5-k3s1.33); only the image
# import is proven against it (test/image.test.ts). go.mod in scripts/tools/containerd22.
CONTAINERD22_VERSION=2.2.5
# runwasi's containerd-shim-wasmtime v0.6.0, the shim k3s runs for RuntimeClass wasmtime (links
# wasmtime 27.0.0, pinned above). Built from the release's source for these machines, which
# cannot download GitHub's release assets: ../shared/tools/runwasi/README.md says how. Elsewhere
# the release's own musl build serves (RUNWASI_SHIM_SHA256 must name its checksum).
SHIM_VERSION=0.6.0
SHIM_SHA256=103613f437de4576efce07ab318c631d2d386399c062fb502c14caf6917f7ec7
SHIM_SHARED_DIR=../shared/tools/runwasi
CRICTL_VERSION=v1.34.0 # sigs.k8s.io/cri-tools, the release line of the Kubernetes 1.34 node
# The test node of scripts/cluster.sh. Kubernetes: the 1.34 line, the newest with cgroup v1 still
# supported (behind failCgroupV1: false; this machine has cgroup v1); go.mod in scripts/tools/kubernetes.
KUBERNETES_VERSION=v1.34.4
ETCD_VERSION=v3.6.17 # the etcd 3.6 line Kubernetes 1.34 supports; go.mod in scripts/tools/etcd
COREDNS_VERSION=v1.12.1 # what kubeadm 1.34 deploys (cmd/kubeadm/app/constants)
# kube-router's NetworkPolicy controller, which k3s embeds; v2.1.0 is the release the Go module
# proxy serves here. It needs ipset (Debian).
KUBE_ROUTER_VERSION=v2.1.0
DEBIAN_PACKAGES=(containerd shellcheck chromium docker-registry skopeo runc containernetworking-plugins iptables ipset openssl)

TOOLS=${WASM_PODS_TOOLS:-$HOME/.cache/wasm-pods-tools}
mkdir -p "$TOOLS/bin"

say() { printf '== %s\n' "$*"; }
die() { printf 'install-tools.sh: %s\n' "$*" >&2; exit 1; }
elapsed() { printf '%d s' $(( $(date +%s) - $1 )); }
link() { ln -sfn "$1" "$TOOLS/bin/$2"; }

install_apt() {
  local missing=()
  for package in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
  done
  if (( ${#missing[@]} == 0 )); then
    say "Debian packages: all present (${DEBIAN_PACKAGES[*]})"
    return
  fi
  (( EUID == 0 )) || die "Debian packages missing (${missing[*]}): run with --apt as root, or apt-get install them"
  local started=$(date +%s)
  say "Debian packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  say "Debian packages: done in $(elapsed "$started")"
}

install_wasmtime() {
  local dir="$TOOLS/wasmtime-$WASMTIME_VERSION"
  if [[ -x $dir/bin/wasmtime ]] && [[ $("$dir/bin/wasmtime" --version) == "wasmtime $WASMTIME_VERSION"* ]]; then
    say "wasmtime $WASMTIME_VERSION: present"
    link "$dir/bin/wasmtime" wasmtime
    return
  fi
  command -v cargo >/dev/null || die "cargo is needed to build wasmtime (https://rustup.rs)"
  local started=$(date +%s) work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  say "wasmtime $WASMTIME_VERSION: building from crates.io (a few minutes)"
  # The crate from crates.io's download endpoint (what cargo itself fetches), checked.
  curl -fsSL --retry 3 -o "$work/cli.crate" "https://static.crates.io/crates/wasmtime-cli/wasmtime-cli-$WASMTIME_VERSION.crate"
  echo "$WASMTIME_CRATE_SHA256  $work/cli.crate" | sha256sum -c --quiet - || die "wasmtime-cli crate checksum mismatch"
  tar -xzf "$work/cli.crate" -C "$work"
  local src="$work/wasmtime-cli-$WASMTIME_VERSION"
  for dep in "${WASMTIME_PATCHED_DEPS[@]}"; do
    (cd "$src" && cargo update --quiet -p "${dep%@*}" --precise "${dep#*@}")
  done
  cargo install --quiet --path "$src" --locked --root "$dir" --target-dir "$work/target" \
    --no-default-features --features "$WASMTIME_FEATURES"
  link "$dir/bin/wasmtime" wasmtime
  say "wasmtime $WASMTIME_VERSION: built in $(elapsed "$started")"
}

install_kustomize() {
  local dir="$TOOLS/kustomize-$KUSTOMIZE_VERSION"
  if [[ -x $dir/kustomize ]] && [[ $("$dir/kustomize" version) == "$KUSTOMIZE_VERSION" ]]; then
    say "kustomize $KUSTOMIZE_VERSION: present"
    link "$dir/kustomize" kustomize
    return
  fi
  command -v go >/dev/null || die "go is needed to build kustomize (https://go.dev/dl)"
  local started=$(date +%s)
  say "kustomize $KUSTOMIZE_VERSION: go install"
  GOBIN="$dir" GOFLAGS=-buildvcs=false go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
  link "$dir/kustomize" kustomize
  say "kustomize $KUSTOMIZE_VERSION: built in $(elapsed "$started")"
}

# install_containerd VERSION MODULE: containerd and ctr from scripts/tools/MODULE (go.sum
# pinned), linked as MODULE's name (containerd2, ctr2; containerd22, ctr22), apart from
# Debian's containerd 1.6 in /usr/bin.
install_containerd() {
  local version=$1 module=$2 suffix=${2#containerd}
  local dir="$TOOLS/containerd-$version"
  if [[ -x $dir/containerd && -x $dir/ctr ]] && [[ $("$dir/containerd" --version) == *" $version"* ]]; then
    say "containerd $version: present"
  else
    command -v go >/dev/null || die "go is needed to build containerd $version"
    local started=$(date +%s)
    say "containerd $version: go install (containerd, ctr)"
    # `go install pkg@version` refuses containerd's go.mod (it has exclude directives), so
    # build from a tiny module that requires it.
    (cd "scripts/tools/$module" && CGO_ENABLED=0 GOBIN="$dir" GOFLAGS="-buildvcs=false -mod=readonly" \
      go install -tags "no_btrfs no_devmapper no_zfs" \
      github.com/containerd/containerd/v2/cmd/containerd github.com/containerd/containerd/v2/cmd/ctr)
    say "containerd $version: built in $(elapsed "$started")"
  fi
  link "$dir/containerd" "containerd$suffix"
  link "$dir/ctr" "ctr$suffix"
}

install_shim() {
  local dir="$TOOLS/containerd-shim-wasmtime-$SHIM_VERSION" binary=containerd-shim-wasmtime-v1
  if [[ -x $dir/$binary ]] && echo "$SHIM_SHA256  $dir/$binary" | sha256sum -c --quiet - 2>/dev/null; then
    say "containerd-shim-wasmtime $SHIM_VERSION: present"
  elif [[ -f $SHIM_SHARED_DIR/$binary ]]; then
    echo "$SHIM_SHA256  $SHIM_SHARED_DIR/$binary" | sha256sum -c --quiet - \
      || die "$SHIM_SHARED_DIR/$binary does not have the pinned sha256 $SHIM_SHA256"
    mkdir -p "$dir"
    install -m 0755 "$SHIM_SHARED_DIR/$binary" "$dir/$binary"
    say "containerd-shim-wasmtime $SHIM_VERSION: copied from $SHIM_SHARED_DIR"
  else
    # A machine with the internet: runwasi's release asset. Its checksum is not pinned here
    # (this workplace cannot download it to read it), so the caller names it.
    [[ -n ${RUNWASI_SHIM_SHA256:-} ]] || die "$SHIM_SHARED_DIR is not here: set RUNWASI_SHIM_SHA256 to the sha256 of runwasi's containerd-shim-wasmtime-x86_64-linux-musl.tar.gz (release containerd-shim-wasmtime/v$SHIM_VERSION) to download it"
    local work
    work=$(mktemp -d)
    trap 'rm -rf "$work"' RETURN
    curl -fsSL --retry 3 -o "$work/shim.tar.gz" \
      "https://github.com/containerd/runwasi/releases/download/containerd-shim-wasmtime%2Fv$SHIM_VERSION/containerd-shim-wasmtime-x86_64-linux-musl.tar.gz"
    echo "$RUNWASI_SHIM_SHA256  $work/shim.tar.gz" | sha256sum -c --quiet - || die "runwasi release checksum mismatch"
    tar -xzf "$work/shim.tar.gz" -C "$work"
    mkdir -p "$dir"
    install -m 0755 "$work/$binary" "$dir/$binary"
    say "containerd-shim-wasmtime $SHIM_VERSION: downloaded from runwasi's release"
  fi
  link "$dir/$binary" "$binary"
}

install_crictl() {
  local dir="$TOOLS/crictl-$CRICTL_VERSION"
  if [[ -x $dir/crictl ]] && [[ $("$dir/crictl" --version) == *" $CRICTL_VERSION" ]]; then
    say "crictl $CRICTL_VERSION: present"
  else
    command -v go >/dev/null || die "go is needed to build crictl"
    local started=$(date +%s)
    say "crictl $CRICTL_VERSION: go install"
    GOBIN="$dir" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -trimpath \
      -ldflags "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "sigs.k8s.io/cri-tools/cmd/crictl@$CRICTL_VERSION"
    say "crictl $CRICTL_VERSION: built in $(elapsed "$started")"
  fi
  link "$dir/crictl" crictl
}

# The pod sandbox image (registry.k8s.io cannot be reached): named by its source's hash, so an
# edit to scripts/node/pause rebuilds it and an unchanged source is skipped.
install_pause_image() {
  local hash dir
  hash=$(cat scripts/node/pause-image.sh scripts/node/pause/* | sha256sum | cut -c1-12)
  dir="$TOOLS/pause-$hash"
  if [[ -s $dir/pause.oci.tar ]]; then
    say "pause image ($hash): present"
  else
    command -v go >/dev/null || die "go is needed to build the pause image"
    mkdir -p "$dir"
    say "pause image ($hash): $(scripts/node/pause-image.sh "$dir/pause.oci.tar")"
  fi
  link "$dir/pause.oci.tar" pause.oci.tar
}

# Built with -p 2 (two cores), -trimpath and no VCS stamp; the release's version is stamped in
# as Kubernetes' own build (hack/lib/version.sh) does, so `kubelet --version` and the node's
# kubeletVersion say v1.34.4.
install_kubernetes() {
  local dir="$TOOLS/kubernetes-$KUBERNETES_VERSION" binaries=(kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl) ok=1 binary
  for binary in "${binaries[@]}"; do [[ -x $dir/$binary ]] || ok=0; done
  if (( ok )) && [[ $("$dir/kubelet" --version) == "Kubernetes $KUBERNETES_VERSION" ]]; then
    say "kubernetes $KUBERNETES_VERSION: present"
  else
    command -v go >/dev/null || die "go is needed to build Kubernetes $KUBERNETES_VERSION"
    local started=$(date +%s) ldflags="-s -w" package
    for package in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldflags+=" -X $package.gitVersion=$KUBERNETES_VERSION -X $package.gitMajor=1"
      ldflags+=" -X $package.gitMinor=$(cut -d. -f2 <<<"$KUBERNETES_VERSION") -X $package.gitTreeState=clean"
      ldflags+=" -X $package.buildDate=1970-01-01T00:00:00Z"
    done
    say "kubernetes $KUBERNETES_VERSION: go install ${binaries[*]} (about 20 minutes on 2 cores)"
    # `go install k8s.io/kubernetes/...@version` cannot work: its go.mod replaces the staging
    # modules with paths inside its repository. scripts/tools/kubernetes requires it and points
    # each staging module at its published release (go.sum pinned).
    (cd scripts/tools/kubernetes && CGO_ENABLED=0 GOBIN="$dir" GOFLAGS="-buildvcs=false -mod=readonly" \
      go install -p 2 -trimpath -ldflags "$ldflags" "${binaries[@]/#/k8s.io/kubernetes/cmd/}")
    say "kubernetes $KUBERNETES_VERSION: built in $(elapsed "$started")"
  fi
  for binary in "${binaries[@]}"; do link "$dir/$binary" "$binary"; done
}

install_etcd() {
  local dir="$TOOLS/etcd-$ETCD_VERSION"
  if [[ -x $dir/etcd ]] && [[ $("$dir/etcd" --version | head -n 1) == "etcd Version: ${ETCD_VERSION#v}" ]]; then
    say "etcd $ETCD_VERSION: present"
  else
    command -v go >/dev/null || die "go is needed to build etcd $ETCD_VERSION"
    local started=$(date +%s)
    say "etcd $ETCD_VERSION: go install"
    # etcd's server module replaces its sibling modules with ../ paths: scripts/tools/etcd
    # points them at the same release (go.sum pinned). Its main package is the etcd binary.
    mkdir -p "$dir"
    (cd scripts/tools/etcd && CGO_ENABLED=0 GOFLAGS="-buildvcs=false -mod=readonly" \
      go build -p 2 -trimpath -ldflags "-s -w" -o "$dir/etcd" go.etcd.io/etcd/server/v3)
    say "etcd $ETCD_VERSION: built in $(elapsed "$started")"
  fi
  link "$dir/etcd" etcd
}

install_coredns() {
  local dir="$TOOLS/coredns-$COREDNS_VERSION"
  if [[ -x $dir/coredns ]] && [[ $("$dir/coredns" -version | head -n 1) == "CoreDNS-${COREDNS_VERSION#v}" ]]; then
    say "coredns $COREDNS_VERSION: present"
  else
    command -v go >/dev/null || die "go is needed to build CoreDNS $COREDNS_VERSION"
    local started=$(date +%s)
    say "coredns $COREDNS_VERSION: go install"
    # Its own module, go.sum and all plugins, as released.
    GOBIN="$dir" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -p 2 -trimpath -ldflags "-s -w" \
      "github.com/coredns/coredns@$COREDNS_VERSION"
    say "coredns $COREDNS_VERSION: built in $(elapsed "$started")"
  fi
  link "$dir/coredns" coredns
}

install_kube_router() {
  local dir="$TOOLS/kube-router-$KUBE_ROUTER_VERSION"
  if [[ -x $dir/kube-router ]] && [[ $(cat "$dir/VERSION" 2>/dev/null) == "$KUBE_ROUTER_VERSION" ]]; then
    say "kube-router $KUBE_ROUTER_VERSION: present"
  else
    command -v go >/dev/null || die "go is needed to build kube-router $KUBE_ROUTER_VERSION"
    local started=$(date +%s)
    say "kube-router $KUBE_ROUTER_VERSION: go install"
    GOBIN="$dir" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install -p 2 -trimpath -ldflags "-s -w" \
      "github.com/cloudnativelabs/kube-router/v2/cmd/kube-router@$KUBE_ROUTER_VERSION"
    echo "$KUBE_ROUTER_VERSION" >"$dir/VERSION"
    say "kube-router $KUBE_ROUTER_VERSION: built in $(elapsed "$started")"
  fi
  link "$dir/kube-router" kube-router
}

APT=0
for arg in "$@"; do
  case $arg in
    --apt) APT=1 ;;
    *) die "unknown argument '$arg' (usage: scripts/install-tools.sh [--apt])" ;;
  esac
done

all_started=$(date +%s)
(( APT )) && install_apt
install_kustomize
install_containerd "$CONTAINERD2_VERSION" containerd2
install_containerd "$CONTAINERD22_VERSION" containerd22
install_wasmtime
install_shim
install_crictl
install_pause_image
install_etcd
install_kubernetes
install_coredns
install_kube_router
say "tools ready in $TOOLS/bin ($(elapsed "$all_started")): $(ls "$TOOLS/bin" | tr '\n' ' ')"
