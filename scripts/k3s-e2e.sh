#!/usr/bin/env bash
# End-to-end proof on a k3s node that has runwasi's containerd-shim-wasmtime-v1 installed:
# build + import the image, deploy kustomize/overlays/k3s, wait for both rollouts, then call
# the splitter's NodePort and check the answer and that both greeter pods served requests.
#
# Usage (as root, on the k3s server node, from anywhere in the repo):
#   scripts/k3s-e2e.sh              build, import, deploy, test; prints PASS or FAIL
#   scripts/k3s-e2e.sh --cleanup    delete what it created (the k3s overlay's objects + the image)
# Env: NODE_IP (default: the first node's InternalIP), REQUESTS (JSON-mode requests, default 20),
#      ROLLOUT_TIMEOUT (default 180s).
set -euo pipefail
cd "$(dirname "$0")/.."

OVERLAY=kustomize/overlays/k3s
DEPLOYMENTS=(name-greeter-pod name-splitter-pod)
GREETER_SELECTOR=app.kubernetes.io/name=wasm-pods,app.kubernetes.io/component=greeter
SPLITTER_NODE_PORT=30001
SPLIT_PATH=/split/Sherlock,Po
EXPECTED_TEXT="Hello Sherlock! and Greetings Po!"
REQUESTS=${REQUESTS:-20}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-180s}

say() { printf '==> %s\n' "$*"; }
die() { printf 'k3s-e2e: %s\n' "$*" >&2; exit 2; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }

kube() {
  if command -v kubectl >/dev/null 2>&1; then kubectl "$@"; else k3s kubectl "$@"; fi
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

check_prerequisites() {
  command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH: run this on a k3s server node (https://k3s.io)."
  local version
  version=$(k3s --version | awk 'NR == 1 { print $3 }')
  k3s_version_supported "$version" ||
    die "k3s $version does not auto-detect wasm shims; need >= v1.28.8, v1.29.3 or any 1.30+."
  command -v containerd-shim-wasmtime-v1 >/dev/null 2>&1 ||
    die "containerd-shim-wasmtime-v1 is not on PATH. Install it from https://github.com/containerd/runwasi/releases
  (e.g. into /usr/local/bin) and restart k3s (systemctl restart k3s) so k3s registers the runtime. See docs/k3s.md."
  kube get --raw /readyz >/dev/null 2>&1 || die "the API server does not answer: is k3s running, and are you root (or KUBECONFIG set)?"
  kube get runtimeclass wasmtime >/dev/null 2>&1 ||
    die "RuntimeClass 'wasmtime' not found: k3s creates it at start-up; restart k3s after installing the shim."
  command -v curl >/dev/null 2>&1 || die "'curl' is not on PATH."
  command -v node >/dev/null 2>&1 || die "'node' (>= 20) is not on PATH: the build needs it."
  say "k3s $version, shim $(command -v containerd-shim-wasmtime-v1), RuntimeClass wasmtime present"
}

node_ip() {
  if [[ -n ${NODE_IP:-} ]]; then echo "$NODE_IP"; return; fi
  kube get nodes -o jsonpath='{.items[0].status.addresses[?(@.type=="InternalIP")].address}'
}

cleanup() {
  command -v k3s >/dev/null 2>&1 || die "'k3s' is not on PATH."
  say "deleting the objects of $OVERLAY"
  kube delete -k "$OVERLAY" --ignore-not-found --wait=true
  local ref
  ref=$(node_modules/.bin/tsx scripts/image/build-image.ts --print-ref)
  say "removing image $ref from k3s's containerd"
  k3s ctr -n k8s.io images rm "$ref" >/dev/null 2>&1 || echo "    (image $ref was not present)"
  say "cleanup done"
}

# Prints the distinct parts[].servedBy values of JSON answers, one per line, from stdin (one JSON per line).
served_by_greeters() {
  node -e '
    const lines = require("fs").readFileSync(0, "utf8").split("\n").filter(Boolean);
    const seen = new Set();
    for (const line of lines) {
      const body = JSON.parse(line);
      for (const part of body.parts ?? []) seen.add(part.servedBy);
    }
    console.log([...seen].sort().join("\n"));'
}

run() {
  check_prerequisites

  say "build + import (./build.sh --import)"
  [[ -d node_modules ]] || npm ci --no-audit --no-fund
  ./build.sh --import

  say "kubectl apply -k $OVERLAY"
  kube apply -k "$OVERLAY"
  for deployment in "${DEPLOYMENTS[@]}"; do
    say "waiting for deployment/$deployment (first start compiles the component: ~10 s per node)"
    if ! kube rollout status "deployment/$deployment" --timeout="$ROLLOUT_TIMEOUT"; then
      kube get pods -l app.kubernetes.io/name=wasm-pods -o wide || true
      kube describe "deployment/$deployment" | tail -n 20 || true
      fail "deployment/$deployment did not roll out within $ROLLOUT_TIMEOUT (see docs/k3s.md, Troubleshooting)"
    fi
  done

  local ip url answer
  ip=$(node_ip)
  [[ -n $ip ]] || die "could not find a node InternalIP; set NODE_IP"
  url="http://$ip:$SPLITTER_NODE_PORT$SPLIT_PATH"

  say "GET $url"
  answer=$(curl -sS --max-time 15 "$url") || fail "curl $url failed"
  [[ $answer == "$EXPECTED_TEXT" ]] || fail "expected '$EXPECTED_TEXT', got '$answer'"
  echo "    got: $answer"

  say "$REQUESTS JSON requests, checking which greeter pods answered"
  local bodies="" body
  for ((i = 1; i <= REQUESTS; i++)); do
    body=$(curl -sS --max-time 15 -H 'Accept: application/json' "$url") || fail "JSON request $i failed"
    bodies+="$body"$'\n'
  done
  local served expected_pods
  served=$(printf '%s' "$bodies" | served_by_greeters) || fail "JSON answers did not parse: $(printf '%s' "$bodies" | head -n 1)"
  expected_pods=$(kube get pods -l "$GREETER_SELECTOR" --field-selector=status.phase=Running \
    -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}' | sort)
  echo "    greeter pods running: ${expected_pods//$'\n'/ }"
  echo "    greeters that answered (parts[].servedBy): ${served//$'\n'/ }"
  [[ $(wc -l <<<"$expected_pods") -eq 2 ]] || fail "expected 2 running greeter pods"
  [[ $served == "$expected_pods" ]] || fail "not every greeter pod answered, or an unknown one did"

  echo "PASS: '$EXPECTED_TEXT' from NodePort $SPLITTER_NODE_PORT; both greeter pods served requests"
}

case ${1:-} in
  "") run ;;
  --cleanup) cleanup ;;
  -h | --help) sed -n '2,11p' "$0" ;;
  *) die "unknown argument '$1' (usage: scripts/k3s-e2e.sh [--cleanup])" ;;
esac
