//go:build tools

// The node's datastore: etcd's server (its main package), at the release go.mod pins
// (scripts/install-tools.sh: install_etcd).
package tools

import _ "go.etcd.io/etcd/server/v3"
