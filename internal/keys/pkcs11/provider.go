//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThalesGroup/crypto11"
	"github.com/miekg/pkcs11"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/keys/pkcs11/pkcs11uri"
)

// maxChainLength bounds the chain walk over the token's certificates, so a
// token holding a certificate loop cannot keep it going.
const maxChainLength = 8

// Options configures a Provider. The zero value uses the system clock.
type Options struct {
	// Now returns the time certificates are issued at; nil means time.Now.
	Now func() time.Time
}

// Provider is a keys.Provider over one PKCS#11 token. It holds a logged-in
// session until Close.
type Provider struct {
	cfg    Config
	ctx    *crypto11.Context
	now    func() time.Time
	module string // for messages
	token  string // for messages
	// release gives up the Provider's share of the token login.
	release func()
}

var _ keys.Provider = (*Provider)(nil)

// Open loads the module, finds the token and logs in. It fails with
// ErrModule (no module, or not a PKCS#11 module), keys.ErrNotFound (no such
// token; the message lists the tokens there are) or keys.ErrBadPassphrase (no
// PIN, or a PIN the token refuses).
func Open(ctx context.Context, cfg Config, opts Options) (*Provider, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.ModulePath == "" {
		return nil, fmt.Errorf("%w: no module given; add ?module-path=/path/to/module.so to the URI or set %s", ErrModule, EnvModule)
	}
	if fi, err := os.Stat(cfg.ModulePath); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrModule, cfg.ModulePath, errors.Unwrap(err))
	} else if fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is a directory, not a module", ErrModule, cfg.ModulePath)
	}
	token, err := describeToken(cfg)
	if err != nil {
		return nil, err
	}
	if err := probe(cfg, token); err != nil {
		return nil, err
	}
	if cfg.PIN == "" {
		return nil, fmt.Errorf("%w: no PIN for PKCS#11 token %s; set %s, %s, or add pin-source to the URI", keys.ErrBadPassphrase, token, EnvPIN, EnvPINFile)
	}
	// PKCS#11 logins belong to the process, not the session: once one
	// Provider has logged in to a token, the token accepts any PIN from
	// the next, so compare it with the PIN that logged in.
	release, err := holdLogin(cfg, token)
	if err != nil {
		return nil, err
	}
	c11 := &crypto11.Config{
		Path:        cfg.ModulePath,
		TokenLabel:  cfg.TokenLabel,
		TokenSerial: cfg.TokenSerial,
		Pin:         cfg.PIN,
		// One signing at a time is all the CLI and the plugin need; a small
		// pool keeps from opening hundreds of sessions on tokens that
		// count them.
		MaxSessions: 4,
	}
	if cfg.SlotID != nil {
		n := int(*cfg.SlotID)
		c11.SlotNumber = &n
	}
	c, err := crypto11.Configure(c11)
	if err != nil {
		release()
		var p11 pkcs11.Error
		if errors.As(err, &p11) {
			switch p11 {
			case pkcs11.CKR_PIN_INCORRECT, pkcs11.CKR_PIN_INVALID, pkcs11.CKR_PIN_LEN_RANGE:
				return nil, fmt.Errorf("%w: PKCS#11 token %s refused the PIN (%v)", keys.ErrBadPassphrase, token, p11)
			case pkcs11.CKR_PIN_LOCKED:
				return nil, fmt.Errorf("%w: the user PIN of PKCS#11 token %s is locked; the security officer must reset it", keys.ErrBadPassphrase, token)
			}
		}
		return nil, fmt.Errorf("opening PKCS#11 token %s in %s: %w", token, cfg.ModulePath, err)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Provider{cfg: cfg, ctx: c, now: now, module: cfg.ModulePath, token: token, release: release}, nil
}

// logins records, per module and token, the PIN that logged in (hashed) and
// how many Providers use that login.
var (
	loginsMu sync.Mutex
	logins   = map[string]*login{}
)

type login struct {
	pin  [sha256.Size]byte
	refs int
}

// holdLogin registers a Provider's login, refusing a PIN that differs from
// the one the token is already logged in with in this process. release
// undoes it once.
func holdLogin(cfg Config, token string) (release func(), err error) {
	key := cfg.ModulePath + "\x00" + token
	sum := sha256.Sum256([]byte(cfg.PIN))
	loginsMu.Lock()
	defer loginsMu.Unlock()
	l := logins[key]
	if l == nil {
		l = &login{pin: sum}
		logins[key] = l
	} else if subtle.ConstantTimeCompare(l.pin[:], sum[:]) != 1 {
		return nil, fmt.Errorf("%w: PKCS#11 token %s refused the PIN (it differs from the PIN this process logged in with)", keys.ErrBadPassphrase, token)
	}
	l.refs++
	var once sync.Once
	return func() {
		once.Do(func() {
			loginsMu.Lock()
			defer loginsMu.Unlock()
			if l.refs--; l.refs == 0 {
				delete(logins, key)
			}
		})
	}, nil
}

// describeToken names the token selector for messages and checks there is
// exactly one.
func describeToken(cfg Config) (string, error) {
	var sel []string
	if cfg.TokenLabel != "" {
		sel = append(sel, fmt.Sprintf("%q", cfg.TokenLabel))
	}
	if cfg.TokenSerial != "" {
		sel = append(sel, "serial "+cfg.TokenSerial)
	}
	if cfg.SlotID != nil {
		sel = append(sel, "in slot "+strconv.FormatUint(uint64(*cfg.SlotID), 10))
	}
	switch len(sel) {
	case 0:
		return "", fmt.Errorf("%w: no PKCS#11 token given; add token=LABEL to the URI or set %s", keys.ErrInvalidRef, EnvToken)
	case 1:
		return sel[0], nil
	default:
		return "", fmt.Errorf("%w: give one of token, serial and slot-id, not %s", keys.ErrInvalidRef, strings.Join(sel, " and "))
	}
}

// probe loads the module on its own and looks for the token, so the two most
// common mistakes (a wrong module path, a wrong token label) get an error
// that says which, and lists the tokens there are.
func probe(cfg Config, token string) error {
	m := pkcs11.New(cfg.ModulePath)
	if m == nil {
		return fmt.Errorf("%w: %s cannot be loaded as a PKCS#11 module", ErrModule, cfg.ModulePath)
	}
	defer m.Destroy()
	// The module may be initialized already by another Provider in this
	// process; then it must not be finalized under it.
	switch err := m.Initialize(); {
	case errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)):
	case err != nil:
		return fmt.Errorf("%w: %s does not initialize: %v", ErrModule, cfg.ModulePath, err)
	default:
		defer m.Finalize()
	}
	slots, err := m.GetSlotList(true)
	if err != nil {
		return fmt.Errorf("%w: %s cannot list its slots: %v", ErrModule, cfg.ModulePath, err)
	}
	var labels []string
	for _, s := range slots {
		ti, err := m.GetTokenInfo(s)
		if err != nil || ti.Flags&pkcs11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		label, serial := strings.TrimRight(ti.Label, " \x00"), strings.TrimRight(ti.SerialNumber, " \x00")
		if (cfg.TokenLabel == "" || label == cfg.TokenLabel) &&
			(cfg.TokenSerial == "" || serial == cfg.TokenSerial) &&
			(cfg.SlotID == nil || *cfg.SlotID == s) {
			return nil
		}
		labels = append(labels, fmt.Sprintf("%q (serial %s, slot %d)", label, serial, s))
	}
	have := "it has no initialized token"
	if len(labels) > 0 {
		have = "its tokens are " + strings.Join(labels, ", ")
	}
	return fmt.Errorf("%w: no PKCS#11 token %s in %s; %s", keys.ErrNotFound, token, cfg.ModulePath, have)
}

// Close logs out and unloads the module. Signers from the provider stop
// working.
func (p *Provider) Close() error {
	err := p.ctx.Close()
	p.release()
	return err
}

// String names the token and module, without the PIN.
func (p *Provider) String() string {
	return fmt.Sprintf("PKCS#11 token %s in %s", p.token, p.module)
}

// Create generates version 1 of key name on the token (CKA_LABEL name,
// CKA_ID "name/1", private key sensitive and not extractable), issues its
// certificate from the policy, and stores the certificate on the token as a
// CKO_CERTIFICATE with the same label and ID. A policy whose
// issuerParameters.name names a CA key on the same token gets its
// certificate from that key. If the certificate cannot be stored, the new key
// pair is destroyed again.
func (p *Provider) Create(ctx context.Context, name string, pol *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	pol, err := certpolicy.Copy(pol)
	if err != nil {
		return keys.Info{}, err
	}
	objs, err := p.objects(name)
	if err != nil {
		return keys.Info{}, err
	}
	if len(objs) > 0 {
		return keys.Info{}, fmt.Errorf("%w: key %q on %s; use another name", keys.ErrExists, name, p)
	}
	return p.makeVersion(ctx, name, 1, pol)
}

// Rotate makes the next version of a key on the token. The token keeps no
// policy, so p is required.
func (p *Provider) Rotate(ctx context.Context, name string, pol *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	if pol == nil {
		return keys.Info{}, fmt.Errorf("%w: a PKCS#11 token keeps no certificate policy; give one (--policy)", keys.ErrUnsupported)
	}
	pol, err := certpolicy.Copy(pol)
	if err != nil {
		return keys.Info{}, err
	}
	objs, err := p.objects(name)
	if err != nil {
		return keys.Info{}, err
	}
	if len(objs) == 0 {
		return keys.Info{}, fmt.Errorf("%w: no key %q on %s; create it first", keys.ErrNotFound, name, p)
	}
	var next uint64 = 1
	for _, o := range objs {
		if n, ok := pkcs11uri.HallmarkVersion(name, o.id); ok && n >= next {
			next = n + 1
		}
	}
	return p.makeVersion(ctx, name, next, pol)
}

func (p *Provider) makeVersion(ctx context.Context, name string, version uint64, pol *certpolicy.Policy) (keys.Info, error) {
	now := p.now()
	var issuer *keys.Key
	if !pol.SelfSigned() {
		if pol.Issuer.Name == name {
			return keys.Info{}, fmt.Errorf("%w: issuerParameters.name: key %q cannot issue its own certificate", keys.ErrInvalidPolicy, name)
		}
		iss, err := p.Signer(ctx, keys.Ref{Name: pol.Issuer.Name})
		if err != nil {
			return keys.Info{}, fmt.Errorf("issuerParameters.name: CA key %q: %w", pol.Issuer.Name, err)
		}
		issuer = iss
	}
	if err := certpolicy.CheckIssuer(pol, issuer.Issuer(), now); err != nil {
		return keys.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return keys.Info{}, err
	}
	id := pkcs11uri.ObjectID(name, version)
	signer, err := p.generate(pol, id, []byte(name))
	if err != nil {
		return keys.Info{}, err
	}
	chain, err := certpolicy.IssueCertificate(pol, signer, issuer.Issuer(), now)
	if err == nil {
		err = p.ctx.ImportCertificateWithLabel(id, []byte(name), chain[0])
	}
	if err != nil {
		if derr := signer.Delete(); derr != nil {
			err = errors.Join(err, fmt.Errorf("and the new key pair %s could not be removed: %v", id, derr))
		}
		return keys.Info{}, fmt.Errorf("making key %s/%d on %s: %w", name, version, p, err)
	}
	spec, _ := certpolicy.KeySpec(signer.Public())
	return keys.Info{
		Name: name, Version: strconv.FormatUint(version, 10), Created: chain[0].NotBefore.UTC(), KeyType: spec,
		Chain: chain, Exportable: false, Policy: pol,
	}, nil
}

// generate makes the key pair the policy asks for, on the token.
func (p *Provider) generate(pol *certpolicy.Policy, id, label []byte) (crypto11.Signer, error) {
	if pol.Key.Exportable {
		// Recorded for the vault's sake elsewhere; a token key is never
		// extractable, and saying otherwise would be a lie.
		return nil, fmt.Errorf("%w: keyProperties.exportable is true; keys on a PKCS#11 token are made non-extractable", keys.ErrUnsupported)
	}
	pub, err := crypto11.NewAttributeSetWithIDAndLabel(id, label)
	if err != nil {
		return nil, err
	}
	priv := pub.Copy()
	for _, a := range []struct {
		set *crypto11.AttributeSet
		t   crypto11.AttributeType
		v   any
	}{
		{&priv, crypto11.CkaPrivate, true},
		{&priv, crypto11.CkaSensitive, true},
		{&priv, crypto11.CkaExtractable, false},
		{&priv, crypto11.CkaSign, true},
		{&priv, crypto11.CkaDecrypt, false},
		{&pub, crypto11.CkaVerify, true},
		{&pub, crypto11.CkaEncrypt, false},
	} {
		if err := a.set.Set(a.t, a.v); err != nil {
			return nil, err
		}
	}
	var s crypto11.Signer
	switch kt := pol.Key.KeyType; kt {
	case certpolicy.KeyTypeRSA, certpolicy.KeyTypeRSAHSM:
		s, err = p.ctx.GenerateRSAKeyPairWithAttributes(pub, priv, pol.Key.KeySize)
	case certpolicy.KeyTypeEC, certpolicy.KeyTypeECHSM:
		var curve elliptic.Curve
		switch pol.Key.Curve {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		case "P-521":
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("%w: curve %q", keys.ErrUnsupported, pol.Key.Curve)
		}
		s, err = p.ctx.GenerateECDSAKeyPairWithAttributes(pub, priv, curve)
	default:
		return nil, fmt.Errorf("%w: key type %q", keys.ErrUnsupported, kt)
	}
	if err != nil {
		return nil, fmt.Errorf("generating a %s key on %s: %w", pol.KeySpec(), p, err)
	}
	return s, nil
}

// object is one private key on the token with hallmark's label.
type object struct {
	id     []byte
	signer crypto11.Signer
}

// objects lists the private keys labelled name.
func (p *Provider) objects(name string) ([]object, error) {
	signers, err := p.ctx.FindKeyPairs(nil, []byte(name))
	if err != nil {
		return nil, fmt.Errorf("searching %s for key %q: %w", p, name, err)
	}
	objs := make([]object, 0, len(signers))
	for _, s := range signers {
		a, err := p.ctx.GetAttribute(s, crypto11.CkaId)
		if err != nil {
			return nil, fmt.Errorf("reading the CKA_ID of key %q on %s: %w", name, p, err)
		}
		objs = append(objs, object{id: slices.Clone(a.Value), signer: s})
	}
	return objs, nil
}

// find returns the key object a reference names: the one whose version
// matches, or the newest hallmark version.
func (p *Provider) find(ref keys.Ref) (object, string, error) {
	if err := keys.ValidateName(ref.Name); err != nil {
		return object{}, "", err
	}
	objs, err := p.objects(ref.Name)
	if err != nil {
		return object{}, "", err
	}
	if len(objs) == 0 {
		return object{}, "", fmt.Errorf("%w: no key labelled %q on %s", keys.ErrNotFound, ref.Name, p)
	}
	var versions []string
	for _, o := range objs {
		versions = append(versions, pkcs11uri.VersionOf(ref.Name, o.id))
	}
	if ref.Version != "" {
		for i, v := range versions {
			if v == ref.Version {
				return objs[i], v, nil
			}
		}
		slices.Sort(versions)
		return object{}, "", fmt.Errorf("%w: key %q on %s has no version %s (versions: %s)", keys.ErrNotFound, ref.Name, p, ref.Version, strings.Join(versions, ", "))
	}
	best, bestN := -1, uint64(0)
	for i, o := range objs {
		if n, ok := pkcs11uri.HallmarkVersion(ref.Name, o.id); ok && n > bestN {
			best, bestN = i, n
		}
	}
	if best < 0 {
		if len(objs) == 1 {
			return objs[0], versions[0], nil
		}
		slices.Sort(versions)
		return object{}, "", fmt.Errorf("%w: %d keys are labelled %q on %s and none was made by hallmark; pick one with ;id= in the URI (versions: %s)",
			keys.ErrInvalidRef, len(objs), ref.Name, p, strings.Join(versions, ", "))
	}
	return objs[best], versions[best], nil
}

// info reads the certificate of a key object and builds its chain.
func (p *Provider) info(name, version string, o object) (keys.Info, error) {
	leaf, err := p.ctx.FindCertificate(o.id, nil, nil)
	if err != nil {
		return keys.Info{}, fmt.Errorf("reading the certificate of key %s/%s on %s: %w", name, version, p, err)
	}
	if leaf == nil {
		return keys.Info{}, fmt.Errorf("%w: key %s/%s on %s has no certificate object with its CKA_ID %q; import one, or make keys with hallmark key create",
			keys.ErrNotFound, name, version, p, o.id)
	}
	pub, ok := o.signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(leaf.PublicKey) {
		return keys.Info{}, fmt.Errorf("%w: the certificate of key %s/%s on %s does not certify its public key", keys.ErrCorrupt, name, version, p)
	}
	chain, err := p.chain(leaf)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s/%s on %s: %w", name, version, p, err)
	}
	spec, err := certpolicy.KeySpec(leaf.PublicKey)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s/%s on %s: %w", name, version, p, err)
	}
	return keys.Info{Name: name, Version: version, Created: leaf.NotBefore.UTC(), KeyType: spec, Chain: chain}, nil
}

// chain completes a leaf's chain from the certificates of the other key
// pairs on the token, where CA keys made by hallmark keep theirs.
func (p *Provider) chain(leaf *x509.Certificate) ([]*x509.Certificate, error) {
	chain := []*x509.Certificate{leaf}
	cur := leaf
	var pool []*x509.Certificate
	for len(chain) < maxChainLength {
		if bytes.Equal(cur.RawIssuer, cur.RawSubject) && cur.CheckSignature(cur.SignatureAlgorithm, cur.RawTBSCertificate, cur.Signature) == nil {
			return chain, nil
		}
		if pool == nil {
			pairs, err := p.ctx.FindAllPairedCertificates()
			if err != nil {
				return nil, fmt.Errorf("reading the token's certificates: %w", err)
			}
			for _, pc := range pairs {
				pool = append(pool, pc.Leaf)
			}
		}
		var next *x509.Certificate
		for _, c := range pool {
			if bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = c
				break
			}
		}
		if next == nil {
			return nil, fmt.Errorf("%w: the issuer of %q is not on the token, so its chain cannot be completed", keys.ErrNotFound, cur.Subject)
		}
		chain = append(chain, next)
		cur = next
	}
	return nil, fmt.Errorf("%w: certificate chain longer than %d", keys.ErrCorrupt, maxChainLength)
}

// List returns every key pair on the token that has a valid hallmark name as
// its label and a certificate, by name then version.
func (p *Provider) List(ctx context.Context) ([]keys.Info, error) {
	signers, err := p.ctx.FindAllKeyPairs()
	if err != nil {
		return nil, fmt.Errorf("listing keys on %s: %w", p, err)
	}
	var infos []keys.Info
	for _, s := range signers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		attrs, err := p.ctx.GetAttributes(s, []crypto11.AttributeType{crypto11.CkaLabel, crypto11.CkaId})
		if err != nil {
			return nil, fmt.Errorf("listing keys on %s: %w", p, err)
		}
		label, id := string(attrs[crypto11.CkaLabel].Value), slices.Clone(attrs[crypto11.CkaId].Value)
		if keys.ValidateName(label) != nil || len(id) == 0 {
			continue
		}
		info, err := p.info(label, pkcs11uri.VersionOf(label, id), object{id: id, signer: s})
		if errors.Is(err, keys.ErrNotFound) {
			continue // a key pair without a certificate cannot sign Notary Project signatures
		}
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	slices.SortFunc(infos, func(a, b keys.Info) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		an, aerr := strconv.ParseUint(a.Version, 10, 64)
		bn, berr := strconv.ParseUint(b.Version, 10, 64)
		if aerr == nil && berr == nil {
			return int(an) - int(bn)
		}
		return strings.Compare(a.Version, b.Version)
	})
	return infos, nil
}

// Get returns one version's public information.
func (p *Provider) Get(ctx context.Context, ref keys.Ref) (keys.Info, error) {
	if err := ctx.Err(); err != nil {
		return keys.Info{}, err
	}
	o, version, err := p.find(ref)
	if err != nil {
		return keys.Info{}, err
	}
	return p.info(ref.Name, version, o)
}

// Certificates returns a version's chain, leaf first, for trust stores.
func (p *Provider) Certificates(ctx context.Context, ref keys.Ref) ([]*x509.Certificate, error) {
	info, err := p.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return info.Chain, nil
}

// Signer returns the key with a crypto.Signer that signs on the token. It
// works until the Provider is closed.
func (p *Provider) Signer(ctx context.Context, ref keys.Ref) (*keys.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o, version, err := p.find(ref)
	if err != nil {
		return nil, err
	}
	info, err := p.info(ref.Name, version, o)
	if err != nil {
		return nil, err
	}
	return &keys.Key{Info: info, Signer: o.signer}, nil
}
