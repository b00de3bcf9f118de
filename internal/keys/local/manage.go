package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// Protection says what a version's private key is encrypted under.
type Protection string

const (
	// ProtectedByPassphrase: the key file's key comes from the passphrase;
	// a copy of the store is useless without it.
	ProtectedByPassphrase Protection = "passphrase"
	// ProtectedByStoreKey: the key file's key is DIR/store.key; anyone who
	// can read the store folder can sign.
	ProtectedByStoreKey Protection = "store-key"
)

// Protection reads what the version ref names is encrypted under. It needs
// no passphrase.
func (s *Store) Protection(ctx context.Context, ref keys.Ref) (Protection, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	version, err := s.resolve(ref)
	if err != nil {
		return "", err
	}
	data, err := readCapped(filepath.Join(s.versionDir(ref.Name, version), keyFileName), maxKeyFileSize)
	if err != nil {
		return "", fmt.Errorf("key %s/%s: %w", ref.Name, version, err)
	}
	kf, err := parseKeyFile(data)
	if err != nil {
		return "", fmt.Errorf("key %s/%s: %w", ref.Name, version, err)
	}
	if kf.KDF.Name == kdfStoreKey {
		return ProtectedByStoreKey, nil
	}
	return ProtectedByPassphrase, nil
}

// Delete removes every version of the key name. The key's folder is first
// renamed to a temporary name that readers ignore, so a crash leaves either
// the whole key or none of it, never a key with some versions gone.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := keys.ValidateName(name); err != nil {
		return err
	}
	dir := filepath.Join(s.dir, keysDir, name)
	if _, err := os.Stat(dir); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: no key %q in %s", keys.ErrNotFound, name, s.dir)
		}
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.dir, keysDir), ".deleting-")
	if err != nil {
		return err
	}
	target := filepath.Join(tmp, name)
	if err := os.Rename(dir, target); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("deleting key %s: %w", name, err)
	}
	return os.RemoveAll(tmp)
}
