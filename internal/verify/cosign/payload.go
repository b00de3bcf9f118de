package cosign

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// simpleSigningType is the critical.type of a cosign image signature
// payload (Red Hat's simple signing format as cosign writes it).
const simpleSigningType = "cosign container image signature"

// MaxPayloadBytes caps a simple-signing payload. cosign's is a few hundred
// bytes plus the optional annotations a signer adds with -a.
const MaxPayloadBytes = 256 << 10

// Payload is the signed content of a simple-signing signature: which image
// manifest it is for. Optional holds the signer's annotations (cosign sign
// -a KEY=VALUE); they are signed but hallmark does not act on them.
type Payload struct {
	// DockerReference is the repository the signer named. cosign writes
	// it, but verification binds to the digest only, as cosign does.
	DockerReference string
	// Digest is the image manifest digest the signature is for.
	Digest digest.Digest
	// Optional holds the signer's annotations.
	Optional map[string]any
}

type payloadJSON struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// ParsePayload decodes a simple-signing payload and checks that it is a
// cosign container image signature for a well-formed digest. It does not
// check the signature over it.
func ParsePayload(data []byte) (Payload, error) {
	if len(data) > MaxPayloadBytes {
		return Payload{}, fmt.Errorf("simple-signing payload is %d bytes, more than the %d accepted", len(data), MaxPayloadBytes)
	}
	var p payloadJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return Payload{}, fmt.Errorf("simple-signing payload is not JSON: %w", err)
	}
	if dec.More() {
		return Payload{}, fmt.Errorf("simple-signing payload has data after its JSON object")
	}
	if !strings.EqualFold(p.Critical.Type, simpleSigningType) {
		return Payload{}, fmt.Errorf("simple-signing payload has critical.type %q, want %q", p.Critical.Type, simpleSigningType)
	}
	d, err := digest.Parse(p.Critical.Image.DockerManifestDigest)
	if err != nil {
		return Payload{}, fmt.Errorf("simple-signing payload has critical.image.docker-manifest-digest %q: %w", p.Critical.Image.DockerManifestDigest, err)
	}
	return Payload{DockerReference: p.Critical.Identity.DockerReference, Digest: d, Optional: p.Optional}, nil
}

// MarshalJSON writes the payload the way cosign does.
func (p Payload) MarshalJSON() ([]byte, error) {
	var out payloadJSON
	out.Critical.Identity.DockerReference = p.DockerReference
	out.Critical.Image.DockerManifestDigest = p.Digest.String()
	out.Critical.Type = simpleSigningType
	out.Optional = p.Optional
	return json.Marshal(out)
}
