package verifytest

import (
	"sync"
	"sync/atomic"
	"time"
)

// Gate holds one registry request until another arrives, which can only
// happen if the verifier sends the two at the same time. Hold gives up
// after a while, so that a verifier sending them one after the other
// fails its test instead of hanging it; no duration is asserted.
type Gate struct {
	arrived chan struct{}
	once    sync.Once
	met     atomic.Bool
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{arrived: make(chan struct{})} }

// Open lets every holder through: the awaited request has arrived.
func (g *Gate) Open() { g.once.Do(func() { close(g.arrived) }) }

// Hold waits until Open, or three seconds.
func (g *Gate) Hold() {
	select {
	case <-g.arrived:
		g.met.Store(true)
	case <-time.After(3 * time.Second):
	}
}

// Met reports whether a Hold saw the gate open.
func (g *Gate) Met() bool { return g.met.Load() }
