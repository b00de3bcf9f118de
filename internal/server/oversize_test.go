package server

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestOversizedBodyGetsAnAnswer sends a 40 MiB body to a handler that caps
// bodies far lower, from a client that writes the whole body before it reads
// the answer, as a simple HTTP client does: it must read the handler's 413
// and its text, not a connection reset in the middle of its upload.
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
	status, body, err := postLargeThenRead(ts.Addr(), ca, "/validate", 40<<20)
	if err != nil {
		t.Fatalf("POST of 40 MiB: %v; want an answer", err)
	}
	if status != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
		t.Errorf("POST of 40 MiB = %d %q, want 413 with its reason", status, body)
	}
}

// postLargeThenRead writes a POST of size bytes over a fresh TLS connection,
// all of it, and only then reads the answer.
func postLargeThenRead(addr string, ca *testCA, path string, size int) (int, string, error) {
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: ca.pool(), NextProtos: []string{"http/1.1"}})
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: hallmark\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, size)
	chunk := make([]byte, 64<<10)
	for sent := 0; sent < size; sent += len(chunk) {
		// A client on a real network takes a while to send 40 MiB: longer
		// than the server takes to answer.
		if sent%(1<<20) == 0 {
			time.Sleep(25 * time.Millisecond)
		}
		if _, err := conn.Write(chunk); err != nil {
			// The server may stop reading once it has answered; the
			// answer must still be readable.
			return 0, "", fmt.Errorf("connection broken after %d of %d bytes: %w", sent, size, err)
		}
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0, "", fmt.Errorf("read the answer: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
