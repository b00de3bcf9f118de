package server

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// TestOversizedBodyGetsAnAnswer sends a 40 MiB body to a handler that caps
// bodies far lower, from a client that writes the whole body, slower than
// the server answers, before it reads the answer, as a simple HTTP client
// does: it must read the handler's 413 and its text, not a connection reset
// in the middle of its upload.
func TestOversizedBodyGetsAnAnswer(t *testing.T) {
	const limit = 1 << 20
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit)); err != nil {
			http.Error(w, "request body larger than the limit", http.StatusRequestEntityTooLarge)
			return
		}
		io.WriteString(w, "ok")
	})
	ca := newTestCA(t, "test CA")
	leaf := ca.issue(t, "server", 2, false)
	ts := startServer(t, Options{Certificate: &leaf.pair, Handler: handler})

	// Every route is served by this one server: /validate stands for all.
	status, body, err := proctest.PostWhileSending(ts.Addr(), &tls.Config{RootCAs: ca.pool()}, "/validate", 40<<20)
	if err != nil {
		t.Fatalf("POST of 40 MiB: %v; want an answer", err)
	}
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
		t.Errorf("POST of 40 MiB = %d %q, want 413 with its reason", status, body)
	}
}
