package cosign

import (
	"fmt"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// MaxTrustedRootBytes caps a trusted root JSON document. The public-good
// instance's trusted_root.json, with every Fulcio, Rekor, CT log and TSA
// key since 2021, is about 10 KiB.
const MaxTrustedRootBytes = 1 << 20

// ParseTrustedRoot reads a Sigstore trusted root JSON document
// (trusted_root.json, media type application/vnd.dev.sigstore.trustedroot+json):
// the Fulcio certificate authorities, Rekor transparency logs, CT logs and
// timestamping authorities that keyless verification trusts. Errors match
// ErrInvalidTrustedRoot.
func ParseTrustedRoot(data []byte) (*root.TrustedRoot, error) {
	if len(data) > MaxTrustedRootBytes {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d accepted", ErrInvalidTrustedRoot, len(data), MaxTrustedRootBytes)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidTrustedRoot, err)
	}
	return tr, nil
}
