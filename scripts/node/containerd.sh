#!/usr/bin/env bash
# A containerd 2 with its CRI plugin, configured as k3s's containerd template configures it
# (version 3 config; a runtime `wasmtime` of type io.containerd.wasmtime.v1 next to runc), in a
# state folder of its own, so it never meets a containerd of the machine's. The kubelet of
# scripts/cluster.sh and the shim suite (test/shim.test.ts) both run on it.
#
#   scripts/node/containerd.sh up DIR     # config, start, wait for the socket, import the pause image
#   scripts/node/containerd.sh down DIR   # stop every pod and task, containerd, the shims; unmount; rm DIR
#
# DIR/containerd.sock is the socket (CRI and ctr), DIR/containerd.log the log. Options (env):
#   CNI_BIN_DIR, CNI_CONF_DIR   where the CNI plugins and their config are (a host-network-only
#                               user may leave them: CRI then reports NetworkReady=false)
#   CRI_STREAM_PORT             exec/attach/port-forward server on 127.0.0.1 (default 0: any free)
# Tools come from scripts/install-tools.sh: containerd2 and ctr2, the shim
# containerd-shim-wasmtime-v1 and the pause image, all in $WASM_PODS_TOOLS/bin.
set -euo pipefail

TOOLS=${WASM_PODS_TOOLS:-$HOME/.cache/wasm-pods-tools}
# The sandbox image: built here (scripts/node/pause-image.sh), since registry.k8s.io is out of reach.
PAUSE_IMAGE=${PAUSE_IMAGE:-localhost/wasm-pods/pause:1.0}
PAUSE_TARBALL=$TOOLS/bin/pause.oci.tar

die() { printf 'containerd.sh: %s\n' "$*" >&2; exit 1; }

config() { # DIR
  local dir=$1
  cat <<EOF
# Written by scripts/node/containerd.sh: k3s's containerd 2 template (ContainerdConfigTemplateV3),
# with this node's paths and the one setting this machine needs (restrict_oom_score_adj).
version = 3
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "$dir/containerd.sock"
[ttrpc]
  address = "$dir/containerd.sock.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "$dir/opt"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
  stream_server_port = "${CRI_STREAM_PORT:-0}"

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  # As k3s: lets the pods' non-root processes bind ports < 1024 and ping.
  enable_unprivileged_ports = true
  enable_unprivileged_icmp = true
  # Root on these machines lacks CAP_SYS_RESOURCE, so no process may lower its oom_score_adj
  # and every sandbox would fail; k3s sets the same when it runs in a user namespace.
  restrict_oom_score_adj = true
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dir = "${CNI_BIN_DIR:-/usr/lib/cni}"
    conf_dir = "${CNI_CONF_DIR:-$dir/cni/net.d}"
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
    SystemdCgroup = false
  # What k3s adds when it finds containerd-shim-wasmtime-v1 on its PATH; the RuntimeClass
  # \`wasmtime\` (handler wasmtime) selects it.
  [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'wasmtime']
    runtime_type = "io.containerd.wasmtime.v1"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$PAUSE_IMAGE"
EOF
}

up() {
  local dir=$1
  for tool in containerd2 ctr2 containerd-shim-wasmtime-v1 pause.oci.tar; do
    [[ -e $TOOLS/bin/$tool ]] || die "$TOOLS/bin/$tool is missing: run scripts/install-tools.sh"
  done
  (( EUID == 0 )) || die "containerd's CRI runs as root"
  mkdir -p "$dir/cni/net.d"
  config "$dir" >"$dir/config.toml"
  # The shim is found on containerd's PATH by its name (io.containerd.wasmtime.v1 ->
  # containerd-shim-wasmtime-v1), so the tools folder goes first.
  PATH="$TOOLS/bin:$PATH" setsid "$TOOLS/bin/containerd2" --config "$dir/config.toml" --log-level info \
    >"$dir/containerd.log" 2>&1 </dev/null &
  echo $! >"$dir/containerd.pid"
  local tries=0
  until [[ -S $dir/containerd.sock ]] && "$TOOLS/bin/ctr2" --address "$dir/containerd.sock" version >/dev/null 2>&1; do
    kill -0 "$(cat "$dir/containerd.pid")" 2>/dev/null || die "containerd exited at start: $(tail -n 20 "$dir/containerd.log")"
    (( ++tries > 300 )) && die "containerd's socket did not answer within 30 s: $(tail -n 20 "$dir/containerd.log")"
    sleep 0.1
  done
  "$TOOLS/bin/ctr2" --address "$dir/containerd.sock" -n k8s.io images import --local "$PAUSE_TARBALL" >/dev/null \
    || die "importing the pause image failed"
}

# Everything containerd and its shims mounted under DIR, deepest first.
mounts_under() { awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r; }

down() {
  local dir=$1 sock=$1/containerd.sock
  [[ -d $dir ]] || return 0
  if [[ -S $sock ]]; then
    local ctr=("$TOOLS/bin/ctr2" --address "$sock")
    # Tasks first, so each shim stops its own processes; then the CRI objects with them.
    local ns task
    for ns in $("${ctr[@]}" namespaces ls -q 2>/dev/null); do
      for task in $("${ctr[@]}" -n "$ns" tasks ls -q 2>/dev/null); do
        "${ctr[@]}" -n "$ns" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
      done
    done
  fi
  if [[ -f $dir/containerd.pid ]]; then
    local pid
    pid=$(cat "$dir/containerd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Shims outlive containerd by design (they re-parent to init); these are this node's own.
  pkill -KILL -f -- "-address $sock( |$)" 2>/dev/null || true
  sleep 0.2
  local mount
  for mount in $(mounts_under "$dir"); do umount -l "$mount" 2>/dev/null || true; done
  rm -rf "$dir"
}

command=${1:-}
dir=${2:-}
[[ -n $dir ]] || die "usage: scripts/node/containerd.sh up|down DIR"
dir=$(realpath -m "$dir")
case $command in
  up) up "$dir" ;;
  down) down "$dir" ;;
  config) config "$dir" ;;
  *) die "unknown command '$command' (usage: scripts/node/containerd.sh up|down|config DIR)" ;;
esac
