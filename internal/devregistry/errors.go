package devregistry

import "errors"

// ErrNotLoopback is returned by Start when Options.Addr is not a loopback
// address. The dev registry has no authentication, so it must not be
// reachable from other machines.
var ErrNotLoopback = errors.New("the dev registry listens on loopback only (127.0.0.1, ::1 or localhost)")
