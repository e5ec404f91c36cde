#!/usr/bin/env bash
# End-to-end proof on a k3s server node that has runwasi's containerd-shim-wasmtime-v1:
# build + import the image on this node, deploy kustomize/overlays/k3s pinned to this node with
# the image's digest in the pod template (so a rebuilt image always rolls the pods), wait for
# both rollouts and CoreDNS, then call the splitter's NodePort until it gives the seed answer
# (within FIRST_ANSWER_TIMEOUT) and check that both greeter pods served requests.
#
# Usage (as root, on a k3s server node, from anywhere in the repo):
#   scripts/k3s-e2e.sh              build, import, deploy, test; prints PASS or FAIL
#   scripts/k3s-e2e.sh --no-build   the same with the existing dist/wasm-pods.oci.tar
#   scripts/k3s-e2e.sh --cleanup    delete what it created (the overlay's objects + the image;
#                                   with IMAGE set, that ref, written in full: registry/repo:tag)
# Env: NODE_NAME        this node's name in the cluster (default: the only node, else the node
#                       named like this host)
#      NODE_IP          address to call the NodePort on (default: the node's InternalIP in the
#                       Service's IP family)
#      REQUESTS         JSON-mode requests (default 20)
#      ROLLOUT_TIMEOUT  per Deployment, CoreDNS's included (default 300s)
#      FIRST_ANSWER_TIMEOUT  seconds to retry the first request for (default 120): a node that
#                       has just started may not resolve the greeters' Service name yet
#      K3S_CONTAINERD_CONFIG  k3s's rendered containerd config
#                       (default /var/lib/rancher/k3s/agent/etc/containerd/config.toml)
# Exit status: 0 PASS, 1 FAIL (the deployment misbehaved), 2 could not run (what to do is printed).
set -euo pipefail
cd "$(dirname "$0")/.."

OVERLAY=kustomize/overlays/k3s
IMAGE_COMPONENT=kustomize/components/image/kustomization.yaml
DEPLOYMENTS=(name-greeter-pod name-splitter-pod)
SPLITTER_SERVICE=name-splitter-pod-service
APP_SELECTOR=app.kubernetes.io/name=wasm-pods
GREETER_SELECTOR=$APP_SELECTOR,app.kubernetes.io/component=greeter
DIGEST_ANNOTATION=wasm-pods/image-digest
SPLIT_PATH=/split/Sherlock,Po
EXPECTED_TEXT="Hello Sherlock! and Greetings Po!"
REQUESTS=${REQUESTS:-20}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-300s}
FIRST_ANSWER_TIMEOUT=${FIRST_ANSWER_TIMEOUT:-120}
# The listen address runwasi's shim uses when WASMTIME_HTTP_PROXY_SOCKET_ADDR is unset
# (containerd-shim-wasmtime v0.6.0, src/http_proxy.rs).
SHIM_DEFAULT_ADDR=0.0.0.0:8080
RUNTIME_TYPE=io.containerd.wasmtime.v1
K3S_CONTAINERD_CONFIG=${K3S_CONTAINERD_CONFIG:-/var/lib/rancher/k3s/agent/etc/containerd/config.toml}

say() { printf '==> %s\n' "$*"; }
die() { printf 'k3s-e2e: %s\n' "$*" >&2; exit 2; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

# k3s's own kubectl first: it reads k3s's kubeconfig, where another kubectl on the PATH may
# point at another cluster.
kube() {
  if command -v k3s >/dev/null 2>&1; then k3s kubectl "$@"; else kubectl "$@"; fi
}

# Reads a kubectl `-o json` document on stdin and prints what $1 asks for (node is on the PATH:
# the build needs it).
json() {
  node -e '
    const [query, arg] = process.argv.slice(1);
    const doc = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const items = doc.items ?? [];
    const out = [];
    if (query === "node-names") for (const n of items) out.push(n.metadata.name);
    if (query === "node-hostname-label") {
      const n = items.find((n) => n.metadata.name === arg);
      out.push(n?.metadata.labels?.["kubernetes.io/hostname"] ?? arg);
    }
    if (query === "node-ips") {
      const n = items.find((n) => n.metadata.name === arg);
      for (const a of n?.status?.addresses ?? []) if (a.type === "InternalIP") out.push(a.address);
    }
    if (query === "node-port") out.push(String(doc.spec?.ports?.[0]?.nodePort ?? ""));
    if (query === "ip-family") out.push(doc.spec?.ipFamilies?.[0] ?? "IPv4");
    if (query === "listen-addrs") for (const d of items) for (const c of d.spec?.template?.spec?.containers ?? []) {
      const env = (c.env ?? []).find((e) => e.name === "WASMTIME_HTTP_PROXY_SOCKET_ADDR");
      out.push(d.metadata.name + " " + (env?.value ?? arg));
    }
    if (query === "live-pods") for (const p of items) {
      if (p.status?.phase === "Running" && !p.metadata.deletionTimestamp) out.push(p.metadata.name);
    }
    if (query === "terminating-pods") for (const p of items) {
      if (p.metadata.deletionTimestamp) out.push(p.metadata.name);
    }
    console.log(out.join("\n"));' "$@"
}

# The distinct parts[].servedBy values of JSON answers (one per line on stdin), sorted. Fails on
# an answer without parts[].servedBy.
served_by_greeters() {
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    const seen = new Set();
    for (const line of lines) {
      let parts;
      try { parts = JSON.parse(line).parts; } catch { parts = undefined; }
      if (!Array.isArray(parts) || parts.length === 0 || parts.some((p) => typeof p?.servedBy !== "string")) {
        console.log("an answer without parts[].servedBy: " + line.slice(0, 200));
        process.exit(1);
      }
      for (const part of parts) seen.add(part.servedBy);
    }
    console.log([...seen].sort().join("\n"));'
}

# k3s detects wasm shims on PATH only from v1.28.8 / v1.29.3 / any 1.30+ (pkg/agent/containerd/runtimes.go).
k3s_version_supported() {
  local version=$1 major minor patch
  [[ $version =~ ^v?([0-9]+)\.([0-9]+)\.([0-9]+) ]] || return 1
  major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]} patch=${BASH_REMATCH[3]}
  (( major > 1 )) && return 0
  (( minor >= 30 )) && return 0
  (( minor == 29 && patch >= 3 )) && return 0
  (( minor == 28 && patch >= 8 )) && return 0
  return 1
}

# k3s creates the `wasmtime` RuntimeClass whether or not it found the shim; only its rendered
# containerd config tells. Without the runtime there, pods fail with
# `no runtime for "wasmtime" is configured`.
check_wasmtime_runtime() {
  [[ -r $K3S_CONTAINERD_CONFIG ]] ||
    die "cannot read k3s's containerd config $K3S_CONTAINERD_CONFIG: run as root, or set K3S_CONTAINERD_CONFIG (k3s --data-dir)."
  # v2 config: [plugins."io.containerd.grpc.v1.cri".containerd.runtimes."wasmtime"];
  # v3 (containerd 2.x): [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'wasmtime'].
  # Prints "table" for each such table and "type <value>" for the runtime_type inside it (the
  # table ends at the next header: its ".options" subtable is another table).
  local found type
  found=$(awk '
    /^[[:space:]]*\[/ {
      table = ($0 ~ /containerd\.runtimes\.["\047]?wasmtime["\047]?\][[:space:]]*(#.*)?$/)
      if (table) print "table"
      next
    }
    table && /^[[:space:]]*runtime_type[[:space:]]*=/ {
      value = $0
      sub(/^[^=]*=[[:space:]]*/, "", value)
      sub(/[[:space:]]*(#.*)?$/, "", value)
      gsub(/["\047]/, "", value)
      print "type " value
    }' "$K3S_CONTAINERD_CONFIG")
  if [[ $found == *table* ]]; then
    type=$(awk '$1 == "type" { print $2; exit }' <<<"$found")
    [[ $type == "$RUNTIME_TYPE" ]] && return
    die "k3s's containerd has a 'wasmtime' runtime ($K3S_CONTAINERD_CONFIG) with runtime_type '${type:-(none)}', not '$RUNTIME_TYPE', so containerd would not start runwasi's containerd-shim-wasmtime-v1 for it. k3s writes '$RUNTIME_TYPE' itself: a custom template beside that file (config-v3.toml.tmpl, or config.toml.tmpl with containerd 1.7) says otherwise. Fix the template and restart k3s (systemctl restart k3s)."
  fi
  local shim advice
  if shim=$(command -v containerd-shim-wasmtime-v1); then
    advice="the shim is at $shim, but k3s did not find it when it started: make sure that directory is on the k3s service's PATH (/usr/local/bin is) and restart k3s (systemctl restart k3s)."
  else
    advice="install containerd-shim-wasmtime-v1 into /usr/local/bin (docs/k3s.md, section 1), then restart k3s (systemctl restart k3s)."
  fi
  die "k3s's containerd has no 'wasmtime' runtime ($K3S_CONTAINERD_CONFIG), so pods would fail with 'no runtime for \"wasmtime\" is configured': $advice"
}

check_prerequisites() {
  command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH: run this on a k3s server node (https://k3s.io)."
  local version
  version=$(k3s --version | awk 'NR == 1 { print $3 }')
  k3s_version_supported "$version" ||
    die "k3s $version does not auto-detect wasm shims; need >= v1.28.8, v1.29.3 or any 1.30+."
  kube get --raw /readyz >/dev/null 2>&1 || die "the API server does not answer: is k3s running, and are you root (or KUBECONFIG set)?"
  kube get runtimeclass wasmtime >/dev/null 2>&1 ||
    die "RuntimeClass 'wasmtime' not found: k3s creates it at start-up (k3s >= v1.28.8); restart k3s."
  check_wasmtime_runtime
  command -v curl >/dev/null 2>&1 || die "'curl' is not on PATH."
  command -v node >/dev/null 2>&1 || die "'node' (>= 20) is not on PATH: the build needs it."
  say "k3s $version; containerd runtime 'wasmtime' ($RUNTIME_TYPE) configured ($K3S_CONTAINERD_CONFIG)"
}

# Sets NODE (this node's name) and NODE_JSON. The image is imported on this node only, so the
# e2e's pods must run here: on another node they would find no image (and maybe no shim).
choose_node() {
  NODE_JSON=$(kube get nodes -o json) || die "'kubectl get nodes' failed"
  local names count host
  names=$(json node-names <<<"$NODE_JSON") || die "could not read the node list"
  count=$(grep -c . <<<"$names" || true)
  (( count > 0 )) || die "the cluster lists no nodes"
  if [[ -n ${NODE_NAME:-} ]]; then
    grep -Fxq -- "$NODE_NAME" <<<"$names" ||
      die "NODE_NAME=$NODE_NAME is not a node of this cluster (nodes: ${names//$'\n'/, })."
    NODE=$NODE_NAME
  elif (( count == 1 )); then
    NODE=$names
  else
    # k3s names a node after its lowercased hostname unless --node-name says otherwise.
    host=$(hostname | tr '[:upper:]' '[:lower:]')
    grep -Fxq -- "$host" <<<"$names" ||
      die "this cluster has $count nodes (${names//$'\n'/, }) and none is named '$host' like this host. The image is imported on this node only, so the e2e pins its pods here: set NODE_NAME to this node's name. (To deploy across nodes, push the image to a registry instead: docs/k3s.md, section 4.)"
    NODE=$host
  fi
  say "node $NODE ($count in the cluster): the e2e's pods are pinned to it, where the image is imported"
}

# The ref the checked-in overlays deploy (kustomize `images:`), read without node_modules.
pinned_ref() {
  awk '$1 == "newName:" { name = $2 } $1 == "newTag:" { tag = $2; gsub(/"/, "", tag) } END { if (name && tag) print name ":" tag }' \
    "$IMAGE_COMPONENT"
}

# The manifest digest k3s's containerd lists for ref $1 (empty when absent; fails when the
# listing does). Read whole, then searched: `ls | grep -q` under pipefail can fail on SIGPIPE.
listed_digest() {
  local listing
  listing=$(k3s ctr -n k8s.io images ls) || return 1
  awk -v ref="$1" '$1 == ref { print $3; exit }' <<<"$listing"
}

# Writes a kustomization into $1 that is the k3s overlay with this run's image ref, its digest
# as a pod-template annotation (a new digest is a new template: the Deployment rolls even when
# the tag did not change) and the pods pinned to this node.
write_e2e_overlay() {
  local dir=$1 ref=$2 digest=$3 hostname_label=$4 base
  base=$(realpath --relative-to="$dir" "$PWD/$OVERLAY")
  cat >"$dir/kustomization.yaml" <<YAML
# Generated by scripts/k3s-e2e.sh for one run.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - $base
images:
  - name: $(pinned_ref | sed 's/:[^:/]*$//')
    newName: ${ref%:*}
    newTag: "${ref##*:}"
patches:
  - target:
      kind: Deployment
    patch: |-
      apiVersion: apps/v1
      kind: Deployment
      metadata:
        name: any
      spec:
        template:
          metadata:
            annotations:
              $DIGEST_ANNOTATION: "$digest"
          spec:
            nodeSelector:
              kubernetes.io/hostname: "$hostname_label"
YAML
}

show_pod_events() {
  kube get pods -l "$APP_SELECTOR" -o wide || true
  # Each pod's name and its Events section: where "no runtime for wasmtime", image pull and
  # CRI timeout errors show up.
  kube describe pods -l "$APP_SELECTOR" 2>/dev/null | awk '/^Name:/ { print; next } /^Events:/ { on = 1 } on { print } /^$/ { on = 0 }' || true
}

# The shim binds one address family: 0.0.0.0:PORT is IPv4 only, [::]:PORT both families (IPv4
# as mapped addresses) where the pod has IPv6, IPv4 only where IPv6 is disabled by sysctl. On a
# cluster whose Services (and pod IPs) are IPv6 first, the kubelet's probes and the Service reach
# the pods over IPv6: an IPv4-only listener refuses them and the pods never become Ready.
check_listen_family() {
  local family=$1 deployments_json addrs ipv4_only
  [[ $family == IPv6 ]] || return 0
  deployments_json=$(kube get deployment "${DEPLOYMENTS[@]}" -o json) || die "'kubectl get deployment ${DEPLOYMENTS[*]}' failed"
  addrs=$(json listen-addrs "$SHIM_DEFAULT_ADDR" <<<"$deployments_json") || die "could not read the Deployments' WASMTIME_HTTP_PROXY_SOCKET_ADDR"
  ipv4_only=$(awk '$2 !~ /^\[/' <<<"$addrs")
  [[ -z $ipv4_only ]] && return 0
  fail "this cluster gives Services (and pods) IPv6 first (service/$SPLITTER_SERVICE: ipFamilies [IPv6]), but the pods listen on IPv4 only (WASMTIME_HTTP_PROXY_SOCKET_ADDR: ${ipv4_only//$'\n'/; }): the probes and the Service would be refused. Set WASMTIME_HTTP_PROXY_SOCKET_ADDR to [::]:8080 (docs/k3s.md)."
}

# The splitter finds the greeters through their Service name, so through cluster DNS: on a node
# that has just started, CoreDNS may not answer yet.
wait_for_coredns() {
  if ! kube -n kube-system get deployment coredns >/dev/null 2>&1; then
    say "no kube-system/coredns Deployment (k3s --disable=coredns?): going on; the splitter needs cluster DNS for name-greeter-pod-service"
    return 0
  fi
  say "waiting for CoreDNS (the splitter resolves name-greeter-pod-service through it)"
  if ! kube -n kube-system rollout status deployment/coredns --timeout="$ROLLOUT_TIMEOUT"; then
    kube -n kube-system get pods -l k8s-app=kube-dns -o wide || true
    fail "CoreDNS (kube-system/deployment/coredns) did not become available within $ROLLOUT_TIMEOUT: the splitter cannot resolve name-greeter-pod-service"
  fi
}

# GET $1 with Accept: $2 (default */*). Prints the HTTP status, a newline, the body; when the
# request itself fails, prints curl's error and fails.
http_get() {
  local out
  out=$(curl -sS --max-time 15 -H "Accept: ${2:-*/*}" -w '\n%{http_code}' "$1" 2>&1) || {
    printf '%s' "$out"
    return 1
  }
  printf '%s\n%s' "${out##*$'\n'}" "${out%$'\n'*}"
}

# Calls $1 until it answers 200 with the seed text, for up to FIRST_ANSWER_TIMEOUT seconds: right
# after the rollout the splitter's first DNS lookup or its first call to a greeter can still
# fail. On timeout: FAIL with the last answer, after the pods' events.
first_answer() {
  local url=$1 deadline=$((SECONDS + FIRST_ANSWER_TIMEOUT)) tries=0 answer last
  while :; do
    tries=$((tries + 1))
    if answer=$(http_get "$url"); then
      [[ $answer == "200"$'\n'"$EXPECTED_TEXT" ]] && break
      last="HTTP ${answer%%$'\n'*}: ${answer#*$'\n'}"
    else
      last=$answer
    fi
    if ((SECONDS >= deadline)); then
      show_pod_events
      fail "no '$EXPECTED_TEXT' from $url within ${FIRST_ANSWER_TIMEOUT}s ($tries tries); the last answer was: $last"
    fi
    echo "    not yet ($last); retrying"
    sleep 2
  done
}

cleanup() {
  command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH."
  local status=0 ref
  say "deleting the objects of $OVERLAY"
  if ! kube delete -k "$OVERLAY" --ignore-not-found --wait=true; then
    echo "    delete failed (see above); going on with the image"
    status=1
  fi
  ref=${IMAGE:-$(pinned_ref)}
  local present=""
  if [[ -z $ref ]]; then
    echo "    could not read the image ref from $IMAGE_COMPONENT; remove it with: k3s ctr -n k8s.io images rm <ref>"
    status=1
  elif ! present=$(listed_digest "$ref"); then
    echo "    'k3s ctr -n k8s.io images ls' failed: is k3s running? remove the image later with: k3s ctr -n k8s.io images rm $ref"
    status=1
  elif [[ -n $present ]]; then
    say "removing image $ref from k3s's containerd"
    k3s ctr -n k8s.io images rm "$ref" >/dev/null || { echo "    could not remove $ref"; status=1; }
  else
    echo "    image $ref was not present"
  fi
  if (( status == 0 )); then say "cleanup done"; else say "cleanup incomplete (see above)"; fi
  return "$status"
}

run() {
  local build=$1
  check_prerequisites
  choose_node

  [[ -d node_modules ]] || npm ci --no-audit --no-fund
  if (( build )); then
    say "build + import (./build.sh --import)"
    ./build.sh --import
  else
    say "import the existing image (scripts/image/import-k3s.sh)"
    scripts/image/import-k3s.sh
  fi
  local ref digest
  ref=$(node_modules/.bin/tsx scripts/image/build-image.ts --print-ref) || die "could not compute the image ref"
  digest=$(listed_digest "$ref") || die "'k3s ctr -n k8s.io images ls' failed"
  [[ -n $digest ]] || die "$ref is not in k3s's containerd after the import"

  local work
  work=$(mktemp -d)
  # shellcheck disable=SC2064 # expand now: $work is local
  trap "rm -rf '$work'" EXIT
  write_e2e_overlay "$work" "$ref" "$digest" "$(json node-hostname-label "$NODE" <<<"$NODE_JSON")"
  say "kubectl apply -k $OVERLAY (image $ref, $DIGEST_ANNOTATION=$digest, pinned to $NODE)"
  kube apply -k "$work"

  local service_json node_port family
  service_json=$(kube get service "$SPLITTER_SERVICE" -o json) || die "service/$SPLITTER_SERVICE not found"
  node_port=$(json node-port <<<"$service_json") || die "could not read service/$SPLITTER_SERVICE"
  family=$(json ip-family <<<"$service_json") || die "could not read service/$SPLITTER_SERVICE"
  check_listen_family "$family"

  for deployment in "${DEPLOYMENTS[@]}"; do
    say "waiting for deployment/$deployment (a node's first start compiles the component before the pod starts)"
    if ! kube rollout status "deployment/$deployment" --timeout="$ROLLOUT_TIMEOUT"; then
      show_pod_events
      fail "deployment/$deployment did not roll out within $ROLLOUT_TIMEOUT: the pod events above say why (docs/k3s.md, section 7)"
    fi
  done
  wait_for_coredns

  local ip url answer
  if [[ -n ${NODE_IP:-} ]]; then
    ip=$NODE_IP
  else
    # A dual-stack node lists one InternalIP per family; a single-stack Service answers only on
    # its own family's address.
    local candidate
    for candidate in $(json node-ips "$NODE" <<<"$NODE_JSON"); do
      if [[ $family == IPv6 && $candidate == *:* ]] || [[ $family == IPv4 && $candidate != *:* ]]; then
        ip=$candidate
        break
      fi
    done
    [[ -n ${ip:-} ]] || die "node $NODE has no $family InternalIP; set NODE_IP"
  fi
  [[ $ip == *:* && $ip != \[* ]] && ip="[$ip]"
  [[ -n $node_port ]] || die "service/$SPLITTER_SERVICE has no nodePort"
  url="http://$ip:$node_port$SPLIT_PATH"

  say "GET $url (retried for up to ${FIRST_ANSWER_TIMEOUT}s until it answers '$EXPECTED_TEXT')"
  first_answer "$url"
  echo "    got: $EXPECTED_TEXT"

  say "$REQUESTS JSON requests, checking which greeter pods answered"
  local bodies="" body i
  for ((i = 1; i <= REQUESTS; i++)); do
    answer=$(http_get "$url" application/json) || fail "JSON request $i: $answer"
    [[ ${answer%%$'\n'*} == 200 ]] || fail "JSON request $i: HTTP ${answer%%$'\n'*}: ${answer#*$'\n'}"
    body=${answer#*$'\n'}
    bodies+="$body"$'\n'
  done
  local served expected_pods stopping_pods pods_json pod
  served=$(served_by_greeters <<<"$bodies") || fail "JSON answers: $served"
  pods_json=$(kube get pods -l "$GREETER_SELECTOR" -o json) || die "'kubectl get pods' failed"
  expected_pods=$(json live-pods <<<"$pods_json" | sort)
  stopping_pods=$(json terminating-pods <<<"$pods_json" | sort)
  echo "    greeter pods running: ${expected_pods//$'\n'/ }"
  [[ -n $stopping_pods ]] && echo "    greeter pods stopping: ${stopping_pods//$'\n'/ }"
  echo "    greeters that answered (parts[].servedBy): ${served//$'\n'/ }"
  [[ $(grep -c . <<<"$expected_pods") -eq 2 ]] || fail "expected 2 running greeter pods"
  # Every running greeter must have answered. A pod of the rollout's old ReplicaSet may have
  # answered too: it serves through its preStop sleep, and kube-proxy drops it from the Service
  # a moment after it starts stopping. Any other name is a pod this deployment does not have.
  for pod in $expected_pods; do
    grep -qxF "$pod" <<<"$served" || fail "not every greeter pod answered, or an unknown one did"
  done
  for pod in $served; do
    grep -qxF "$pod" <<<"$expected_pods"$'\n'"$stopping_pods" || fail "not every greeter pod answered, or an unknown one did"
  done

  echo "PASS: '$EXPECTED_TEXT' from NodePort $node_port; both greeter pods served requests (image $digest)"
}

case ${1:-} in
  "") run 1 ;;
  --no-build) run 0 ;;
  --cleanup) cleanup ;;
  -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" ;;
  *) die "unknown argument '$1' (usage: scripts/k3s-e2e.sh [--no-build | --cleanup])" ;;
esac
