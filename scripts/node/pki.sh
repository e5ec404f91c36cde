#!/usr/bin/env bash
# Certificates, service-account keys and kubeconfigs for the test node (scripts/cluster.sh),
# made with openssl into a fresh directory. Sourced by cluster.sh; not a command of its own.
#
#   node_pki DIR NODE_NAME NODE_IP SERVICE_IP API_URL
#
# One CA signs everything: the API server's serving certificate and one client certificate per
# component (the user and groups are the certificate's CN and O, as kubeadm makes them).
# Keys are EC P-256; certificates last 30 days (a test node lives for minutes).

pki_cert() { # DIR NAME SUBJECT [SAN] [EXT_USAGE]
  local dir=$1 name=$2 subject=$3 san=${4:-} usage=${5:-clientAuth}
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key" 2>/dev/null
  openssl req -new -key "$dir/$name.key" -subj "$subject" -out "$dir/$name.csr" 2>/dev/null
  {
    echo "basicConstraints = critical, CA:FALSE"
    echo "keyUsage = critical, digitalSignature, keyEncipherment"
    echo "extendedKeyUsage = $usage"
    [[ -n $san ]] && echo "subjectAltName = $san"
  } >"$dir/$name.ext"
  openssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 30 -sha256 -extfile "$dir/$name.ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$dir/$name.csr" "$dir/$name.ext"
}

pki_kubeconfig() { # DIR NAME API_URL
  local dir=$1 name=$2 url=$3
  cat >"$dir/$name.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: wasm-pods-node
    cluster:
      server: $url
      certificate-authority: $dir/ca.crt
users:
  - name: $name
    user:
      client-certificate: $dir/$name.crt
      client-key: $dir/$name.key
contexts:
  - name: wasm-pods-node
    context:
      cluster: wasm-pods-node
      user: $name
current-context: wasm-pods-node
EOF
}

node_pki() {
  local dir=$1 node=$2 node_ip=$3 service_ip=$4 url=$5
  mkdir -p "$dir"
  chmod 700 "$dir"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key" 2>/dev/null
  openssl req -x509 -new -key "$dir/ca.key" -subj "/CN=wasm-pods-node-ca" -days 30 -sha256 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt" 2>/dev/null
  pki_cert "$dir" apiserver "/CN=kube-apiserver" \
    "DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:127.0.0.1,IP:$node_ip,IP:$service_ip" \
    serverAuth
  # The API server's client certificate towards kubelets (logs, exec, port-forward).
  pki_cert "$dir" apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client"
  pki_cert "$dir" admin "/O=system:masters/CN=wasm-pods-admin"
  pki_cert "$dir" controller-manager "/CN=system:kube-controller-manager"
  pki_cert "$dir" scheduler "/CN=system:kube-scheduler"
  pki_cert "$dir" kubelet "/O=system:nodes/CN=system:node:$node"
  pki_cert "$dir" kube-proxy "/CN=system:kube-proxy"
  # CoreDNS and the policy controller get their own users and the ClusterRoles cluster.sh binds.
  pki_cert "$dir" coredns "/CN=wasm-pods:coredns"
  pki_cert "$dir" kube-router "/CN=wasm-pods:kube-router"
  local name
  for name in admin controller-manager scheduler kubelet kube-proxy coredns kube-router; do
    pki_kubeconfig "$dir" "$name" "$url"
  done
  # Service-account tokens: signed by the API server with this key, checked with its public half.
  openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  chmod 600 "$dir"/*.key
}
