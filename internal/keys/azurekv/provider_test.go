package azurekv

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/notaryproject/notation-core-go/signature"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/signing"
)

func policyFile(t *testing.T, path string) *certpolicy.Policy {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := certpolicy.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCreateSignRotate creates certificates in the fake vault from the
// reference setup's policy (RSA-2048) and an EC-HSM policy, signs Notary
// Project envelopes with the vault's keys, and rotates.
func TestCreateSignRotate(t *testing.T) {
	v := newFakeVault(t)
	p := v.provider(t)
	ctx := context.Background()
	ec, err := certpolicy.Parse([]byte(`{"keyProperties":{"keyType":"EC-HSM","curve":"P-384","exportable":false},"x509CertificateProperties":{"subject":"CN=akv-ec,O=Acme,ST=WA,C=US","ekus":["1.3.6.1.5.5.7.3.3"]}}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		pol  *certpolicy.Policy
		spec string
	}{
		{"brooklyn", policyFile(t, "../certpolicy/testdata/policy/notation.json"), "RSA-2048"},
		{"akv-ec", ec, "EC-384"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			info, err := p.Create(ctx, tc.name, tc.pol)
			if err != nil {
				t.Fatal(err)
			}
			if info.KeyType != tc.spec || len(info.Version) != 32 || info.Policy == nil || info.Policy.X509.Subject != tc.pol.X509.Subject {
				t.Fatalf("Create = %+v", info)
			}
			key, err := p.Signer(ctx, keys.Ref{Name: tc.name})
			if err != nil {
				t.Fatal(err)
			}
			for _, format := range []string{signing.FormatCOSE, signing.FormatJWS} {
				desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: digest.FromString(tc.name), Size: 7}
				env, mt, err := signing.SignEnvelope(ctx, key.Signer, key.Chain, desc, signing.Options{Format: format})
				if err != nil {
					t.Fatalf("%s: %v", format, err)
				}
				e, err := signature.ParseEnvelope(mt, env)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.Verify(); err != nil {
					t.Fatalf("%s envelope signed by the vault does not verify: %v", format, err)
				}
			}

			v2, err := p.Rotate(ctx, tc.name, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v2.Version == info.Version || v2.Chain[0].Equal(info.Chain[0]) || v2.Chain[0].Subject.String() != info.Chain[0].Subject.String() {
				t.Fatalf("Rotate kept the version or changed the subject: %+v", v2)
			}
			if got, err := p.Get(ctx, keys.Ref{Name: tc.name, Version: info.Version}); err != nil || !got.Chain[0].Equal(info.Chain[0]) {
				t.Fatalf("Get old version: %v", err)
			}
			if got, err := p.Get(ctx, keys.Ref{Name: tc.name}); err != nil || got.Version != v2.Version {
				t.Fatalf("Get newest = %s, %v", got.Version, err)
			}
		})
	}
	list, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, in := range list {
		names = append(names, in.Name)
	}
	if strings.Join(names, " ") != "akv-ec akv-ec brooklyn brooklyn" {
		v.mu.Lock()
		t.Fatalf("List = %v\n%s", names, strings.Join(v.requests, "\n"))
	}
}

// TestErrors checks bad input gets a clear error and creates nothing.
func TestErrors(t *testing.T) {
	v := newFakeVault(t)
	p := v.provider(t)
	ctx := context.Background()
	if _, err := p.Create(ctx, "taken", policyFile(t, "../certpolicy/testdata/policy/notation.json")); err != nil {
		t.Fatal(err)
	}
	creates := func() int {
		v.mu.Lock()
		defer v.mu.Unlock()
		n := 0
		for _, r := range v.requests {
			if strings.HasSuffix(r, "/create") {
				n++
			}
		}
		return n
	}
	before := creates()
	exportable := policyFile(t, "../certpolicy/testdata/policy/notation.json")
	exportable.Key.Exportable = true
	ca, _ := certpolicy.Parse([]byte(`{"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=ca","basicConstraints":{"ca":true}}}`))
	issued, _ := certpolicy.Parse([]byte(`{"issuerParameters":{"name":"DigiCert"},"keyProperties":{"keyType":"EC"},"x509CertificateProperties":{"subject":"CN=x"}}`))
	for _, tc := range []struct {
		name string
		op   func() error
		is   error
		msg  string
	}{
		{"missing certificate", func() error { _, err := p.Signer(ctx, keys.Ref{Name: "absent"}); return err }, keys.ErrNotFound, "CertificateNotFound"},
		{"missing version", func() error {
			_, err := p.Get(ctx, keys.Ref{Name: "taken", Version: "00000000000000000000000000000000"})
			return err
		}, keys.ErrNotFound, "taken"},
		{"name taken", func() error { _, err := p.Create(ctx, "taken", exportable); return err }, keys.ErrExists, "rotate"},
		{"exportable", func() error { _, err := p.Create(ctx, "exp", exportable); return err }, keys.ErrUnsupported, "exportable"},
		{"CA policy", func() error { _, err := p.Create(ctx, "ca", ca); return err }, keys.ErrUnsupported, "CA"},
		{"issuer", func() error { _, err := p.Create(ctx, "issued", issued); return err }, keys.ErrUnsupported, "DigiCert"},
		{"rotate missing", func() error { _, err := p.Rotate(ctx, "absent", nil); return err }, keys.ErrNotFound, "absent"},
		{"bad name", func() error { _, err := p.Create(ctx, "-x", nil); return err }, keys.ErrInvalidRef, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.op()
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %v; want %v mentioning %q", err, tc.is, tc.msg)
			}
		})
	}
	if after := creates(); after != before {
		t.Fatalf("bad input reached the vault's create: %d creates before, %d after", before, after)
	}

	v.mu.Lock()
	v.deny = true
	v.mu.Unlock()
	if _, err := p.Get(ctx, keys.Ref{Name: "taken"}); err == nil || !strings.Contains(err.Error(), "access denied") || !strings.Contains(err.Error(), "permissions") {
		t.Fatalf("403: %v", err)
	}
	if _, err := New("http://vault.example", Options{Credential: fakeCredential{}}); !errors.Is(err, keys.ErrInvalidRef) {
		t.Fatalf("http vault URL: %v", err)
	}
}
