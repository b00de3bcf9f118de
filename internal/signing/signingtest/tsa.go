package signingtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/notaryproject/tspclient-go"
	"github.com/notaryproject/tspclient-go/pki"
)

// OIDs of RFC 3161, RFC 5652 and RFC 5035 that a minimal TSA needs.
var (
	oidSignedData           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo              = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningCertificateV2 = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256               = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSAWithSHA256      = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidExtKeyUsage          = asn1.ObjectIdentifier{2, 5, 29, 37}
	oidTimeStamping         = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 3, 8}
	oidTestPolicy           = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}
)

// TSA is an RFC 3161 timestamp authority on an httptest server, enough for
// notation-core-go to accept its tokens: an EC P-256 TSA certificate with
// only the timeStamping EKU, marked critical, under its own root; tokens
// with signing-certificate-v2; and the request's nonce echoed.
type TSA struct {
	// URL is where to POST timestamp queries.
	URL string
	// Root is the TSA's root certificate, for Options.TimestampRootCAs.
	Root *x509.Certificate
	// Cert is the TSA's signing certificate.
	Cert *x509.Certificate
	// Accuracy is stated in each token (one second unless changed before
	// the first request).
	Accuracy time.Duration
	// Requests counts the queries answered.
	Requests atomic.Int32

	key crypto.Signer
}

// NewTSA starts a TSA that stops when the test ends.
func NewTSA(t testing.TB) *TSA {
	t.Helper()
	rootKey := NewKey(t, EC256)
	root := Root(t, rootKey, "hallmark test TSA Root")
	key := NewKey(t, EC256)
	eku, err := asn1.Marshal([]asn1.ObjectIdentifier{oidTimeStamping})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		Subject:               subject("hallmark test TSA"),
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		// RFC 3161 2.3 wants the timeStamping EKU alone and critical; Go
		// writes ExtKeyUsage non-critical, so spell the extension out.
		ExtraExtensions: []pkix.Extension{{Id: oidExtKeyUsage, Critical: true, Value: eku}},
	}
	tsa := &TSA{
		Root:     root,
		Cert:     create(t, tmpl, root, key.Public(), rootKey),
		Accuracy: time.Second,
		key:      key,
	}
	srv := httptest.NewServer(http.HandlerFunc(tsa.serve))
	t.Cleanup(srv.Close)
	tsa.URL = srv.URL
	return tsa
}

// RootPool returns a pool holding the TSA's root.
func (a *TSA) RootPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.Root)
	return p
}

// maxQueryBytes caps a timestamp query; real ones are under 200 bytes.
const maxQueryBytes = 64 << 10

func (a *TSA) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxQueryBytes))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var req tspclient.Request
	if err := req.UnmarshalBinary(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	token, err := a.token(&req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := asn1.Marshal(tspclient.Response{
		Status:         pki.StatusInfo{Status: pki.StatusGranted},
		TimestampToken: asn1.RawValue{FullBytes: token},
	})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	a.Requests.Add(1)
	w.Header().Set("Content-Type", tspclient.MediaTypeTimestampReply)
	_, _ = w.Write(resp)
}

// CMS structures (RFC 5652), just as much as a token needs.
type (
	contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT, built by hand: encoding/asn1 ignores tags on a RawValue
	}
	signedData struct {
		Version          int
		DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
		EncapContentInfo encapContentInfo
		Certificates     asn1.RawValue `asn1:"optional,tag:0"`
		SignerInfos      []signerInfo  `asn1:"set"`
	}
	encapContentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     []byte `asn1:"explicit,tag:0"`
	}
	signerInfo struct {
		Version            int
		SID                issuerAndSerial
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        []attribute `asn1:"tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
	}
	issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	attribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
	essCertIDv2 struct {
		CertHash []byte // hash algorithm omitted: SHA-256 by default
	}
	signingCertificateV2 struct {
		Certs []essCertIDv2
	}
)

func (a *TSA) token(req *tspclient.Request) ([]byte, error) {
	acc := tspclient.Accuracy{
		Seconds:      int(a.Accuracy / time.Second),
		Milliseconds: int(a.Accuracy % time.Second / time.Millisecond),
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	info, err := asn1.Marshal(tspclient.TSTInfo{
		Version:        1,
		Policy:         oidTestPolicy,
		MessageImprint: req.MessageImprint,
		SerialNumber:   serial,
		GenTime:        time.Now().UTC().Truncate(time.Second),
		Accuracy:       acc,
		Nonce:          req.Nonce,
	})
	if err != nil {
		return nil, err
	}
	infoDigest := sha256.Sum256(info)
	certDigest := sha256.Sum256(a.Cert.Raw)

	attr := func(typ asn1.ObjectIdentifier, v any) (attribute, error) {
		b, err := asn1.Marshal(v)
		if err != nil {
			return attribute{}, err
		}
		return attribute{Type: typ, Values: asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: b}}, nil
	}
	var attrs []attribute
	for _, x := range []struct {
		typ asn1.ObjectIdentifier
		v   any
	}{
		{oidContentType, oidTSTInfo},
		{oidMessageDigest, infoDigest[:]},
		{oidSigningCertificateV2, signingCertificateV2{Certs: []essCertIDv2{{CertHash: certDigest[:]}}}},
	} {
		at, err := attr(x.typ, x.v)
		if err != nil {
			return nil, err
		}
		attrs = append(attrs, at)
	}
	// The signature covers the attributes encoded as a SET OF, the way the
	// verifier re-encodes them.
	signedAttrs, err := asn1.MarshalWithParams(attrs, "set")
	if err != nil {
		return nil, err
	}
	attrDigest := sha256.Sum256(signedAttrs)
	sig, err := ecdsa.SignASN1(rand.Reader, a.key.(*ecdsa.PrivateKey), attrDigest[:])
	if err != nil {
		return nil, err
	}

	sd, err := asn1.Marshal(signedData{
		Version:          3,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{{Algorithm: oidSHA256}},
		EncapContentInfo: encapContentInfo{ContentType: oidTSTInfo, Content: info},
		Certificates:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: a.Cert.Raw},
		SignerInfos: []signerInfo{{
			Version:            1,
			SID:                issuerAndSerial{Issuer: asn1.RawValue{FullBytes: a.Cert.RawIssuer}, Serial: a.Cert.SerialNumber},
			DigestAlgorithm:    pkix.AlgorithmIdentifier{Algorithm: oidSHA256},
			SignedAttrs:        attrs,
			SignatureAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidECDSAWithSHA256},
			Signature:          sig,
		}},
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(contentInfo{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd},
	})
}
