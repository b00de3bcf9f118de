// Package azurekv is the key provider for Azure Key Vault (and Managed HSM):
// certificates are created in the vault from hallmark's certificate policy,
// which is the vault's own policy JSON, and every signature is made by the
// vault's key with the sign operation. The private key never leaves the vault.
//
// A key is a vault certificate: its name is the certificate's name, and its
// versions are the vault's versions (32 hex characters; the name alone means
// the current version). The certificate's key (kid) signs.
//
// The vault is reached through the official Azure SDK for Go (azcertificates,
// azkeys; credentials from azidentity in the CLI). The tests run against a
// fake vault that implements the documented REST API (see vault_test.go); no
// live vault was used.
package azurekv

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azcertificates"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// Options configures a Provider.
type Options struct {
	// Credential authenticates to the vault; required. The CLI uses
	// azidentity.NewDefaultAzureCredential.
	Credential azcore.TokenCredential
	// ClientOptions are passed to the SDK clients (transport, retries);
	// nil means the SDK's defaults.
	ClientOptions *azcore.ClientOptions
	// DisableChallengeResourceVerification lets the vault's authentication
	// challenge name a resource outside the vault's domain; only for tests
	// and private endpoints with custom names.
	DisableChallengeResourceVerification bool
	// PollInterval is how often Create and Rotate poll the vault's
	// certificate operation; 0 means 2 seconds.
	PollInterval time.Duration
}

// Provider is a keys.Provider over one vault.
type Provider struct {
	vault string
	certs *azcertificates.Client
	keys  *azkeys.Client
	poll  time.Duration
}

var _ keys.Provider = (*Provider)(nil)

// New returns a Provider for the vault at vaultURL
// (https://NAME.vault.azure.net). It makes no request.
func New(vaultURL string, opts Options) (*Provider, error) {
	if !strings.HasPrefix(vaultURL, "https://") {
		return nil, fmt.Errorf("%w: vault URL %q must start with https://", keys.ErrInvalidRef, vaultURL)
	}
	if opts.Credential == nil {
		return nil, errors.New("azure key vault: no credential")
	}
	co := azcore.ClientOptions{}
	if opts.ClientOptions != nil {
		co = *opts.ClientOptions
	}
	certs, err := azcertificates.NewClient(vaultURL, opts.Credential, &azcertificates.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: opts.DisableChallengeResourceVerification})
	if err != nil {
		return nil, fmt.Errorf("azure key vault %s: %w", vaultURL, err)
	}
	kc, err := azkeys.NewClient(vaultURL, opts.Credential, &azkeys.ClientOptions{ClientOptions: co, DisableChallengeResourceVerification: opts.DisableChallengeResourceVerification})
	if err != nil {
		return nil, fmt.Errorf("azure key vault %s: %w", vaultURL, err)
	}
	poll := opts.PollInterval
	if poll == 0 {
		poll = 2 * time.Second
	}
	return &Provider{vault: strings.TrimSuffix(vaultURL, "/"), certs: certs, keys: kc, poll: poll}, nil
}

// String names the vault.
func (p *Provider) String() string { return "Azure Key Vault " + p.vault }

// Create creates certificate name in the vault from the policy, which must
// be self-signed (the vault's CA issuers are not supported yet) and not
// exportable, waits for the vault to finish, and returns version 1's
// information (the vault's version ID).
func (p *Provider) Create(ctx context.Context, name string, pol *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	if _, err := p.certs.GetCertificate(ctx, name, "", nil); err == nil {
		return keys.Info{}, fmt.Errorf("%w: certificate %q in %s; use rotate to make a new version", keys.ErrExists, name, p)
	} else if !isNotFound(err) {
		return keys.Info{}, p.wrap(name, err)
	}
	return p.create(ctx, name, pol, true)
}

// Rotate creates a new version of the certificate, with the vault's stored
// policy, or with pol when it is not nil.
func (p *Provider) Rotate(ctx context.Context, name string, pol *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	if _, err := p.certs.GetCertificate(ctx, name, "", nil); err != nil {
		return keys.Info{}, p.wrap(name, err)
	}
	return p.create(ctx, name, pol, pol != nil)
}

func (p *Provider) create(ctx context.Context, name string, pol *certpolicy.Policy, withPolicy bool) (keys.Info, error) {
	var params azcertificates.CreateCertificateParameters
	if withPolicy {
		var err error
		if pol, err = certpolicy.Copy(pol); err != nil {
			return keys.Info{}, err
		}
		if !pol.SelfSigned() {
			return keys.Info{}, fmt.Errorf("%w: issuerParameters.name %q: only self-signed certificates are made in Azure Key Vault by hallmark", keys.ErrUnsupported, pol.Issuer.Name)
		}
		if pol.IsCA() {
			return keys.Info{}, fmt.Errorf("%w: basicConstraints is hallmark's extension; Azure Key Vault cannot make CA certificates", keys.ErrUnsupported)
		}
		if pol.Key.Exportable {
			return keys.Info{}, fmt.Errorf("%w: keyProperties.exportable is true; the key must stay in the vault", keys.ErrUnsupported)
		}
		params.CertificatePolicy = toVault(pol)
	}
	if _, err := p.certs.CreateCertificate(ctx, name, params, nil); err != nil {
		return keys.Info{}, p.wrap(name, err)
	}
	for {
		op, err := p.certs.GetCertificateOperation(ctx, name, nil)
		if err != nil {
			return keys.Info{}, p.wrap(name, err)
		}
		status := ""
		if op.Status != nil {
			status = *op.Status
		}
		switch status {
		case "completed":
			return p.Get(ctx, keys.Ref{Name: name})
		case "inProgress":
		default:
			detail := status
			if op.Error != nil {
				detail += ": " + op.Error.Error()
			} else if op.StatusDetails != nil {
				detail += ": " + *op.StatusDetails
			}
			return keys.Info{}, fmt.Errorf("creating certificate %q in %s: the vault's operation ended %s", name, p, detail)
		}
		select {
		case <-ctx.Done():
			return keys.Info{}, ctx.Err()
		case <-time.After(p.poll):
		}
	}
}

// List returns every version of every certificate in the vault, by name,
// then by creation time.
func (p *Provider) List(ctx context.Context) ([]keys.Info, error) {
	var names []string
	pager := p.certs.NewListCertificatePropertiesPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, p.wrap("", err)
		}
		for _, c := range page.Value {
			if c.ID != nil && keys.ValidateName(c.ID.Name()) == nil {
				names = append(names, c.ID.Name())
			}
		}
	}
	slices.Sort(names)
	var infos []keys.Info
	for _, name := range names {
		vs, err := p.Versions(ctx, name)
		if err != nil {
			return nil, err
		}
		infos = append(infos, vs...)
	}
	return infos, nil
}

// Versions returns every version of certificate name, oldest first,
// reading that certificate only: a trust store naming one certificate of
// a vault that holds many need not read them all at each refresh.
func (p *Provider) Versions(ctx context.Context, name string) ([]keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return nil, err
	}
	vs, err := p.versions(ctx, name)
	if err != nil {
		return nil, err
	}
	infos := make([]keys.Info, 0, len(vs))
	for _, v := range vs {
		info, err := p.Get(ctx, keys.Ref{Name: name, Version: v})
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// versions lists a certificate's versions, oldest first.
func (p *Provider) versions(ctx context.Context, name string) ([]string, error) {
	type version struct {
		id      string
		created time.Time
	}
	var vs []version
	pager := p.certs.NewListCertificatePropertiesVersionsPager(name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, p.wrap(name, err)
		}
		for _, c := range page.Value {
			if c.ID == nil {
				continue
			}
			v := version{id: c.ID.Version()}
			if c.Attributes != nil && c.Attributes.Created != nil {
				v.created = *c.Attributes.Created
			}
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b version) int { return a.created.Compare(b.created) })
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v.id
	}
	return out, nil
}

// Get returns one version's certificate. The vault returns only the leaf;
// hallmark makes self-signed certificates there, so that is the chain.
func (p *Provider) Get(ctx context.Context, ref keys.Ref) (keys.Info, error) {
	info, _, err := p.get(ctx, ref)
	return info, err
}

func (p *Provider) get(ctx context.Context, ref keys.Ref) (keys.Info, *azcertificates.ID, error) {
	if err := keys.ValidateName(ref.Name); err != nil {
		return keys.Info{}, nil, err
	}
	resp, err := p.certs.GetCertificate(ctx, ref.Name, ref.Version, nil)
	if err != nil {
		return keys.Info{}, nil, p.wrap(ref.Name, err)
	}
	return p.parse(ref, resp)
}

// parse reads the certificate the vault answered with for ref.
func (p *Provider) parse(ref keys.Ref, resp azcertificates.GetCertificateResponse) (keys.Info, *azcertificates.ID, error) {
	if len(resp.CER) == 0 || resp.ID == nil || resp.KID == nil {
		return keys.Info{}, nil, fmt.Errorf("%w: certificate %q in %s has no certificate or key yet", keys.ErrNotFound, ref.Name, p)
	}
	leaf, err := x509.ParseCertificate(resp.CER)
	if err != nil {
		return keys.Info{}, nil, fmt.Errorf("%w: certificate %q in %s: %v", keys.ErrCorrupt, ref.Name, p, err)
	}
	spec, err := certpolicy.KeySpec(leaf.PublicKey)
	if err != nil {
		return keys.Info{}, nil, fmt.Errorf("certificate %q in %s: %w", ref.Name, p, err)
	}
	info := keys.Info{Name: ref.Name, Version: resp.ID.Version(), Created: leaf.NotBefore.UTC(), KeyType: spec, Chain: []*x509.Certificate{leaf}}
	if resp.Policy != nil {
		info.Policy = fromVault(resp.Policy)
	}
	if resp.Attributes != nil && resp.Attributes.Created != nil {
		info.Created = resp.Attributes.Created.UTC()
	}
	if resp.Attributes != nil && resp.Attributes.Enabled != nil {
		info.Disabled = !*resp.Attributes.Enabled
	}
	if resp.Policy != nil && resp.Policy.KeyProperties != nil && resp.Policy.KeyProperties.Exportable != nil {
		info.Exportable = *resp.Policy.KeyProperties.Exportable
	}
	return info, resp.KID, nil
}

// ErrDisabled means the vault holds the certificate version asked for, but
// it is disabled there, so it must not be trusted. It is keys.ErrDisabled.
var ErrDisabled = keys.ErrDisabled

// Current returns the certificate's current version: what the vault
// returns for the name without a version (its newest), read anew on each
// call, so that a trust store refreshed with it follows rotations and
// trusts one version only. A current version that is disabled in the
// vault is ErrDisabled, not an older version: the vault's owner switched
// the certificate off. It comes with the Info of that version: its name,
// version and Disabled, nothing to trust.
func (p *Provider) Current(ctx context.Context, name string) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	resp, err := p.certs.GetCertificate(ctx, name, "", nil)
	if err != nil {
		return keys.Info{}, p.wrap(name, err)
	}
	if resp.ID == nil {
		return keys.Info{}, fmt.Errorf("%w: certificate %q in %s has no version yet", keys.ErrNotFound, name, p)
	}
	if resp.Attributes != nil && resp.Attributes.Enabled != nil && !*resp.Attributes.Enabled {
		return keys.Info{Name: name, Version: resp.ID.Version(), Disabled: true},
			fmt.Errorf("%w: certificate %q version %s in %s", ErrDisabled, name, resp.ID.Version(), p)
	}
	info, _, err := p.parse(keys.Ref{Name: name}, resp)
	return info, err
}

// Certificates returns a version's chain, leaf first, for trust stores.
func (p *Provider) Certificates(ctx context.Context, ref keys.Ref) ([]*x509.Certificate, error) {
	info, err := p.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return info.Chain, nil
}

// Signer returns the key with a crypto.Signer that has the vault sign each
// digest with the version's key.
func (p *Provider) Signer(ctx context.Context, ref keys.Ref) (*keys.Key, error) {
	info, kid, err := p.get(ctx, ref)
	if err != nil {
		return nil, err
	}
	kidName, kidVersion := kid.Name(), kid.Version()
	return &keys.Key{Info: info, Signer: &vaultSigner{
		p: p, name: kidName, version: kidVersion, pub: info.Chain[0].PublicKey,
	}}, nil
}

// vaultSigner is a crypto.Signer whose private key is in the vault.
type vaultSigner struct {
	p             *Provider
	name, version string
	pub           crypto.PublicKey
}

func (s *vaultSigner) Public() crypto.PublicKey { return s.pub }

// signTimeout bounds one sign request; crypto.Signer has no context.
const signTimeout = time.Minute

// Sign has the vault sign digest: RSASSA-PSS with salt length equal to the
// hash length (PS256/384/512), PKCS #1 v1.5 (RS256/384/512), or ECDSA
// (ES256/384/512, whose r||s result is returned as ASN.1 DER, as
// crypto.Signer requires).
func (s *vaultSigner) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	alg, err := algorithm(s.pub, opts)
	if err != nil {
		return nil, err
	}
	if len(digest) != opts.HashFunc().Size() {
		return nil, fmt.Errorf("azure key vault: digest is %d bytes, not a %v digest", len(digest), opts.HashFunc())
	}
	ctx, cancel := context.WithTimeout(context.Background(), signTimeout)
	defer cancel()
	resp, err := s.p.keys.Sign(ctx, s.name, s.version, azkeys.SignParameters{Algorithm: &alg, Value: digest}, nil)
	if err != nil {
		return nil, s.p.wrap(s.name, err)
	}
	if resp.KID != nil && resp.KID.Version() != s.version {
		return nil, fmt.Errorf("azure key vault signed with key version %s, not %s", resp.KID.Version(), s.version)
	}
	if _, ok := s.pub.(*ecdsa.PublicKey); ok {
		return rawToDER(resp.Result)
	}
	return resp.Result, nil
}

func algorithm(pub crypto.PublicKey, opts crypto.SignerOpts) (azkeys.SignatureAlgorithm, error) {
	h := opts.HashFunc()
	suffix := map[crypto.Hash]string{crypto.SHA256: "256", crypto.SHA384: "384", crypto.SHA512: "512"}[h]
	if suffix == "" {
		return "", fmt.Errorf("azure key vault: unsupported hash %v", h)
	}
	switch pub.(type) {
	case *rsa.PublicKey:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			if pss.SaltLength != rsa.PSSSaltLengthEqualsHash && pss.SaltLength != h.Size() {
				return "", fmt.Errorf("azure key vault: RSASSA-PSS salt length must equal the hash length")
			}
			return azkeys.SignatureAlgorithm("PS" + suffix), nil
		}
		return azkeys.SignatureAlgorithm("RS" + suffix), nil
	case *ecdsa.PublicKey:
		return azkeys.SignatureAlgorithm("ES" + suffix), nil
	}
	return "", fmt.Errorf("%w: key type %T", keys.ErrUnsupported, pub)
}

// rawToDER turns the vault's ECDSA r||s into an ASN.1 ECDSA-Sig-Value.
func rawToDER(raw []byte) ([]byte, error) {
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("azure key vault returned an ECDSA signature of %d bytes", len(raw))
	}
	n := len(raw) / 2
	return asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:n]), new(big.Int).SetBytes(raw[n:])})
}

// wrap turns the vault's errors about certificate name ("" for the
// vault) into keys errors a person can act on.
func (p *Provider) wrap(name string, err error) error {
	return p.wrapObject("certificate", name, "certificates get/create and keys sign", err)
}

// wrapObject is wrap for an object of a kind ("certificate", "key") whose
// reading needs the permissions named.
func (p *Provider) wrapObject(kind, name, permissions string, err error) error {
	what := p.String()
	if name != "" {
		what = fmt.Sprintf("%s %q in %s", kind, name, p)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch re.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %s (%s)", keys.ErrNotFound, what, re.ErrorCode)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%s: access denied (%d %s); the identity needs %s permissions", what, re.StatusCode, re.ErrorCode, permissions)
		}
		return fmt.Errorf("%s: %d %s", what, re.StatusCode, re.ErrorCode)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}
