package bench

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/oci/acr/acrtest"
)

// tokenServer is a token service for the distribution registry's token
// authentication (distribution's docs/spec/auth/token.md and jwt.md): a
// client the registry turned away with a Bearer challenge asks GET
// REALM?service=S&scope=repository:NAME:ACTIONS and gets a JWT that the
// registry checks (signature by a key whose certificate is in its
// rootcertbundle, iss, aud, exp, nbf, access). It grants every scope asked
// for, anonymously: the benchmark measures the round trips of the
// protocol, not a permission model.
type tokenServer struct {
	srv      *http.Server
	ln       net.Listener
	issuer   string
	service  string
	signer   *acrtest.TokenSigner
	certFile string // PEM, for the registry's rootcertbundle
	requests atomic.Int64
}

// tokenLifetime is the expires_in of issued tokens: longer than any
// benchmark run, so that every token request counted is one per scope.
const tokenLifetime = time.Hour

// startTokenServer serves tokens on a loopback port until t ends.
func startTokenServer(t *testing.T, service string) *tokenServer {
	t.Helper()
	signer, rootPEM, err := acrtest.NewTokenSigner("hallmark-bench", "bench", tokenLifetime)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "token-issuer.pem")
	if err := os.WriteFile(certFile, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenServer{ln: ln, issuer: "hallmark-bench", service: service, signer: signer, certFile: certFile}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveToken), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Host is the server's host:port.
func (s *tokenServer) Host() string { return s.ln.Addr().String() }

func (s *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	q := r.URL.Query()
	if q.Get("service") != s.service {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	grants := []acrtest.ResourceActions{}
	for _, scope := range q["scope"] {
		ra, err := acrtest.ParseScope(scope)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		grants = append(grants, ra)
	}
	tok, err := s.signer.Sign(s.service, grants)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"token": tok, "access_token": tok,
		"expires_in": int(tokenLifetime.Seconds()), "issued_at": time.Now().UTC().Format(time.RFC3339),
	})
}
