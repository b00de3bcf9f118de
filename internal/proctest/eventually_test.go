package proctest

import (
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	calls := 0
	if !Eventually(time.Minute, time.Millisecond, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Fatalf("a condition met on the third call: %d calls", calls)
	}
	calls = 0
	if Eventually(5*time.Millisecond, time.Millisecond, func() bool { calls++; return false }) || calls < 2 {
		t.Fatalf("a condition never met was reported met, or tried only %d times", calls)
	}
}
