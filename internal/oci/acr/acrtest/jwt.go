package acrtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"time"
)

// AccessTokenLifetime is how long the signed access tokens live: ACR's
// live minutes, and a client asks for a new one per scope anyway.
const AccessTokenLifetime = 5 * time.Minute

// ResourceActions is one entry of a token's access claim, and one scope
// of a token request (type:name:actions).
type ResourceActions struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// TokenSigner signs access tokens as a token service of the distribution
// registry's token authentication: ES256 JWTs whose x5c header carries
// the signing certificate, which the registry checks against its
// rootcertbundle. The ACR fake uses one; so does the round-trip benchmark's
// token service.
type TokenSigner struct {
	issuer   string
	subject  string
	lifetime time.Duration
	key      *ecdsa.PrivateKey
	cert     []byte // DER
}

// NewTokenSigner makes a signing key and its self-signed certificate, which
// it returns as PEM for the registry's rootcertbundle. Tokens name issuer
// and subject and live for lifetime.
func NewTokenSigner(issuer, subject string, lifetime time.Duration) (*TokenSigner, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("acrtest: token signing key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, fmt.Errorf("acrtest: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: issuer + " token signing"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("acrtest: token signing certificate: %w", err)
	}
	s := &TokenSigner{issuer: issuer, subject: subject, lifetime: lifetime, key: key, cert: der}
	return s, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// SignTokens makes the token service issue access tokens that the
// distribution registry accepts when configured with
//
//	auth:
//	  token:
//	    realm: https://HOST/oauth2/token
//	    service: HOST
//	    issuer: ISSUER
//	    rootcertbundle: FILE
//
// where FILE holds the PEM certificate SignTokens returns. Call it before
// the first token request.
func (a *ACR) SignTokens(issuer string) (rootCertPEM []byte, err error) {
	signer, rootCertPEM, err := NewTokenSigner(issuer, ACRUsername, AccessTokenLifetime)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.signer = signer
	return rootCertPEM, nil
}

// Sign builds the access token for service with access: the claims the
// registry's token authentication reads (iss, sub, aud, exp, nbf, iat,
// jti, access).
func (s *TokenSigner) Sign(service string, access []ResourceActions) (string, error) {
	header, err := json.Marshal(map[string]any{
		"typ": "JWT",
		"alg": "ES256",
		"x5c": []string{base64.StdEncoding.EncodeToString(s.cert)},
	})
	if err != nil {
		return "", err
	}
	now := time.Now()
	if access == nil {
		access = []ResourceActions{}
	}
	claims, err := json.Marshal(map[string]any{
		"iss":    s.issuer,
		"sub":    s.subject,
		"aud":    service,
		"exp":    now.Add(s.lifetime).Unix(),
		"nbf":    now.Add(-time.Minute).Unix(),
		"iat":    now.Unix(),
		"jti":    randomHex(),
		"access": access,
	})
	if err != nil {
		return "", err
	}
	signingInput := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signingInput))
	r, ss, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return "", err
	}
	// JWS ES256: R and S, each left-padded to 32 bytes (RFC 7518 3.4).
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return signingInput + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// ParseScope reads a scope of the registry token protocol,
// TYPE:NAME:ACTION[,ACTION...] (the name may hold a port's colon), as the
// registry's challenge gives it.
func ParseScope(scope string) (ResourceActions, error) {
	first := strings.Index(scope, ":")
	last := strings.LastIndex(scope, ":")
	if first <= 0 || last == first || last == len(scope)-1 {
		return ResourceActions{}, errors.New("want TYPE:NAME:ACTIONS, e.g. repository:app:pull")
	}
	ra := ResourceActions{Type: scope[:first], Name: scope[first+1 : last]}
	for _, act := range strings.Split(scope[last+1:], ",") {
		if act == "" {
			return ResourceActions{}, errors.New("an empty action")
		}
		ra.Actions = append(ra.Actions, act)
	}
	if ra.Type != "repository" && ra.Type != "registry" {
		return ResourceActions{}, fmt.Errorf("resource type %q, want repository or registry", ra.Type)
	}
	return ra, nil
}

// intersect keeps the requested actions that are granted ("*" grants all).
func intersect(requested, granted []string) []string {
	out := []string{}
	for _, act := range requested {
		if slices.Contains(granted, act) || slices.Contains(granted, "*") {
			out = append(out, act)
		}
	}
	return out
}
