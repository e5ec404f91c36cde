#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, for trying and testing the manifests:
# a TEST NODE, not a production install. Every part is a real component built from its
# registry by scripts/install-tools.sh: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kube-proxy (iptables mode), CoreDNS, kube-router's NetworkPolicy
# controller, containerd 2 with its CRI plugin and runwasi's containerd-shim-wasmtime
# (scripts/node/containerd.sh), runc and the CNI bridge plugin (Debian).
#
#   scripts/cluster.sh up              start the node (as root); prints how to reach it
#   scripts/cluster.sh down            stop it and remove everything it made
#   scripts/cluster.sh status          whether it is up, and its processes
#   scripts/cluster.sh kubectl ARGS    kubectl against the node (admin)
#   scripts/cluster.sh ctr ARGS        containerd 2's ctr against the node's containerd
#   scripts/cluster.sh exec CMD ARGS   run a command inside the node's network namespace
#                                      (e.g. exec curl -s 127.0.0.1:30001/split/Sherlock,Po)
#   scripts/cluster.sh env             prints the node's paths as shell variables
#
# Network: the whole node lives in ONE network namespace that `up` creates and `down`
# deletes (default name wasm-pods-node). Its only interfaces are its loopback, a bridge `node0`
# holding the node IP 10.44.0.1/32, the pods' bridge cni0 (10.42.0.0/24) and the pods' veths.
# It has no link and no route to the machine's network, so Pod IPs (10.42.0.0/24), Service IPs
# (10.43.0.0/16) and the node IP exist only there, and nothing the node does can send a packet
# off the machine. The API server (https://127.0.0.1:6443) and the NodePorts (127.0.0.1:30001,
# and the node IP) are reached from inside it: `scripts/cluster.sh kubectl|exec ...`.
# iptables rules, bridges, routes and conntrack entries vanish with the namespace.
#
# Outside the namespace the node touches: its state folder; cgroups under <controller>/k8s.io
# (removed by down when up found none); pod network namespaces /run/netns/cni-* (removed with
# their pods); and six kernel-wide sysctls the kubelet sets at start (vm.overcommit_memory,
# kernel.panic, ...), put back by the last node down (/run/wasm-pods-nodes records them).
#
# Env: WASM_PODS_NODE       name of the node and of its network namespace (default wasm-pods-node)
#      WASM_PODS_NODE_DIR   state folder (default /tmp/$WASM_PODS_NODE): certificates,
#                           kubeconfigs, configs, etcd's data, containerd, kubelet, logs/*.log
#      WASM_PODS_TOOLS      the tools folder of scripts/install-tools.sh
#      WASM_PODS_NODE_KEEP_LOGS  a folder: `down` copies the logs there before it deletes them
#      WASM_PODS_NODE_POLICY=0   do not run kube-router's NetworkPolicy controller
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

NAME=${WASM_PODS_NODE:-wasm-pods-node}
STATE=${WASM_PODS_NODE_DIR:-/tmp/$NAME}
TOOLS=${WASM_PODS_TOOLS:-$HOME/.cache/wasm-pods-tools}
BIN=$TOOLS/bin
NETNS=/run/netns/$NAME
# Addresses, as k3s's defaults where k3s has one (cluster CIDR, service CIDR, DNS IP).
NODE_IP=10.44.0.1
POD_CIDR=10.42.0.0/24
CLUSTER_CIDR=10.42.0.0/16
SERVICE_CIDR=10.43.0.0/16
API_SERVICE_IP=10.43.0.1
DNS_SERVICE_IP=10.43.0.10
API_URL=https://127.0.0.1:6443
PKI=$STATE/pki
LOGS=$STATE/logs
PIDS=$STATE/pids
CONTAINERD_DIR=$STATE/containerd
CRI_SOCKET=$CONTAINERD_DIR/containerd.sock
KUBECONFIG_ADMIN=$PKI/admin.kubeconfig
# The processes this script starts, in start order (down stops them in reverse).
# Shared by every node of this script on the machine: which are up, and the kernel's values
# from before the first one.
NODES_DIR=/run/wasm-pods-nodes
KERNEL_TUNABLES="vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy coredns kube-router)

say() { printf '== %s\n' "$*"; }
die() { printf 'cluster.sh: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

in_ns() { nsenter --net="$NETNS" "$@"; }
kc() { in_ns "$BIN/kubectl" --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

need_tools() {
  local missing=() tool
  for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl \
    coredns containerd2 ctr2 crictl containerd-shim-wasmtime-v1 pause.oci.tar; do
    [[ -e $BIN/$tool ]] || missing+=("$tool")
  done
  if [[ ${WASM_PODS_NODE_POLICY:-1} != 0 ]]; then
    [[ -e $BIN/kube-router ]] || missing+=(kube-router)
    command -v ipset >/dev/null || missing+=(ipset)
  fi
  for tool in runc iptables openssl nsenter ip; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/host-local && -x /usr/lib/cni/loopback ]] ||
    missing+=("CNI plugins in /usr/lib/cni (Debian containernetworking-plugins)")
  (( ${#missing[@]} == 0 )) || die "missing: ${missing[*]}: run scripts/install-tools.sh --apt"
}

# Starts a component in the node's namespace, in a session of its own, logging to $LOGS/NAME.log.
start() { # NAME CMD ARGS...
  local name=$1
  shift
  # nsenter and setsid each exec the next without forking, so $! is the component's own pid
  # (and, after setsid, its process group).
  nsenter --net="$NETNS" setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$PIDS/$name.pid"
}

alive() { [[ -f $PIDS/$1.pid ]] && kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null; }

# Waits until CMD succeeds; fails naming the component (and its log's tail) when it dies or
# the time is up.
wait_for() { # NAME SECONDS WHAT CMD...
  local name=$1 seconds=$2 what=$3 deadline
  shift 3
  deadline=$(( $(date +%s) + seconds ))
  until "$@" >/dev/null 2>&1; do
    if [[ $name != - ]] && ! alive "$name"; then
      die "$name exited before $what; $LOGS/$name.log ends with:
$(tail -n 25 "$LOGS/$name.log")"
    fi
    (( $(date +%s) < deadline )) || die "$what: not within ${seconds}s (logs in $LOGS)"
    sleep 0.5
  done
}

make_netns() {
  ip netns add "$NAME"
  ip -n "$NAME" link set lo up
  # The node IP sits on a bridge with no ports (this kernel has no dummy interfaces).
  ip -n "$NAME" link add node0 type bridge
  ip -n "$NAME" addr add "$NODE_IP/32" dev node0
  ip -n "$NAME" link set node0 up
  # Per-namespace settings: routing between the pods' bridge and the node; bridged pod traffic
  # through iptables (Service DNAT between two pods on cni0); NodePorts on 127.0.0.1.
  in_ns sysctl -q -w net.ipv4.ip_forward=1 net.bridge.bridge-nf-call-iptables=1 \
    net.ipv4.conf.all.route_localnet=1
}

write_configs() {
  mkdir -p "$STATE/cni/net.d" "$STATE/cni/ipam" "$STATE/kubelet" "$STATE/pod-logs"
  # The pods' network: one bridge, host-local addresses, each pod's default route via cni0.
  # (k3s uses flannel, whose CNI config is this same bridge plugin; on one node flannel adds
  # nothing but its own daemon.)
  cat >"$STATE/cni/net.d/10-wasm-pods.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "wasm-pods-node",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$STATE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_CIDR" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
  # Pods resolve through cluster DNS only: no search domain or server of the machine's.
  : >"$STATE/resolv.conf"
  cat >"$STATE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CRI_SOCKET
# This machine: cgroup v1, no systemd, swap allowed, and root without CAP_SYS_RESOURCE (the
# kubelet may not lower its own oom_score_adj). Without QoS cgroups there is no node
# allocatable to enforce.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
cgroupsPerQOS: false
enforceNodeAllocatable: []
oomScoreAdj: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
address: $NODE_IP
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: $STATE/resolv.conf
podLogsDir: $STATE/pod-logs
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
# A test node: evict nothing for disk or memory pressure, and never garbage-collect the images
# that were imported (they cannot be pulled back).
evictionHard: {memory.available: "0%", nodefs.available: "0%", imagefs.available: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
# runwasi's shim compiles the component inside the first CreateTask of an image on this node;
# with three pods starting at once on 2 busy cores that took more than the default 2 min here,
# and the kubelet then cancelled and retried each start, from scratch, again and again.
runtimeRequestTimeout: 10m
EOF
  cat >"$STATE/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $PKI/kube-proxy.kubeconfig}
hostnameOverride: $NAME
mode: iptables
clusterCIDR: $CLUSTER_CIDR
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# NodePorts on the node IP and on 127.0.0.1 (route_localnet, set above and by kube-proxy).
iptables: {localhostNodePorts: true}
# Leave the conntrack table's global limits alone (not this namespace's to change).
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
  # CoreDNS serves cluster.local from the API and nothing else: no forwarding, so no query ever
  # leaves the node.
  cat >"$STATE/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:8080
    ready 127.0.0.1:8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $PKI/coredns.kubeconfig wasm-pods-node
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
        ttl 30
    }
    cache 30
    loadbalance
}
EOF
}

# The objects a k3s server creates for itself: the RuntimeClass of the shim, the DNS Service
# (here selector-less, its EndpointSlice pointing at CoreDNS on the node IP), and the RBAC of
# CoreDNS and kube-router.
bootstrap_objects() {
  kc apply -f - >/dev/null <<EOF
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata:
  name: wasmtime
handler: wasmtime
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
    - {name: dns, port: 53, protocol: UDP, targetPort: 53}
    - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-node
  namespace: kube-system
  labels:
    kubernetes.io/service-name: kube-dns
    endpointslice.kubernetes.io/managed-by: wasm-pods-node
addressType: IPv4
endpoints:
  - addresses: [$NODE_IP]
    conditions: {ready: true}
    nodeName: $NAME
ports:
  - {name: dns, port: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, protocol: TCP}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: wasm-pods:coredns
rules:
  - apiGroups: [""]
    resources: [endpoints, services, pods, namespaces]
    verbs: [list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: wasm-pods:coredns
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wasm-pods:coredns}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "wasm-pods:coredns"}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: wasm-pods:kube-router
rules:
  - apiGroups: [""]
    resources: [namespaces, pods, services, nodes, endpoints]
    verbs: [get, list, watch]
  - apiGroups: [networking.k8s.io]
    resources: [networkpolicies]
    verbs: [get, list, watch]
  - apiGroups: [discovery.k8s.io]
    resources: [endpointslices]
    verbs: [get, list, watch]
  - apiGroups: [""]
    resources: [events]
    verbs: [create, patch, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: wasm-pods:kube-router
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: wasm-pods:kube-router}
subjects:
  - {apiGroup: rbac.authorization.k8s.io, kind: User, name: "wasm-pods:kube-router"}
EOF
}

up() {
  (( EUID == 0 )) || die "the node runs as root (containerd, the kubelet, iptables)"
  need_tools
  [[ -e $NETNS ]] && die "network namespace $NAME exists: the node is up (or was not taken down): scripts/cluster.sh down"
  [[ -e $STATE ]] && die "$STATE exists: the node is up (or was not taken down): scripts/cluster.sh down"
  local started
  started=$(now)
  mkdir -p "$STATE" "$LOGS" "$PIDS"
  # Remember which cgroup folders were there before, so that down removes only the node's.
  for controller in /sys/fs/cgroup/*/; do [[ -d ${controller}k8s.io ]] && echo "${controller}k8s.io"; done \
    >"$STATE/cgroups-before" || true
  # If anything below fails (die exits), take down what was started, keeping the logs.
  trap 'up_failed' EXIT
  make_netns
  say "network namespace $NAME: node IP $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  # shellcheck source=scripts/node/pki.sh
  source "$ROOT/scripts/node/pki.sh"
  node_pki "$PKI" "$NAME" "$NODE_IP" "$API_SERVICE_IP" "$API_URL"
  # The kubelet's own serving certificate (the API server reaches it on the node IP).
  pki_cert "$PKI" kubelet-serving "/CN=$NAME" "IP:$NODE_IP,DNS:$NAME" serverAuth
  write_configs

  start etcd "$BIN/etcd" --name "$NAME" --data-dir "$STATE/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster "$NAME=http://127.0.0.1:2380" --listen-metrics-urls http://127.0.0.1:2381 \
    --log-level warn
  wait_for etcd 60 "etcd answering" in_ns curl -fsS http://127.0.0.1:2381/health
  say "etcd up ($(since "$started"))"

  start kube-apiserver "$BIN/kube-apiserver" \
    --etcd-servers http://127.0.0.1:2379 \
    --bind-address 0.0.0.0 --secure-port 6443 --advertise-address "$NODE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" --service-node-port-range 30000-32767 \
    --client-ca-file "$PKI/ca.crt" --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --v 1
  wait_for kube-apiserver 120 "the API server ready" kc get --raw /readyz
  say "kube-apiserver up ($(since "$started"))"
  bootstrap_objects

  start kube-controller-manager "$BIN/kube-controller-manager" \
    --kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$PKI/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --use-service-account-credentials \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --allocate-node-cidrs --cluster-cidr "$CLUSTER_CIDR" --node-cidr-mask-size 24 \
    --service-cluster-ip-range "$SERVICE_CIDR" --controllers '*,-cloud-node-lifecycle' --v 1
  start kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$PKI/scheduler.kubeconfig" \
    --authentication-kubeconfig "$PKI/scheduler.kubeconfig" --authorization-kubeconfig "$PKI/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --leader-elect=false --v 1

  in_ns env CNI_BIN_DIR=/usr/lib/cni CNI_CONF_DIR="$STATE/cni/net.d" WASM_PODS_TOOLS="$TOOLS" \
    "$ROOT/scripts/node/containerd.sh" up "$CONTAINERD_DIR" >"$LOGS/containerd-up.log" 2>&1 ||
    die "containerd did not start: $(tail -n 20 "$LOGS/containerd-up.log")"
  say "containerd up ($(since "$started"))"

  # The kubelet sets six kernel-wide sysctls at start (vm.overcommit_memory=1, kernel.panic=10,
  # kernel.panic_on_oops=1, ...: pkg/kubelet/cm setupKernelTunables); they are not per network
  # namespace. The first node up records the machine's values; the last node down puts them back.
  mkdir -p "$NODES_DIR"
  if [[ ! -f $NODES_DIR/kernel-tunables ]]; then
    local key
    for key in $KERNEL_TUNABLES; do echo "$key=$(sysctl -n "$key")"; done >"$NODES_DIR/kernel-tunables"
  fi
  touch "$NODES_DIR/$NAME.node"
  start kubelet "$BIN/kubelet" --config "$STATE/kubelet.yaml" --kubeconfig "$PKI/kubelet.kubeconfig" \
    --root-dir "$STATE/kubelet" --cert-dir "$STATE/kubelet/pki" \
    --hostname-override "$NAME" --node-ip "$NODE_IP" --v 1
  start kube-proxy "$BIN/kube-proxy" --config "$STATE/kube-proxy.yaml" --v 2
  start coredns "$BIN/coredns" -conf "$STATE/Corefile"

  wait_for kubelet 120 "node $NAME Ready" kc wait --for=condition=Ready "node/$NAME" --timeout=5s
  if [[ ${WASM_PODS_NODE_POLICY:-1} != 0 ]]; then
    # Once the node is registered (kube-router looks itself up by name): its NetworkPolicy
    # controller only, as k3s embeds it (flannel and kube-proxy do
    # the rest there, the bridge plugin and kube-proxy here).
    start kube-router "$BIN/kube-router" --kubeconfig "$PKI/kube-router.kubeconfig" \
      --hostname-override "$NAME" --run-firewall=true --run-router=false --run-service-proxy=false \
      --enable-cni=false --enable-ipv4=true --enable-ipv6=false --service-cluster-ip-range "$SERVICE_CIDR" \
      --metrics-port 0 --health-port 20244 -v 1
  fi
  wait_for coredns 60 "CoreDNS ready" in_ns curl -fsS http://127.0.0.1:8181/ready
  wait_for kube-proxy 60 "kube-proxy synced" in_ns curl -fsS http://127.0.0.1:10256/healthz
  if [[ ${WASM_PODS_NODE_POLICY:-1} != 0 ]]; then
    wait_for kube-router 60 "kube-router's policy controller healthy" in_ns curl -fsS http://127.0.0.1:20244/healthz
  fi
  trap - EXIT
  say "node $NAME Ready in $(since "$started")"
  cat <<EOF
   kubectl:   scripts/cluster.sh kubectl get pods -A
   in the node's network namespace:  scripts/cluster.sh exec curl -s 127.0.0.1:30001/split/Sherlock,Po
   import:    scripts/cluster.sh ctr -n k8s.io images import --all-platforms --local dist/wasm-pods.oci.tar
   stop:      scripts/cluster.sh down          (logs until then: $LOGS)
EOF
}

up_failed() {
  local keep=${WASM_PODS_NODE_KEEP_LOGS:-/tmp/$NAME-failed-logs}
  echo "cluster.sh: up failed; taking the node down (logs kept in $keep)" >&2
  WASM_PODS_NODE_KEEP_LOGS=$keep down >&2 || true
}

stop_pid() { # NAME
  local name=$1 pid
  [[ -f $PIDS/$name.pid ]] || return 0
  pid=$(cat "$PIDS/$name.pid")
  if kill -0 "$pid" 2>/dev/null; then
    # Each runs in its own session (setsid): signal the whole group, so nothing it forked lives on.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i
    for i in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDS/$name.pid"
}

down() {
  local started
  started=$(now)
  [[ -e $STATE || -e $NETNS ]] || { say "node $NAME is not up"; return 0; }
  # The kubelet first, so it restarts nothing; then every pod through CRI, so containerd and
  # the CNI plugin remove each one's containers, cgroups, mounts and network namespace.
  stop_pid kubelet
  if [[ -S $CRI_SOCKET ]] && alive_socket; then
    "$BIN/crictl" --runtime-endpoint "unix://$CRI_SOCKET" --timeout 60s rmp --all --force >/dev/null 2>&1 || true
  fi
  # containerd.sh down deletes its folder, log included.
  [[ -f $CONTAINERD_DIR/containerd.log ]] && cp "$CONTAINERD_DIR/containerd.log" "$LOGS/" 2>/dev/null
  if [[ -d $CONTAINERD_DIR ]]; then
    if [[ -e $NETNS ]]; then in_ns "$ROOT/scripts/node/containerd.sh" down "$CONTAINERD_DIR" || true
    else "$ROOT/scripts/node/containerd.sh" down "$CONTAINERD_DIR" || true; fi
  fi
  local i
  for (( i = ${#COMPONENTS[@]} - 1; i >= 0; i-- )); do stop_pid "${COMPONENTS[i]}"; done
  # A safety net: a tool of the tools folder still naming the state folder (a shim, a
  # component whose pid file was lost) is the node's own.
  local cmdline pid
  while read -r cmdline; do
    pid=$(cut -d/ -f3 <<<"$cmdline")
    if [[ $(readlink "/proc/$pid/exe" 2>/dev/null) == "$(realpath "$TOOLS")"/* ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  done < <(grep -lsF -- "$STATE/" /proc/[0-9]*/cmdline)
  # Mounts left under the state folder (the kubelet's pod volumes), deepest first.
  local mount
  awk -v d="$STATE/" 'index($2, d) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || true
  done
  # cgroup folders the node's containers lived in (containerd's k8s.io), when down found none
  # before up; only empty folders are removed (rmdir), deepest first.
  if [[ -f $STATE/cgroups-before ]]; then
    local folder
    for folder in /sys/fs/cgroup/*/k8s.io; do
      [[ -d $folder ]] || continue
      grep -Fxq "$folder" "$STATE/cgroups-before" && continue
      find "$folder" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
  fi
  rm -f "$NODES_DIR/$NAME.node"
  if [[ -f $NODES_DIR/kernel-tunables ]] && ! compgen -G "$NODES_DIR/*.node" >/dev/null; then
    local line
    while read -r line; do sysctl -q -w "$line" || true; done <"$NODES_DIR/kernel-tunables"
    rm -f "$NODES_DIR/kernel-tunables"
    rmdir "$NODES_DIR" 2>/dev/null || true
  fi
  [[ -e $NETNS ]] && ip netns del "$NAME"
  if [[ -n ${WASM_PODS_NODE_KEEP_LOGS:-} && -d $LOGS ]]; then
    mkdir -p "$WASM_PODS_NODE_KEEP_LOGS"
    cp -r "$LOGS/." "$WASM_PODS_NODE_KEEP_LOGS/" 2>/dev/null || true
    say "logs kept in $WASM_PODS_NODE_KEEP_LOGS"
  fi
  rm -rf "$STATE"
  say "node $NAME down in $(since "$started")"
}

alive_socket() { timeout 5 "$BIN/ctr2" --address "$CRI_SOCKET" version >/dev/null 2>&1; }

status() {
  if [[ ! -e $NETNS ]]; then say "node $NAME is down"; return 1; fi
  say "node $NAME: network namespace $NAME, state $STATE"
  local name
  if [[ -f $CONTAINERD_DIR/containerd.pid ]] && kill -0 "$(cat "$CONTAINERD_DIR/containerd.pid")" 2>/dev/null; then
    echo "   containerd: pid $(cat "$CONTAINERD_DIR/containerd.pid")"
  fi
  for name in "${COMPONENTS[@]}"; do
    [[ -f $PIDS/$name.pid ]] || continue
    if alive "$name"; then echo "   $name: pid $(cat "$PIDS/$name.pid")"; else echo "   $name: NOT RUNNING (log: $LOGS/$name.log)"; fi
  done
  kc get nodes -o wide 2>/dev/null || echo "   the API server does not answer"
}

command=${1:-}
[[ $# -gt 0 ]] && shift
case $command in
  up) up ;;
  down) down ;;
  status) status ;;
  kubectl) [[ -e $NETNS ]] || die "node $NAME is down"; kc "$@" ;;
  ctr) "$BIN/ctr2" --address "$CRI_SOCKET" "$@" ;;
  exec) [[ -e $NETNS ]] || die "node $NAME is down"; in_ns "$@" ;;
  env)
    printf 'WASM_PODS_NODE=%q\nNODE_NETNS=%q\nNODE_STATE=%q\nNODE_IP=%q\nNODE_KUBECONFIG=%q\nNODE_CRI_SOCKET=%q\nNODE_CONTAINERD_CONFIG=%q\n' \
      "$NAME" "$NETNS" "$STATE" "$NODE_IP" "$KUBECONFIG_ADMIN" "$CRI_SOCKET" "$CONTAINERD_DIR/config.toml" ;;
  -h | --help | "") awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *) die "unknown command '$command' (scripts/cluster.sh --help)" ;;
esac
