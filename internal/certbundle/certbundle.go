// Package certbundle reads certificate bundles: the PEM files (and, where a
// caller allows it, DER files) that hold trust store certificates, registry
// and client CA roots, and certificate chains. A trust decision must not
// depend on which file read the bundle, so every such file is read here,
// with one set of rules stricter than x509.CertPool.AppendCertsFromPEM,
// which skips what it cannot read:
//
//   - every PEM block is a CERTIFICATE that parses; a private key or any
//     other block is refused, never skipped;
//   - a block that begins but does not decode (a file caught mid-write, a
//     line lost in a copy) is refused, so a chain cannot lose an
//     intermediate without a word;
//   - text before a block is explanatory text (RFC 7468 §5.2, as in CA
//     bundles that title each certificate); text after the last block is
//     refused, as it is either a damaged block or the wrong file;
//   - at most MaxCerts certificates, at least one.
//
// Errors complete the sentence "FILE ...", e.g. "ca.pem: holds no
// certificate".
package certbundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCerts caps the certificates of one bundle. A PEM bundle of a few dozen
// CA certificates is common; the system bundle is about 150, but hallmark
// never reads it through here. Every certificate is parsed and, in a trust
// store, compared with each signature's chain, so the cap bounds both.
const MaxCerts = 100

// MaxFileSize caps a certificate bundle file, for callers reading one with
// capped.ReadFile. MaxCerts PEM certificates with long chains of names stay
// well under 256 KiB; a larger file is the wrong file or an attack.
const MaxFileSize = 1 << 20 // 1 MiB

var beginMarker = []byte("-----BEGIN")

// ParsePEM reads a PEM bundle of one or more CERTIFICATE blocks.
func ParsePEM(data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, beginMarker) {
		return nil, errors.New("holds no PEM certificate")
	}
	return parsePEM(data)
}

// Parse reads a bundle that is PEM, or, when it holds no PEM block at all,
// DER: one or more concatenated certificates (the form `notation cert
// add` and Windows tools also write).
func Parse(data []byte) ([]*x509.Certificate, error) {
	if bytes.Contains(data, beginMarker) {
		return parsePEM(data)
	}
	certs, err := x509.ParseCertificates(data)
	if err != nil {
		return nil, errors.New("holds neither PEM nor DER certificates")
	}
	if len(certs) == 0 {
		return nil, errors.New("holds no certificate")
	}
	if len(certs) > MaxCerts {
		return nil, fmt.Errorf("holds more than %d certificates", MaxCerts)
	}
	return certs, nil
}

// Pool reads a PEM bundle into a new certificate pool, for TLS roots and
// client CAs.
func Pool(data []byte) (*x509.CertPool, error) {
	certs, err := ParsePEM(data)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// Blocks reads every PEM block of data with the rules above except the
// block types: for files that hold a certificate chain next to other blocks
// (a TLS key pair's combined file). Text before a block is allowed; a block
// that begins but does not decode, and data after the last block, are
// errors. It returns no error and no block for data without "-----BEGIN".
func Blocks(data []byte) ([]*pem.Block, error) {
	var blocks []*pem.Block
	start := bytes.Index(data, beginMarker)
	for n := 1; start >= 0; n++ {
		// A marker is read only where it starts a line, as pem.Decode
		// (and so every other reader of the file) reads it.
		if start > 0 && data[start-1] != '\n' {
			return nil, fmt.Errorf("PEM block %d: its \"-----BEGIN\" line has other text before it on the same line; start the line with it", n)
		}
		seg := data[start:]
		next := bytes.Index(seg[len(beginMarker):], beginMarker)
		if next >= 0 {
			seg = seg[:len(beginMarker)+next]
		}
		// Each block is decoded from its own "-----BEGIN" up to the next
		// one, so a malformed block is seen as such: pem.Decode on the
		// whole input would skip to the next block it can read.
		block, rest := pem.Decode(seg)
		if block == nil {
			return nil, fmt.Errorf("PEM block %d is truncated or malformed", n)
		}
		if next < 0 && len(bytes.TrimSpace(rest)) > 0 {
			return nil, errors.New("has data after the last PEM block (a damaged block, or the wrong file)")
		}
		blocks = append(blocks, block)
		if next < 0 {
			break
		}
		start += len(beginMarker) + next
	}
	return blocks, nil
}

// parsePEM reads the certificates of a PEM bundle.
func parsePEM(data []byte) ([]*x509.Certificate, error) {
	blocks, err := Blocks(data)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for i, block := range blocks {
		if block.Type != "CERTIFICATE" {
			if bytes.Contains([]byte(block.Type), []byte("PRIVATE KEY")) {
				return nil, fmt.Errorf("holds a %s block; a certificate file holds certificates only, so remove the key from it (and keep private keys out of shared directories)", block.Type)
			}
			return nil, fmt.Errorf("holds a %q PEM block; only CERTIFICATE blocks belong here", block.Type)
		}
		if len(certs) == MaxCerts {
			return nil, fmt.Errorf("holds more than %d certificates", MaxCerts)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d cannot be parsed: %w", i+1, err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}
