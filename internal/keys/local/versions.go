package local

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hallmark-dev/hallmark/internal/certbundle"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
)

// versions returns a key's versions in ascending order; none if the key
// does not exist.
func (s *Store) versions(name string) ([]uint64, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, keysDir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", name, err)
	}
	var vs []uint64
	for _, e := range entries {
		if v, ok := parseVersion(e.Name()); ok && e.IsDir() {
			vs = append(vs, v)
		}
	}
	slices.Sort(vs)
	return vs, nil
}

// parseVersion accepts the canonical decimal form only ("7", not "07"), so
// each version has exactly one directory name.
func parseVersion(s string) (uint64, bool) {
	if s == "" || s[0] == '0' {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 10, 32)
	return v, err == nil
}

// resolve returns the version a reference names, checking it exists.
func (s *Store) resolve(ref keys.Ref) (string, error) {
	if err := keys.ValidateName(ref.Name); err != nil {
		return "", err
	}
	vs, err := s.versions(ref.Name)
	if err != nil {
		return "", err
	}
	if len(vs) == 0 {
		return "", fmt.Errorf("%w: no key %q in %s", keys.ErrNotFound, ref.Name, s.dir)
	}
	if ref.Version == "" {
		return strconv.FormatUint(vs[len(vs)-1], 10), nil
	}
	v, ok := parseVersion(ref.Version)
	if !ok {
		return "", fmt.Errorf("%w: version %q of key %q: local key versions are the numbers 1, 2, 3 and up", keys.ErrInvalidRef, ref.Version, ref.Name)
	}
	if !slices.Contains(vs, v) {
		list := make([]string, len(vs))
		for i, v := range vs {
			list[i] = strconv.FormatUint(v, 10)
		}
		return "", fmt.Errorf("%w: key %q has no version %s (versions: %s)", keys.ErrNotFound, ref.Name, ref.Version, strings.Join(list, ", "))
	}
	return ref.Version, nil
}

func (s *Store) versionDir(name, version string) string {
	return filepath.Join(s.dir, keysDir, name, version)
}

// rel names a file relative to the store for messages.
func (s *Store) rel(dir, file string) string {
	if r, err := filepath.Rel(s.dir, filepath.Join(dir, file)); err == nil {
		return r
	}
	return filepath.Join(dir, file)
}

// metaFile is the JSON in meta.json.
type metaFile struct {
	Format  string          `json:"format"`
	Name    string          `json:"name"`
	Version string          `json:"version"`
	Created time.Time       `json:"created"`
	Policy  json.RawMessage `json:"policy"`
}

// loadInfo reads a version's public files.
func (s *Store) loadInfo(name, version string) (keys.Info, error) {
	dir := s.versionDir(name, version)
	slot := name + "/" + version
	metaData, err := readCapped(filepath.Join(dir, metaFileName), maxMetaFileSize)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s: %w", slot, err)
	}
	meta, policy, err := parseMeta(metaData, name, version)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s: %w", slot, err)
	}
	certData, err := readCapped(filepath.Join(dir, certFile), maxChainFileSize)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s: %w", slot, err)
	}
	chain, err := parseChain(certData)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s: %s: %w", slot, certFile, err)
	}
	spec, err := certpolicy.KeySpec(chain[0].PublicKey)
	if err != nil {
		return keys.Info{}, fmt.Errorf("key %s: %w", slot, err)
	}
	return keys.Info{
		Name: name, Version: version, Created: meta.Created, KeyType: spec,
		Chain: chain, Exportable: policy.Key.Exportable, Policy: policy,
	}, nil
}

// parseMeta reads meta.json and checks it belongs to the slot it is in.
func parseMeta(data []byte, name, version string) (*metaFile, *certpolicy.Policy, error) {
	var m metaFile
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, fmt.Errorf("%w: %s is not valid: %v", keys.ErrCorrupt, metaFileName, err)
	}
	if dec.More() {
		return nil, nil, fmt.Errorf("%w: %s has data after its JSON object", keys.ErrCorrupt, metaFileName)
	}
	if m.Format != metaFormat {
		return nil, nil, fmt.Errorf("%w: %s format %q; this hallmark reads %q", keys.ErrCorrupt, metaFileName, m.Format, metaFormat)
	}
	if m.Name != name || m.Version != version {
		return nil, nil, fmt.Errorf("%w: %s belongs to %s/%s, not here", keys.ErrCorrupt, metaFileName, m.Name, m.Version)
	}
	p, err := certpolicy.Parse(m.Policy)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", keys.ErrCorrupt, metaFileName, err)
	}
	return &m, p, nil
}

// parseChain reads a stored PEM chain, with the strict rules of every
// certificate bundle (certbundle.ParsePEM).
func parseChain(data []byte) ([]*x509.Certificate, error) {
	chain, err := certbundle.ParsePEM(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", keys.ErrCorrupt, err)
	}
	return chain, nil
}
