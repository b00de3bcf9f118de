package truststore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/notaryproject/notation-go/verifier/truststore"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/certbundle"
)

// Size caps for trust store input. Trust stores are written by operators,
// but they are also mounted from ConfigMaps and Secrets that many people can
// edit; the caps keep a wrong or hostile file from exhausting memory.
const (
	// maxCertsPerStore caps one named store. Authenticity compares every
	// certificate of a signature's chain with every trusted one, so the
	// store size is also a per-verification cost.
	maxCertsPerStore = 1000
	// maxFilesPerStore caps the entries read from one store directory.
	maxFilesPerStore = 1000
	// maxStores caps the named stores of one type.
	maxStores = 1000
)

// storeNameRe is the grammar of a store name, as in notation-go: the name
// becomes a directory under x509/TYPE/.
var storeNameRe = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// storeKey names one named store, e.g. ca:prod.
type storeKey struct {
	typ  truststore.Type
	name string
}

func (k storeKey) String() string { return string(k.typ) + ":" + k.name }

// Store is an in-memory Notary Project trust store: certificates by
// store type (ca, signingAuthority, tsa) and store name. It implements
// notation-go's truststore.X509TrustStore. Build it from a directory with
// Load, or from certificates with New and Add. It is safe
// for concurrent use.
type Store struct {
	// root is the directory the store was loaded from (the one holding
	// x509/), or "" for a store built in memory. It only shapes messages.
	root string

	mu     sync.RWMutex
	stores map[storeKey][]*x509.Certificate
}

var _ truststore.X509TrustStore = (*Store)(nil)

// New returns an empty trust store to fill with Add.
func New() *Store {
	return &Store{stores: map[storeKey][]*x509.Certificate{}}
}

// Add adds certificates to the named store of the given type, creating it.
// Every certificate must be a CA certificate or self-signed, and a tsa store
// takes only self-signed root CAs, as notation-go requires. A certificate
// already in the store is not added twice.
func (s *Store) Add(typ truststore.Type, name string, certs ...*x509.Certificate) error {
	if !slices.Contains(truststore.Types, typ) {
		return fmt.Errorf("%w: unknown trust store type %q; use ca, signingAuthority or tsa", ErrInvalid, typ)
	}
	if !storeNameRe.MatchString(name) {
		return fmt.Errorf("%w: trust store name %q is invalid; names use only letters, digits, '_', '.' and '-'", ErrInvalid, name)
	}
	if len(certs) == 0 {
		return fmt.Errorf("%w: no certificates given for trust store %s:%s", ErrInvalid, typ, name)
	}
	for _, c := range certs {
		if c == nil {
			return fmt.Errorf("%w: nil certificate given for trust store %s:%s", ErrInvalid, typ, name)
		}
		if msg := checkTrustedCert(typ, c); msg != "" {
			return fmt.Errorf("%w: %s:%s: %s", ErrInvalid, typ, name, msg)
		}
	}
	key := storeKey{typ, name}
	s.mu.Lock()
	defer s.mu.Unlock()
	merged := s.stores[key]
	for _, c := range certs {
		if !containsCert(merged, c) {
			merged = append(merged, c)
		}
	}
	if len(merged) > maxCertsPerStore {
		return fmt.Errorf("%w: trust store %s:%s would hold %d certificates; the limit is %d", ErrInvalid, typ, name, len(merged), maxCertsPerStore)
	}
	s.stores[key] = merged
	return nil
}

// GetCertificates returns the certificates of a named store. A store with no
// certificates is an error matching ErrNotFound.
func (s *Store) GetCertificates(ctx context.Context, typ truststore.Type, name string) ([]*x509.Certificate, error) {
	s.mu.RLock()
	certs := s.stores[storeKey{typ, name}]
	s.mu.RUnlock()
	if len(certs) == 0 {
		return nil, fmt.Errorf("trust store %s:%s has no certificates; %s: %w", typ, name, s.AddHint(typ, name), ErrNotFound)
	}
	// A copy, so that notation-go or a caller can never change the store.
	return append([]*x509.Certificate(nil), certs...), nil
}

// Stores lists the named stores that hold certificates, as "type:name",
// sorted.
func (s *Store) Stores() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.stores))
	for k := range s.stores {
		out = append(out, k.String())
	}
	sort.Strings(out)
	return out
}

// Fingerprint is a SHA-256 over every store's name and certificates, in a
// fixed order: two stores with the same fingerprint trust the same signers.
// A server compares fingerprints to tell whether rebuilt trust material
// changed, and reloads only when it did.
func (s *Store) Fingerprint() string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	keys := make([]storeKey, 0, len(s.stores))
	for k := range s.stores {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	h := sha256.New()
	for _, k := range keys {
		fmt.Fprintf(h, "%s\n", k)
		raws := make([]string, 0, len(s.stores[k]))
		for _, c := range s.stores[k] {
			raws = append(raws, string(c.Raw))
		}
		sort.Strings(raws)
		for _, r := range raws {
			fmt.Fprintf(h, "%d:%s", len(r), r)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// AddHint says where certificates for a store go; the engine puts it in
// the reason for a missing store.
func (s *Store) AddHint(typ truststore.Type, name string) string {
	if s.root == "" {
		return fmt.Sprintf("add the signers' root or CA certificate to trust store %s:%s", typ, name)
	}
	return fmt.Sprintf("add them under %s%c", filepath.Join(s.root, "x509", string(typ), name), filepath.Separator)
}

// Load reads a trust store in notation's layout,
// DIR/x509/{ca,signingAuthority,tsa}/NAME/*, where each file holds one or
// more certificates in PEM or DER. DIR may also be a notation configuration
// directory that holds truststore/x509/.
//
// Sub-directories of a named store are ignored. Symlinks are followed only
// while they stay inside the trust store: Kubernetes ConfigMap and Secret
// volumes are built of links into a hidden folder of the same volume
// (x509 -> ..data/x509), and those work; a link that leads anywhere else is
// refused, since trust decisions must rest on the files an operator placed
// in the store, not on whatever a link points to later. Every problem is
// reported at once in a *Error. Entries whose names begin with
// ".." are a Kubernetes volume's own bookkeeping (..data and its dated
// folders) and are skipped wherever they appear.
func Load(dir string) (*Store, error) {
	root, err := findTrustStoreRoot(dir)
	if err != nil {
		return nil, err
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, fmt.Errorf("trust store %s: %w", dir, err)
	}
	s := New()
	s.root = root
	var problems []Problem
	add := func(path, format string, args ...any) {
		problems = append(problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
	}
	x509Dir := filepath.Join(root, "x509")
	x509Real, fi, msg := resolveInside(realRoot, x509Dir)
	if msg == "" && !fi.IsDir() {
		msg = "is not a directory"
	}
	if msg != "" {
		return nil, &Error{Source: dir, Problems: []Problem{{Path: x509Dir, Message: msg}}}
	}
	typeEntries, err := readDirCapped(x509Real, len(truststore.Types)+maxStores)
	if err != nil {
		return nil, &Error{Source: dir, Problems: []Problem{{Path: x509Dir, Message: err.Error()}}}
	}
	for _, te := range typeEntries {
		if strings.HasPrefix(te.Name(), "..") {
			continue // a Kubernetes volume's own folders and links (..data)
		}
		typePath := filepath.Join(x509Dir, te.Name())
		typeReal, fi, msg := resolveInside(realRoot, typePath)
		typ := truststore.Type(te.Name())
		if !slices.Contains(truststore.Types, typ) {
			if msg == "" && fi.IsDir() {
				add(typePath, "unknown trust store type %q; notation uses ca, signingAuthority and tsa", te.Name())
			}
			continue
		}
		if msg == "" && !fi.IsDir() {
			msg = "is not a directory"
		}
		if msg != "" {
			add(typePath, "%s", msg)
			continue
		}
		storeEntries, err := readDirCapped(typeReal, maxStores)
		if err != nil {
			add(typePath, "%v", err)
			continue
		}
		for _, se := range storeEntries {
			if strings.HasPrefix(se.Name(), "..") {
				continue
			}
			storePath := filepath.Join(typePath, se.Name())
			storeReal, fi, msg := resolveInside(realRoot, storePath)
			if msg != "" {
				add(storePath, "%s", msg)
				continue
			}
			if !fi.IsDir() {
				continue // a stray file beside the named stores is not a store
			}
			if !storeNameRe.MatchString(se.Name()) {
				add(storePath, "store name %q is invalid, so no trust policy can name it; use only letters, digits, '_', '.' and '-'", se.Name())
				continue
			}
			certs, storeProblems := loadNamedStore(typ, realRoot, storePath, storeReal)
			problems = append(problems, storeProblems...)
			if len(storeProblems) == 0 && len(certs) > 0 {
				if err := s.Add(typ, se.Name(), certs...); err != nil {
					add(storePath, "%v", err)
				}
			}
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Source: dir, Problems: problems}
	}
	return s, nil
}

// findTrustStoreRoot accepts the trust store directory itself (holding
// x509/) or a notation configuration directory (holding truststore/x509/).
func findTrustStoreRoot(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("trust store %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", &Error{Source: dir, Problems: []Problem{{Message: "is not a directory; give the directory that holds x509/ca/NAME/"}}}
	}
	for _, cand := range []string{dir, filepath.Join(dir, "truststore")} {
		if _, err := os.Lstat(filepath.Join(cand, "x509")); err == nil {
			return cand, nil
		}
	}
	return "", &Error{Source: dir, Problems: []Problem{{Message: "holds neither x509/ nor truststore/x509/; a trust store is laid out as DIR/x509/ca/NAME/root.pem"}}}
}

// resolveInside follows the links in path, which lies in the trust store
// whose real root is realRoot, and returns the real path and what it is.
// msg says why path cannot be used: it is a dangling link, cannot be read,
// or leads out of the trust store.
func resolveInside(realRoot, path string) (real string, fi fs.FileInfo, msg string) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", nil, "is a symlink to nothing (or vanished while being read)"
		}
		return "", nil, err.Error()
	}
	if real != realRoot && !strings.HasPrefix(real, realRoot+string(filepath.Separator)) {
		return "", nil, fmt.Sprintf("is a symlink to %s, outside the trust store; links may only stay inside it (as in Kubernetes volumes), so copy the certificate or folder here instead", real)
	}
	fi, err = os.Stat(real)
	if err != nil {
		return "", nil, err.Error()
	}
	return real, fi, ""
}

// readDirCapped lists a directory, refusing one with more than max entries.
func readDirCapped(path string, max int) ([]os.DirEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(max + 1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if len(entries) > max {
		return nil, fmt.Errorf("has more than %d entries; the limit guards against a wrong directory", max)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	return entries, nil
}

// loadNamedStore reads every certificate file of one named store, found at
// storePath and really at storeReal.
func loadNamedStore(typ truststore.Type, realRoot, storePath, storeReal string) ([]*x509.Certificate, []Problem) {
	var problems []Problem
	entries, err := readDirCapped(storeReal, maxFilesPerStore)
	if err != nil {
		return nil, []Problem{{Path: storePath, Message: err.Error()}}
	}
	var certs []*x509.Certificate
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		p := filepath.Join(storePath, e.Name())
		real, fi, msg := resolveInside(realRoot, p)
		switch {
		case msg != "":
			problems = append(problems, Problem{Path: p, Message: msg})
			continue
		case fi.IsDir():
			continue // notation's layout has no sub-directories; ignore them
		case !fi.Mode().IsRegular():
			problems = append(problems, Problem{Path: p, Message: "is not a regular file"})
			continue
		}
		data, err := capped.ReadFile(real, certbundle.MaxFileSize)
		if errors.Is(err, capped.ErrTooLarge) {
			problems = append(problems, Problem{Path: p, Message: fmt.Sprintf("is larger than %d bytes; a certificate file is far smaller, so this is probably the wrong file", certbundle.MaxFileSize)})
			continue
		}
		if err != nil {
			problems = append(problems, Problem{Path: p, Message: err.Error()})
			continue
		}
		fileCerts, err := certbundle.Parse(data)
		if err != nil {
			problems = append(problems, Problem{Path: p, Message: err.Error()})
			continue
		}
		for _, c := range fileCerts {
			if msg := checkTrustedCert(typ, c); msg != "" {
				problems = append(problems, Problem{Path: p, Message: msg})
			}
		}
		certs = append(certs, fileCerts...)
	}
	return certs, problems
}

// checkTrustedCert applies notation-go's rules for trust store
// certificates and returns why c breaks them, or "".
func checkTrustedCert(typ truststore.Type, c *x509.Certificate) string {
	if err := truststore.ValidateCertificates([]*x509.Certificate{c}); err != nil {
		return fmt.Sprintf("certificate %s is neither a CA certificate nor self-signed; add the root or issuing CA certificate instead of a leaf", c.Subject)
	}
	if typ == truststore.TypeTSA {
		if !bytes.Equal(c.RawSubject, c.RawIssuer) || c.CheckSignatureFrom(c) != nil {
			return fmt.Sprintf("certificate %s is not a self-signed root CA; tsa stores hold only the timestamping authority's root certificate", c.Subject)
		}
	}
	return ""
}

func containsCert(list []*x509.Certificate, c *x509.Certificate) bool {
	for _, x := range list {
		if x.Equal(c) {
			return true
		}
	}
	return false
}
