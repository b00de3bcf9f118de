package local

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// writeKeys returns the keys and derivation for new key files, deriving
// them on first use: scrypt with a fresh salt when there is a passphrase,
// else the store key (created if missing). One salt per Store keeps scrypt
// to once per Store however many keys it writes.
func (s *Store) writeKeys() (sealKeys, kdfSpec, error) {
	s.mu.Lock()
	sk, spec, err := s.writeKeysLocked()
	warns := s.takeWarnings()
	s.mu.Unlock()
	s.flush(warns)
	return sk, spec, err
}

func (s *Store) writeKeysLocked() (sealKeys, kdfSpec, error) {
	if s.write != nil {
		sk, err := s.deriveLocked(*s.write, true)
		return sk, *s.write, err
	}
	spec := kdfSpec{Name: kdfStoreKey}
	if len(s.passphrase) > 0 {
		spec = newScrypt
		spec.Salt = make([]byte, saltSize)
		if _, err := rand.Read(spec.Salt); err != nil {
			return sealKeys{}, kdfSpec{}, err
		}
	}
	sk, err := s.deriveLocked(spec, true)
	if err != nil {
		return sealKeys{}, kdfSpec{}, err
	}
	s.write = &spec
	return sk, spec, nil
}

// keysFor returns the keys for a key file's derivation.
func (s *Store) keysFor(spec kdfSpec) (sealKeys, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deriveLocked(spec, false)
}

// takeWarnings returns and clears the warnings queued under s.mu. They are
// delivered after the lock is released, so a Warn func that calls back into
// the Store cannot deadlock.
func (s *Store) takeWarnings() []string {
	w := s.pending
	s.pending = nil
	return w
}

func (s *Store) flush(warns []string) {
	for _, w := range warns {
		s.warn(w)
	}
}

// deriveLocked derives (or returns cached) keys for a spec. The lock is held
// through scrypt on purpose: concurrent callers wait for one derivation
// instead of each paying for their own.
func (s *Store) deriveLocked(spec kdfSpec, createStoreKey bool) (sealKeys, error) {
	if sk, ok := s.derived[spec.cacheKey()]; ok {
		return sk, nil
	}
	var master []byte
	switch spec.Name {
	case kdfScrypt:
		if len(s.passphrase) == 0 {
			return sealKeys{}, fmt.Errorf("%w: this key is protected by a passphrase and none was given; "+
				"set HALLMARK_PASSPHRASE or use --passphrase-file", keys.ErrBadPassphrase)
		}
		m, err := scryptMaster(s.passphrase, spec)
		if err != nil {
			return sealKeys{}, fmt.Errorf("deriving key from passphrase: %w", err)
		}
		master = m
	case kdfStoreKey:
		m, err := s.storeKey(createStoreKey)
		if err != nil {
			return sealKeys{}, err
		}
		master = m
	default:
		return sealKeys{}, fmt.Errorf("%w: unknown key derivation %q", keys.ErrCorrupt, spec.Name)
	}
	sk, err := deriveSealKeys(master)
	if err != nil {
		return sealKeys{}, err
	}
	s.derived[spec.cacheKey()] = sk
	return sk, nil
}

// storeKey reads DIR/store.key, creating it when asked and missing (and
// queueing a warning, since s.mu is held). The
// new file is written under a temporary name and linked into place, which
// fails if another process linked its own first; that one is then used.
func (s *Store) storeKey(create bool) ([]byte, error) {
	path := filepath.Join(s.dir, storeKeyFile)
	key, err := readCapped(path, storeKeySize)
	switch {
	case err == nil && len(key) == storeKeySize:
		return key, nil
	case err == nil:
		return nil, fmt.Errorf("%w: %s holds %d bytes, not %d", keys.ErrCorrupt, path, len(key), storeKeySize)
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("reading store key: %w", err)
	case !create:
		return nil, fmt.Errorf("%w: %s is missing; it holds the key that encrypts keys made without a passphrase", keys.ErrBadPassphrase, path)
	}

	key = make([]byte, storeKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(s.dir, tempPrefix+storeKeyFile+"-*") // mode 0600
	if err != nil {
		return nil, fmt.Errorf("creating store key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, werr := tmp.Write(key)
	serr := tmp.Sync()
	if err := errors.Join(werr, serr, tmp.Close()); err != nil {
		return nil, fmt.Errorf("creating store key: %w", err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return s.storeKey(false)
	} else if err != nil {
		return nil, fmt.Errorf("creating store key: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		return nil, fmt.Errorf("creating store key: %w", err)
	}
	s.pending = append(s.pending, fmt.Sprintf("no passphrase was given, so private keys are encrypted with a random key created in %s; "+
		"anyone who can read that file can use them. Set HALLMARK_PASSPHRASE or use --passphrase-file to protect new keys with a passphrase.", path))
	return key, nil
}
