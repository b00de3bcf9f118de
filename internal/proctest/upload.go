package proctest

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"time"
)

// PostWhileSending writes an HTTP/1.1 POST of size bytes to path over a
// fresh TLS connection to addr, all of it, at a pace slower than a server
// answers (25 ms per MiB), and only then reads the answer, as a simple
// client does. A server that closes the connection while the client still
// sends leaves it a reset instead of a status: that is returned as an
// error.
func PostWhileSending(addr string, cfg *tls.Config, path string, size int) (status int, body string, err error) {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	conn, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: hallmark\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, size)
	chunk := make([]byte, 64<<10)
	for sent := 0; sent < size; sent += len(chunk) {
		if sent%(1<<20) == 0 {
			time.Sleep(25 * time.Millisecond)
		}
		if _, err := conn.Write(chunk); err != nil {
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
