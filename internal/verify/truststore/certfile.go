package truststore

import (
	"crypto/x509"
	"fmt"
	"slices"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
)

// MaxCertFileSize caps a certificate file added to a trust store, the same
// cap Load applies when it reads one.
const MaxCertFileSize = certbundle.MaxFileSize

// ParseTrustedCertificates parses a certificate file (PEM or DER) meant for
// a trust store of type typ, and checks it by the rules Load
// applies: CA or self-signed certificates only, self-signed roots only in
// tsa stores. A file it accepts is one Load loads.
func ParseTrustedCertificates(typ truststore.Type, data []byte) ([]*x509.Certificate, error) {
	if !isTrustStoreType(typ) {
		return nil, fmt.Errorf("trust store type %q: use ca, signingAuthority or tsa", typ)
	}
	if len(data) > MaxCertFileSize {
		return nil, fmt.Errorf("is larger than %d bytes", MaxCertFileSize)
	}
	certs, err := certbundle.Parse(data)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		if msg := checkTrustedCert(typ, c); msg != "" {
			return nil, fmt.Errorf("%s", msg)
		}
	}
	return certs, nil
}

func isTrustStoreType(typ truststore.Type) bool {
	return slices.Contains(truststore.Types, typ)
}
