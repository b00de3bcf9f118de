package server

import (
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"slices"
	"time"
)

// responseRecorder remembers the status and size of a response for the
// request log and for panic recovery, which must know whether headers are
// already on the wire.
type responseRecorder struct {
	http.ResponseWriter
	status int // 0 until WriteHeader or Write
	bytes  int64
}

func (r *responseRecorder) WriteHeader(code int) {
	// 1xx responses are informational; the final status comes later.
	if r.status == 0 && code >= 200 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

// Flush lets handlers that assert http.Flusher keep working through the
// recorder.
func (r *responseRecorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Unwrap gives http.ResponseController access to the underlying writer.
func (r *responseRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recorderFor reuses an outer middleware's recorder so status and size are
// tracked once.
func recorderFor(w http.ResponseWriter) *responseRecorder {
	if rec, ok := w.(*responseRecorder); ok {
		return rec
	}
	return &responseRecorder{ResponseWriter: w}
}

// logRequests writes one debug record per request: method, path, status,
// size, duration and peer. Never headers (they may carry credentials), query
// strings or bodies (admission objects may embed secrets).
func logRequests(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !log.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		rec := recorderFor(w)
		start := time.Now()
		defer func() {
			// Deferred so a panic that aborts the connection is
			// still logged.
			log.LogAttrs(r.Context(), slog.LevelDebug, "request",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.String("proto", r.Proto),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Duration("duration", time.Since(start)),
				slog.String("remote", r.RemoteAddr),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

// recoverPanics turns a panicking handler into a 500 and an error record, so
// one bad request never takes the admission server, and with it every pod
// creation in the cluster, down.
func recoverPanics(next http.Handler, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recorderFor(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				// A deliberate abort: net/http handles it quietly.
				panic(v)
			}
			log.LogAttrs(r.Context(), slog.LevelError, "handler panicked",
				slog.String("method", r.Method),
				slog.String("path", r.URL.Path),
				slog.Any("panic", v),
				slog.String("stack", string(debug.Stack())),
			)
			if rec.status != 0 {
				// Part of a response is already sent and a 500 can no
				// longer be; abort the connection so the client sees
				// a broken response, not a truncated one that parses.
				panic(http.ErrAbortHandler)
			}
			http.Error(rec, "internal server error", http.StatusInternalServerError)
		}()
		next.ServeHTTP(rec, r)
	})
}

// requireClientCert refuses requests that did not present a client
// certificate verified against the client CAs, except on the exempt paths.
// The handshake already rejects a certificate that does not verify; this
// catches the client that presented none.
func requireClientCert(next http.Handler, exempt ...string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) && !slices.Contains(exempt, r.URL.Path) {
			http.Error(w, "client certificate required", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// maxDrainBytes is how much of a request body the server still reads, and
// discards, after the handler answered without reading it all (a body over
// the handler's cap, answered 413). Closing the connection on a client
// that is still sending resets it, and most clients then report the reset,
// not the answer; reading on lets them finish sending and read the status.
// 64 MiB covers any body a client sends by mistake; one bigger than that is
// not worth the bandwidth, and its connection is closed. The server's
// ReadTimeout bounds the time either way.
const maxDrainBytes = 64 << 20

// drainBodies reads what the handler left of the request body, up to
// maxDrainBytes, after sending the handler's answer.
func drainBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The body as the server made it: a handler's http.MaxBytesReader
		// stops at its cap, this one reads on.
		body := r.Body
		next.ServeHTTP(w, r)
		if body == nil || body == http.NoBody || r.ProtoMajor != 1 {
			// HTTP/2 resets only the stream, which its clients handle.
			return
		}
		// The answer goes out first, so a client reading while it sends
		// has it at once.
		_ = http.NewResponseController(w).Flush()
		_, _ = io.CopyN(io.Discard, body, maxDrainBytes)
	})
}
