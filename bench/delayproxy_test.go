package bench

import (
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// delayProxy is a TCP proxy that delivers every byte delay after it was
// read, in each direction, so a registry on loopback is a round trip of
// 2×delay away, as a production registry is milliseconds away. A new
// connection costs one round trip more before its first byte arrives, as
// the TCP handshake does. It counts connections, so a benchmark can tell
// the round trips of new connections from those of requests.
type delayProxy struct {
	ln       net.Listener
	upstream string
	delay    time.Duration
	conns    atomic.Int64

	mu   sync.Mutex
	open map[net.Conn]bool // both ends of every proxied connection
}

// track records c as open, or closes it at once if the proxy is closed.
func (p *delayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.open == nil {
		c.Close()
		return false
	}
	p.open[c] = true
	return true
}

// closeAll closes every proxied connection: clients keep idle connections
// open, and the proxy would otherwise wait for them forever.
func (p *delayProxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		c.Close()
	}
	p.open = nil
}

// startDelayProxy proxies a loopback port to upstream with delay each way,
// until t ends.
func startDelayProxy(t *testing.T, upstream string, delay time.Duration) *delayProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &delayProxy{ln: ln, upstream: upstream, delay: delay, open: map[net.Conn]bool{}}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); p.closeAll(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			wg.Go(func() { p.serve(c) })
		}
	})
	return p
}

// Host is the proxy's host:port.
func (p *delayProxy) Host() string { return p.ln.Addr().String() }

func (p *delayProxy) serve(client net.Conn) {
	accepted := time.Now()
	defer client.Close()
	if !p.track(client) {
		return
	}
	up, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(up) {
		return
	}
	var wg sync.WaitGroup
	// The handshake: the client's first byte could not have left before
	// one round trip, and arrives one delay later.
	wg.Go(func() { p.pipe(up, client, accepted.Add(2*p.delay)) })
	wg.Go(func() { p.pipe(client, up, accepted) })
	wg.Wait()
}

// chunk is what one read returned, and when it is due at the other end.
type chunk struct {
	data []byte
	due  time.Time
}

// pipe copies from src to dst, each chunk delay after it was read (and
// not before notBefore+delay), keeping order. It closes dst's write side
// when src ends, so each direction ends on its own.
func (p *delayProxy) pipe(dst, src net.Conn, notBefore time.Time) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				due := time.Now().Add(p.delay)
				if earliest := notBefore.Add(p.delay); due.Before(earliest) {
					due = earliest
				}
				queue <- chunk{data: buf[:n], due: due}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			// Drain, so the reader does not block forever.
			for range queue {
			}
			break
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	} else {
		dst.Close()
	}
}
