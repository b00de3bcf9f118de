package serve

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv"
	"github.com/hallmark-dev/hallmark/internal/keys/local"
	"github.com/hallmark-dev/hallmark/internal/keys/providers"
	"github.com/hallmark-dev/hallmark/internal/oci"
	tpolicy "github.com/hallmark-dev/hallmark/internal/verify/trustpolicy"
	tstore "github.com/hallmark-dev/hallmark/internal/verify/truststore"
)

// maxFileSize caps every file a configuration names: certificates, trust
// policies, docker configs, passwords and tokens. Real ones are a few KiB;
// the cap keeps a wrong path (a log, a disk image) from being read whole.
const maxFileSize = 1 << 20 // 1 MiB

// maxDirFiles caps the files read from one certificate folder.
const maxDirFiles = 1000

// Prepared is what a configuration names, read and built: what a
// generation verifies and reaches registries with.
type Prepared struct {
	TrustPolicy *trustpolicy.Document
	TrustStore  *tstore.Store
	Registry    oci.Options
}

// Prepare validates the configuration, reads the files it names for
// verification and registry access, and builds the trust policy, the trust
// store and the registry options. It also checks that every trust store the
// policy names exists and holds certificates. Every problem is reported at
// once in an *Error.
//
// The TLS files are not read: the server loads and reloads them itself, and
// a configuration reload must not fail because a certificate rotation is
// half-way through. CheckTLS checks them.
func Prepare(ctx context.Context, c *config.Config) (*Prepared, error) {
	return prepare(ctx, c, nil, nil)
}

// prepare is Prepare, telling onSource, if set, what each trust store
// certificate source gave. A Key Vault source whose key is in revocable
// and that the vault no longer holds is revoked rather than a problem (see
// revocableKeys).
func prepare(ctx context.Context, c *config.Config, onSource func(config.TrustSource), revocable map[string]bool) (*Prepared, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var ps problems
	b := &Prepared{}
	var err error
	if b.TrustPolicy, err = TrustPolicy(c); err != nil {
		collect(&ps, err)
	}
	if b.TrustStore, err = trustStore(ctx, c, onSource, revocable); err != nil {
		collect(&ps, err)
	}
	if b.Registry, err = RegistryOptions(c); err != nil {
		collect(&ps, err)
	}
	if b.TrustPolicy != nil && b.TrustStore != nil {
		checkStoresExist(c, &ps, b.TrustPolicy, b.TrustStore)
	}
	if err := ps.err(""); err != nil {
		return nil, err
	}
	return b, nil
}

// CheckTLS checks that the listener's certificate and key load as a pair
// and that the client CA file, if any, holds certificates. It returns an
// *Error, for `hallmark config validate --build`.
func CheckTLS(c *config.Config) error {
	var ps problems
	if _, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile); err != nil {
		// The error may name the files but never holds key material.
		ps.add("tls", fmt.Sprintf("certFile and keyFile do not load as a TLS key pair: %v", err))
	}
	if c.TLS.ClientCAFile != "" {
		data, err := readFile(c.TLS.ClientCAFile)
		if err != nil {
			ps.add("tls.clientCAFile", err.Error())
		} else if _, err := certbundle.ParsePEM(data); err != nil {
			ps.add("tls.clientCAFile", fmt.Sprintf("%s %v", c.TLS.ClientCAFile, err))
		}
	}
	return ps.err("")
}

func checkStoresExist(c *config.Config, ps *problems, doc *trustpolicy.Document, ts *tstore.Store) {
	have := ts.Stores()
	prefix := "trustPolicy.inline"
	if c.TrustPolicy.File != "" {
		prefix = "trustPolicy.file"
	}
	defined := func(id string) bool {
		// A store the configuration defines may be empty only when its
		// vault sources were revoked, disabled or deleted (a source that
		// gives nothing otherwise is a problem of its own): it then fails
		// each verification that needs it.
		return slices.ContainsFunc(c.TrustStores, func(s config.TrustStore) bool { return s.Type+":"+s.Name == id })
	}
	for i, st := range doc.TrustPolicies {
		for j, id := range st.TrustStores {
			if slices.Contains(have, id) || defined(id) {
				continue
			}
			typ, name, _ := strings.Cut(id, ":")
			p := fmt.Sprintf("%s.trustPolicies[%d].trustStores[%d]", prefix, i, j)
			msg := fmt.Sprintf("%q has no certificates: define it in trustStores (name: %s, type: %s)", id, name, typ)
			if c.TrustStoreDir != "" {
				msg += fmt.Sprintf(", or add it to trustStoreDir as x509/%s/%s/", typ, name)
			}
			ps.add(p, msg)
		}
	}
}

// BuildTrustPolicy reads and checks the trust policy: the file, or the inline
// document. Problems in the document carry their path below
// trustPolicy.inline, or the file's name after trustPolicy.file.
//
// Unlike `hallmark verify --trust-policy`, the file may be a symlink: this
// is how Kubernetes mounts a ConfigMap, and whoever can change the link can
// change the configuration file that names it too.
func TrustPolicy(c *config.Config) (*trustpolicy.Document, error) {
	tp := &c.TrustPolicy
	var ps problems
	switch {
	case tp.File != "" && len(tp.Inline) > 0:
		ps.add("trustPolicy", "give file or inline, not both")
	case tp.File != "":
		data, err := readFile(tp.File)
		if err != nil {
			ps.add("trustPolicy.file", err.Error())
			break
		}
		doc, err := tpolicy.Parse(data)
		if err == nil {
			return doc, nil
		}
		var pe *tpolicy.PolicyError
		if !errors.As(err, &pe) {
			ps.add("trustPolicy.file", err.Error())
			break
		}
		for _, p := range pe.Problems {
			ps.add("trustPolicy.file", tp.File+": "+p.String())
		}
	case len(tp.Inline) > 0:
		doc, err := tpolicy.Parse(tp.Inline)
		if err == nil {
			return doc, nil
		}
		addPolicyProblems(&ps, "trustPolicy.inline", err)
	default:
		ps.add("trustPolicy", "required: give file (a trustpolicy.json) or inline (the document itself)")
	}
	return nil, ps.err("")
}

// BuildTrustStore builds the trust store: the stores of trustStoreDir, if
// set, merged with those of trustStores, whose certificates come from
// files, folders, inline PEM and the key store. Every problem is reported
// at once, with the path of the entry that caused it.
func TrustStore(ctx context.Context, c *config.Config) (*tstore.Store, error) {
	return trustStore(ctx, c, nil, nil)
}

// trustStore is TrustStore, telling onSource, if set, what each source
// gave, with prepare's revocable.
func trustStore(ctx context.Context, c *config.Config, onSource func(config.TrustSource), revocable map[string]bool) (*tstore.Store, error) {
	var ps problems
	ts := tstore.New()
	if c.TrustStoreDir != "" {
		loaded, err := tstore.Load(c.TrustStoreDir)
		if err != nil {
			ps.add("trustStoreDir", err.Error())
		} else {
			ts = loaded
		}
	}
	ks := &keyStoreOpener{dir: c.KeyStore.Dir, revocable: revocable}
	for i, store := range c.TrustStores {
		for j, src := range store.Certificates {
			p := fmt.Sprintf("trustStores[%d].certificates[%d]", i, j)
			got, field, err := ks.certificates(ctx, store.Type, src)
			// A source whose every version is disabled in its vault, or
			// whose certificate the vault no longer has, adds nothing:
			// what it trusted is revoked. A store left empty fails each
			// verification that needs it.
			revoked := len(got.certs) == 0 && (len(got.disabled) > 0 || got.missing != nil)
			if err == nil && !revoked {
				if aerr := ts.Add(truststore.Type(store.Type), store.Name, got.certs...); aerr != nil {
					err = errors.New(config.StoreAddMessage(aerr))
				}
			}
			if onSource != nil {
				if err != nil {
					onSource(config.TrustSource{Path: p, Err: err})
				} else {
					onSource(config.TrustSource{Path: p, Certificates: got.certs, Versions: got.versions, Disabled: got.disabled, Missing: got.missing})
				}
			}
			if err != nil {
				ps.add(p+"."+field, err.Error())
			}
		}
	}
	if err := ps.err(""); err != nil {
		return nil, err
	}
	return ts, nil
}

// keyStoreOpener opens the key store on first use, and reads the sources
// that name keys.
type keyStoreOpener struct {
	dir   string
	store *local.Store
	err   error
	// revocable are the Key Vault URLs whose deletion from the vault is a
	// revocation rather than a problem (revocableKeys).
	revocable map[string]bool
}

// revocableKeys are the Key Vault certificate and key URLs that c names:
// with c in force, each was read. If the vault no longer holds one when a
// later build reads it again, its owner deleted it, which revokes it as
// disabling a version does: the source then trusts nothing, where a URL
// not read before (a typo in a new configuration) stays a problem, and
// the configuration in force stays.
func revocableKeys(c *config.Config) map[string]bool {
	if c == nil {
		return nil
	}
	out := map[string]bool{}
	for _, ts := range c.TrustStores {
		for _, src := range ts.Certificates {
			if azurekv.IsURL(src.Key) {
				out[src.Key] = true
			}
		}
	}
	for _, p := range c.Cosign.Policies {
		for _, k := range p.Keys {
			if azurekv.IsURL(k.Key) {
				out[k.Key] = true
			}
		}
	}
	return out
}

func (k *keyStoreOpener) open() (*local.Store, error) {
	if k.store != nil || k.err != nil {
		return k.store, k.err
	}
	switch fi, err := os.Stat(k.dir); {
	case k.dir == "":
		k.err = errors.New("needs keyStore.dir, the key store to read the certificate from")
	case err != nil:
		// Checked first: local.Open would create a missing folder.
		k.err = fmt.Errorf("key store %s: %w", k.dir, err)
	case !fi.IsDir():
		k.err = fmt.Errorf("key store %s is not a folder", k.dir)
	default:
		k.store, k.err = local.Open(k.dir, local.Options{})
	}
	return k.store, k.err
}

// sourceCerts is what one certificate source gave.
type sourceCerts struct {
	certs []*x509.Certificate
	// versions are, for a Key Vault source, the certificate versions
	// trusted; disabled are those left out because the vault has them
	// disabled.
	versions, disabled []string
	// missing says why a revocable Key Vault source gave nothing: the
	// vault no longer has its certificate.
	missing error
}

// certificates reads one source's certificates and names the field that
// gave them.
func (k *keyStoreOpener) certificates(ctx context.Context, typ string, src config.CertificateSource) (sourceCerts, string, error) {
	var (
		got   sourceCerts
		field string
		err   error
	)
	switch {
	case src.File != "":
		got.certs, err = readCertFile(src.File)
		field = "file"
	case src.Dir != "":
		got.certs, err = readCertDir(src.Dir)
		field = "dir"
	case src.PEM != "":
		got.certs, err = certbundle.ParsePEM([]byte(src.PEM))
		field = "pem"
	case src.Key != "":
		got, err = k.keyCertificates(ctx, typ, src)
		field = "key"
	default:
		err = errors.New("give one of file, dir, pem or key")
	}
	return got, field, err
}

func (k *keyStoreOpener) keyCertificates(ctx context.Context, typ string, src config.CertificateSource) (sourceCerts, error) {
	var (
		got    sourceCerts
		chains [][]*x509.Certificate
		err    error
	)
	if azurekv.IsURL(src.Key) {
		// A vault is read with the identity the source names.
		var trusted, disabled []keys.Info
		trusted, disabled, err = vaultVersions(ctx, src)
		if errors.Is(err, keys.ErrNotFound) && k.revocable[src.Key] {
			got.missing = err
			return got, nil
		}
		for _, info := range trusted {
			chains = append(chains, info.Chain)
			got.versions = append(got.versions, info.Version)
		}
		for _, info := range disabled {
			got.disabled = append(got.disabled, info.Version)
		}
	} else {
		chains, err = k.keyChains(ctx, src.Key)
	}
	if err != nil {
		return sourceCerts{}, err
	}
	got.certs = make([]*x509.Certificate, 0, len(chains))
	for _, chain := range chains {
		if a := anchor(typ, chain); a != nil && !slices.ContainsFunc(got.certs, a.Equal) {
			got.certs = append(got.certs, a)
		}
	}
	return got, nil
}

// keyChains reads the certificate chains (leaf first) of the key s names:
// in the key store or on a PKCS#11 token.
func (k *keyStoreOpener) keyChains(ctx context.Context, s string) ([][]*x509.Certificate, error) {
	var chains [][]*x509.Certificate
	if providers.IsRemote(s) {
		// A PKCS#11 token: a reference without a version
		// trusts every version, so a rotation never drops the old one.
		prov, ref, release, err := providers.OpenRemote(ctx, s)
		if err != nil {
			return nil, err
		}
		defer release()
		if chains, err = providers.Chains(ctx, prov, ref); err != nil {
			return nil, err
		}
	} else {
		ref, all, err := config.ParseKeySource(s)
		if err != nil {
			return nil, err
		}
		store, err := k.open()
		if err != nil {
			return nil, err
		}
		if all {
			chains, err = providers.Chains(ctx, store, keys.Ref{Name: ref.Name})
		} else {
			var chain []*x509.Certificate
			chain, err = store.Certificates(ctx, ref)
			chains = [][]*x509.Certificate{chain}
		}
		if err != nil {
			return nil, err
		}
	}
	return chains, nil
}

// anchor picks the certificate of a key's chain (leaf first) that a trust
// store can hold: trust stores take CA certificates or self-signed ones,
// so a signing key issued by a CA is trusted through the CA that issued it,
// the narrowest choice; a tsa store takes only roots.
func anchor(typ string, chain []*x509.Certificate) *x509.Certificate {
	switch {
	case len(chain) == 0:
		return nil
	case typ == config.StoreTypeTSA || len(chain) == 1:
		return chain[len(chain)-1]
	default:
		return chain[1]
	}
}

// readFile reads a file the configuration names, following symlinks (see
// BuildTrustPolicy), under maxFileSize.
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a folder, not a file", path)
	}
	data, err := capped.Read(f, maxFileSize)
	if errors.Is(err, capped.ErrTooLarge) {
		return nil, fmt.Errorf("%s is over %d KiB, far above what it should hold, so it is probably the wrong file", path, maxFileSize>>10)
	}
	return data, err
}

func readCertFile(path string) ([]*x509.Certificate, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := certbundle.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return certs, nil
}

// readCertDir reads the certificates of every file in dir. Names starting
// with "." are skipped: Kubernetes volumes keep their ..data and
// ..TIMESTAMP entries there, and editors their swap files.
func readCertDir(dir string) ([]*x509.Certificate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	files := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path) // follows the links a Kubernetes volume is made of
		if err != nil {
			return nil, err
		}
		if fi.IsDir() {
			continue
		}
		if files++; files > maxDirFiles {
			return nil, fmt.Errorf("%s holds more than %d files", dir, maxDirFiles)
		}
		more, err := readCertFile(path)
		if err != nil {
			return nil, err
		}
		certs = append(certs, more...)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no certificate files", dir)
	}
	return certs, nil
}
