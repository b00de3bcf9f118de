// Package local is hallmark's embedded key store: software keys kept in a
// directory, encrypted at rest, for the quickstart, tests and small setups.
// Production keys belong in an HSM or a key vault behind the same
// keys.Provider contract.
//
// # Layout
//
//	DIR/                    0700
//	  store.key             0600  32 random bytes; only when no passphrase is used
//	  keys/                 0700
//	    NAME/               0700  one key; NAME matches [a-zA-Z0-9][a-zA-Z0-9._-]{0,126}
//	      1/                0700  version 1
//	        cert.pem        0600  certificate chain, PEM, leaf first, ending in the root
//	        key.enc         0600  the private key, encrypted (JSON, see below)
//	        meta.json       0600  name, version, creation time, certificate policy
//	      2/                      versions are 1, 2, 3 ... and NAME alone means the newest
//	      .tmp-*/                 a version being written (or left by a crash); ignored
//
// A version never changes once written. It is written whole into a
// temporary directory, synced, and renamed into place, so readers see all of
// it or nothing, and of two processes making the same version only one
// succeeds. Key names are case-sensitive; on a case-insensitive file system
// "a" and "A" are the same key.
//
// # Encryption
//
// key.enc holds the PKCS #8 private key sealed with AES-256-GCM under a
// random 96-bit nonce, with "hallmark-local-key/v1", the key's name and its
// version as additional data, so a key file copied into another slot fails
// to decrypt instead of becoming that key. The AES key comes from HKDF-SHA256
// over a master secret, which is either
//
//   - scrypt(passphrase, 16-byte random salt, N=2^17, r=8, p=1), when
//     Options.Passphrase is set; or
//   - the 32 random bytes of DIR/store.key, created on first use with a
//     warning, when it is not. Such keys are only as safe as that file.
//
// The KDF name, salt and parameters are stored in each key file, so they can
// change later (key files written with the former N=2^15 still open, and the
// next version a rotation writes uses the current parameters), together with a check value (also from HKDF) that tells a
// wrong passphrase (keys.ErrBadPassphrase) from damaged or moved data
// (keys.ErrCorrupt). Derived keys are cached for the life of a Store, so
// scrypt runs once per salt rather than on every Signer call. Listing keys
// and reading certificates need no passphrase.
package local

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// File names in the layout.
const (
	keysDir      = "keys"
	certFile     = "cert.pem"
	keyFileName  = "key.enc"
	metaFileName = "meta.json"
	storeKeyFile = "store.key"
	storeKeySize = 32
	metaFormat   = "hallmark-local-meta/v1"
)

// Caps on what the store reads back. They are far above what it writes, and
// keep a damaged or planted file from being read whole into memory.
const (
	// maxChainFileSize: a chain here is a handful of certificates of a few
	// KiB each.
	maxChainFileSize = 256 << 10
	// maxMetaFileSize: the policy (at most certpolicy.MaxSize) plus a few
	// small fields.
	maxMetaFileSize = certpolicy.MaxSize + 64<<10
)

// maxCommitAttempts bounds how often Rotate retries when other writers take
// the version it was about to write.
const maxCommitAttempts = 32

// Options configures a Store. The zero value is usable: no passphrase
// (DIR/store.key protects the keys), the system clock, and no warnings.
type Options struct {
	// Passphrase protects new private keys and unlocks keys made with one.
	// Empty means none: new keys are then encrypted with DIR/store.key,
	// which is created on first use. The CLI reads it from
	// HALLMARK_PASSPHRASE or --passphrase-file. The Store keeps a copy.
	Passphrase []byte
	// Now returns the time used for certificates and creation times; nil
	// means time.Now.
	Now func() time.Time
	// Warn receives messages a person should see, such as that store.key
	// was just created or that DIR is readable by others. It may be called
	// from any goroutine. Nil drops them; the store itself never logs.
	Warn func(msg string)
}

// Store is a key store in a directory. It implements keys.Provider and is
// safe for concurrent use, also by several processes on one directory.
type Store struct {
	dir        string
	passphrase []byte
	now        func() time.Time
	warn       func(string)

	mu      sync.Mutex          // guards the fields below
	derived map[string]sealKeys // by kdfSpec.cacheKey
	write   *kdfSpec            // the derivation new key files use
	pending []string            // warnings to deliver once s.mu is released
}

var _ keys.Provider = (*Store)(nil)

// Open opens the store in dir, creating the directory (0700) if it does not
// exist. It reads nothing else and needs no passphrase until a private key
// is used or made.
func Open(dir string, opts Options) (*Store, error) {
	if dir == "" {
		return nil, errors.New("local key store: no directory given")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local key store: %w", err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(abs, 0o700); err != nil {
			return nil, fmt.Errorf("local key store: %w", err)
		}
	case err != nil:
		return nil, fmt.Errorf("local key store: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("local key store: %s is not a directory", abs)
	case fi.Mode().Perm()&0o077 != 0 && opts.Warn != nil:
		opts.Warn(fmt.Sprintf("key store %s can be read by other users (mode %#o); run chmod 700 %s", abs, fi.Mode().Perm(), abs))
	}
	s := &Store{
		dir:        abs,
		passphrase: slices.Clone(opts.Passphrase),
		now:        opts.Now,
		warn:       opts.Warn,
		derived:    map[string]sealKeys{},
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.warn == nil {
		s.warn = func(string) {}
	}
	return s, nil
}

// Dir returns the store's directory as an absolute path.
func (s *Store) Dir() string { return s.dir }

// Create makes version 1 of a new key from the policy (nil means
// certpolicy.Default()). A policy whose issuerParameters.name names another
// key in this store gets its certificate from the newest version of that
// key, which must be a CA. Create fails with keys.ErrExists when the name is
// taken, keys.ErrInvalidPolicy, keys.ErrUnsupported for -HSM key types,
// keys.ErrNotFound or keys.ErrNotCA for a bad issuer, and
// keys.ErrBadPassphrase when the issuer's key cannot be unlocked.
func (s *Store) Create(ctx context.Context, name string, p *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	p, err := certpolicy.Copy(p)
	if err != nil {
		return keys.Info{}, err
	}
	if vs, err := s.versions(name); err != nil {
		return keys.Info{}, err
	} else if len(vs) > 0 {
		return keys.Info{}, fmt.Errorf("%w: key %q (newest version %d); use rotate to make a new version", keys.ErrExists, name, vs[len(vs)-1])
	}
	return s.makeVersion(ctx, name, p, true)
}

// Rotate makes the next version of an existing key, with a new key pair and
// certificate, from the policy of its newest version, or from p when it is
// not nil. Versions made at the same time by other writers are skipped over.
func (s *Store) Rotate(ctx context.Context, name string, p *certpolicy.Policy) (keys.Info, error) {
	if err := keys.ValidateName(name); err != nil {
		return keys.Info{}, err
	}
	vs, err := s.versions(name)
	if err != nil {
		return keys.Info{}, err
	}
	if len(vs) == 0 {
		return keys.Info{}, fmt.Errorf("%w: key %q; create it first", keys.ErrNotFound, name)
	}
	if p == nil {
		newest, err := s.loadInfo(name, strconv.FormatUint(vs[len(vs)-1], 10))
		if err != nil {
			return keys.Info{}, err
		}
		p = newest.Policy
	}
	if p, err = certpolicy.Copy(p); err != nil {
		return keys.Info{}, err
	}
	return s.makeVersion(ctx, name, p, false)
}

// List returns every version of every key, by name, then by version. A
// version whose files are damaged fails the listing with keys.ErrCorrupt
// naming it, rather than being left out silently.
func (s *Store) List(ctx context.Context) ([]keys.Info, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, keysDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	var infos []keys.Info
	for _, e := range entries { // sorted by name
		if !e.IsDir() || keys.ValidateName(e.Name()) != nil {
			continue
		}
		vs, err := s.versions(e.Name())
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			info, err := s.loadInfo(e.Name(), strconv.FormatUint(v, 10))
			if err != nil {
				return nil, err
			}
			infos = append(infos, info)
		}
	}
	return infos, nil
}

// Get returns one version's public information.
func (s *Store) Get(ctx context.Context, ref keys.Ref) (keys.Info, error) {
	if err := ctx.Err(); err != nil {
		return keys.Info{}, err
	}
	version, err := s.resolve(ref)
	if err != nil {
		return keys.Info{}, err
	}
	return s.loadInfo(ref.Name, version)
}

// Certificates returns a version's certificate chain, leaf first, for trust
// stores.
func (s *Store) Certificates(ctx context.Context, ref keys.Ref) ([]*x509.Certificate, error) {
	info, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	return info.Chain, nil
}

// Signer decrypts a version's private key. The returned Signer is an
// in-memory *rsa.PrivateKey or *ecdsa.PrivateKey; it is safe for concurrent
// use and is not tied to the Store.
func (s *Store) Signer(ctx context.Context, ref keys.Ref) (*keys.Key, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	version, err := s.resolve(ref)
	if err != nil {
		return nil, err
	}
	info, err := s.loadInfo(ref.Name, version)
	if err != nil {
		return nil, err
	}
	slot := ref.Name + "/" + version
	data, err := readCapped(filepath.Join(s.versionDir(ref.Name, version), keyFileName), maxKeyFileSize)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", slot, err)
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", slot, err)
	}
	sk, err := s.keysFor(kf.KDF)
	if err != nil {
		return nil, fmt.Errorf("key %s: %w", slot, err)
	}
	if !checkMatches(sk, kf) {
		return nil, s.wrongSecret(slot, kf.KDF)
	}
	pkcs8, err := unseal(sk, kf, ref.Name, version)
	if err != nil {
		return nil, fmt.Errorf("%w: %s does not decrypt for key %s although the passphrase is right: "+
			"it was damaged or copied from another key or version", keys.ErrCorrupt, s.rel(s.versionDir(ref.Name, version), keyFileName), slot)
	}
	priv, err := x509.ParsePKCS8PrivateKey(pkcs8)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s: %v", keys.ErrCorrupt, slot, err)
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%w: key %s holds a %T", keys.ErrCorrupt, slot, priv)
	}
	pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(info.Chain[0].PublicKey) {
		return nil, fmt.Errorf("%w: the private key of %s does not match its certificate in %s", keys.ErrCorrupt, slot, certFile)
	}
	return &keys.Key{Info: info, Signer: signer}, nil
}

// wrongSecret explains why a key file's check value did not match.
func (s *Store) wrongSecret(slot string, spec kdfSpec) error {
	if spec.Name == kdfStoreKey {
		return fmt.Errorf("%w: key %s was encrypted with a different %s than the one in %s; restore the store.key it was created with",
			keys.ErrBadPassphrase, slot, storeKeyFile, s.dir)
	}
	return fmt.Errorf("%w: the passphrase does not unlock key %s; give the passphrase it was created with "+
		"(HALLMARK_PASSPHRASE or --passphrase-file)", keys.ErrBadPassphrase, slot)
}

// makeVersion generates a key and certificate and commits them as version
// 1 (create) or as the next free version.
func (s *Store) makeVersion(ctx context.Context, name string, p *certpolicy.Policy, create bool) (keys.Info, error) {
	now := s.now()
	issuer, err := s.issuerFor(ctx, name, p)
	if err != nil {
		return keys.Info{}, err
	}
	if err := certpolicy.CheckIssuer(p, issuer.Issuer(), now); err != nil {
		return keys.Info{}, err
	}
	signer, err := certpolicy.GenerateKey(p)
	if err != nil {
		return keys.Info{}, err
	}
	if err := ctx.Err(); err != nil {
		return keys.Info{}, err
	}
	chain, err := certpolicy.IssueCertificate(p, signer, issuer.Issuer(), now)
	if err != nil {
		return keys.Info{}, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(signer)
	if err != nil {
		return keys.Info{}, fmt.Errorf("encoding private key: %w", err)
	}
	policyJSON, err := json.Marshal(p)
	if err != nil {
		return keys.Info{}, fmt.Errorf("encoding policy: %w", err)
	}
	if len(policyJSON) > certpolicy.MaxSize {
		// Stored larger, it could not be read back.
		return keys.Info{}, fmt.Errorf("%w: policy is larger than %d bytes once stored", keys.ErrInvalidPolicy, certpolicy.MaxSize)
	}
	var certPEM []byte
	for _, c := range chain {
		certPEM = append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	sk, spec, err := s.writeKeys()
	if err != nil {
		return keys.Info{}, err
	}

	if err := ensureDir(filepath.Join(s.dir, keysDir)); err != nil {
		return keys.Info{}, fmt.Errorf("creating key store: %w", err)
	}
	nameDir := filepath.Join(s.dir, keysDir, name)
	if err := ensureDir(nameDir); err != nil {
		return keys.Info{}, fmt.Errorf("creating key %s: %w", name, err)
	}
	removeStaleTemps(nameDir)

	for attempt := 0; attempt < maxCommitAttempts; attempt++ {
		if err := ctx.Err(); err != nil {
			return keys.Info{}, err
		}
		version := "1"
		if !create {
			vs, err := s.versions(name)
			if err != nil {
				return keys.Info{}, err
			}
			version = strconv.FormatUint(vs[len(vs)-1]+1, 10)
		}
		// The key file is sealed per attempt: its ciphertext is bound to
		// the version it is written as.
		keyJSON, err := seal(sk, spec, pkcs8, name, version)
		if err != nil {
			return keys.Info{}, fmt.Errorf("encrypting private key: %w", err)
		}
		metaJSON, err := json.MarshalIndent(metaFile{
			Format: metaFormat, Name: name, Version: version, Created: now.UTC(), Policy: policyJSON,
		}, "", "  ")
		if err != nil {
			return keys.Info{}, err
		}
		err = commitVersion(nameDir, version, []namedFile{
			{certFile, certPEM}, {keyFileName, keyJSON}, {metaFileName, metaJSON},
		})
		switch {
		case errors.Is(err, errVersionTaken) && create:
			return keys.Info{}, fmt.Errorf("%w: key %q was created by someone else at the same time", keys.ErrExists, name)
		case errors.Is(err, errVersionTaken):
			continue
		case err != nil:
			return keys.Info{}, fmt.Errorf("writing key %s/%s: %w", name, version, err)
		}
		keyType, _ := certpolicy.KeySpec(signer.Public()) // GenerateKey made a valid key
		return keys.Info{
			Name: name, Version: version, Created: now.UTC(), KeyType: keyType,
			Chain: chain, Exportable: p.Key.Exportable, Policy: p,
		}, nil
	}
	return keys.Info{}, fmt.Errorf("writing key %s: other writers kept taking the next version; try again", name)
}

// issuerFor returns the newest version of the CA key a policy names, or nil
// for a self-signed policy.
func (s *Store) issuerFor(ctx context.Context, name string, p *certpolicy.Policy) (*keys.Key, error) {
	if p.SelfSigned() {
		return nil, nil
	}
	if p.Issuer.Name == name {
		return nil, fmt.Errorf("%w: issuerParameters.name: key %q cannot issue its own certificate; use %q or another CA key",
			keys.ErrInvalidPolicy, name, certpolicy.IssuerSelf)
	}
	issuer, err := s.Signer(ctx, keys.Ref{Name: p.Issuer.Name})
	if err != nil {
		return nil, fmt.Errorf("issuerParameters.name: CA key %q: %w", p.Issuer.Name, err)
	}
	return issuer, nil
}
