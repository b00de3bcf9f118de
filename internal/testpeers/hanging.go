package testpeers

import (
	"net"
	"sync"
	"testing"
)

// HangingRegistry starts a TCP listener on loopback that accepts
// connections and never answers on them, like a registry behind a
// black-holing proxy, and returns its host:port. It stops with t.
func HangingRegistry(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { <-done; c.Close() })
		}
	})
	t.Cleanup(func() { close(done); l.Close(); wg.Wait() })
	return l.Addr().String()
}
