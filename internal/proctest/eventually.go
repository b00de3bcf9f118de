package proctest

import "time"

// Eventually calls cond every interval until it returns true, and reports
// whether it did before timeout passed. cond runs at least once, and once
// more after the deadline, so that a condition met during the last wait is
// not reported as a failure. The end-to-end suites use it to wait for a
// server, a peer or a cluster to reach a state; timeout is a generous bound
// for a slow machine, never a timing assertion, and the caller fails with
// what it last saw.
func Eventually(timeout, interval time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(interval)
	}
}
