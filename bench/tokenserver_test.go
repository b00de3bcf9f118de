package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
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
	key      *ecdsa.PrivateKey
	certDER  []byte
	certFile string // PEM, for the registry's rootcertbundle
	requests atomic.Int64
}

// tokenLifetime is the expires_in of issued tokens: longer than any
// benchmark run, so that every token request counted is one per scope.
const tokenLifetime = time.Hour

// startTokenServer serves tokens on a loopback port until t ends.
func startTokenServer(t *testing.T, service string) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "hallmark bench token issuer"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certFile := filepath.Join(t.TempDir(), "token-issuer.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenServer{ln: ln, issuer: "hallmark-bench", service: service, key: key, certDER: der, certFile: certFile}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serveToken), ReadHeaderTimeout: 10 * time.Second}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Host is the server's host:port.
func (s *tokenServer) Host() string { return s.ln.Addr().String() }

// access is one entry of a token's access claim.
type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

func (s *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	q := r.URL.Query()
	if q.Get("service") != s.service {
		http.Error(w, "unknown service", http.StatusBadRequest)
		return
	}
	grants := []access{}
	for _, scope := range q["scope"] {
		// TYPE:NAME:ACTIONS; the name may hold a registry port's colon.
		first, last := strings.Index(scope, ":"), strings.LastIndex(scope, ":")
		if first < 0 || last <= first {
			http.Error(w, "malformed scope "+scope, http.StatusBadRequest)
			return
		}
		grants = append(grants, access{Type: scope[:first], Name: scope[first+1 : last], Actions: strings.Split(scope[last+1:], ",")})
	}
	tok, err := s.sign(grants)
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

// sign makes an ES256 JWT whose x5c header carries the issuer certificate,
// which the registry verifies against its rootcertbundle.
func (s *tokenServer) sign(grants []access) (string, error) {
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}})
	var jti [8]byte
	rand.Read(jti[:])
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": s.issuer, "sub": "bench", "aud": s.service,
		"exp": now.Add(tokenLifetime).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": hex.EncodeToString(jti[:]), "access": grants,
	})
	input := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	sum := sha256.Sum256([]byte(input))
	r, sv, err := ecdsa.Sign(rand.Reader, s.key, sum[:])
	if err != nil {
		return "", err
	}
	// RFC 7518 3.4: R then S, each 32 bytes big-endian.
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	sv.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
