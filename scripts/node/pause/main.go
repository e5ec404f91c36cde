// The pod sandbox's process: what registry.k8s.io/pause does, for a node that cannot pull it.
// A CRI sandbox needs a process that holds the pod's namespaces open and does nothing else.
// It sleeps until SIGINT or SIGTERM, and reaps any orphan re-parented to it (it is PID 1 of
// the pod's PID namespace when the pod shares one).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			return
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
