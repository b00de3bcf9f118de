package local

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"

	"golang.org/x/crypto/scrypt"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

// Key file (key.enc) format. A key file describes how its key was derived,
// so the KDF parameters can change later without breaking old files.
const (
	keyFileFormat = "hallmark-local-key/v1"
	cipherName    = "AES-256-GCM"

	kdfScrypt   = "scrypt"    // the key comes from the passphrase
	kdfStoreKey = "store-key" // the key is DIR/store.key

	saltSize  = 16
	checkSize = 32
)

// newScrypt holds the scrypt parameters for new key files: N=2^17, r=8, p=1,
// the minimum OWASP's Password Storage Cheat Sheet gives for scrypt. A key
// file can be copied and attacked offline, so it takes the cost of a stored
// password hash, not RFC 7914's interactive N=2^14 (hallmark wrote N=2^15
// before; such files still open, see kdfSpec). It costs 128 MiB and a few
// hundred milliseconds, paid once per Store, not per signature, because
// derived keys are cached. A variable only so tests can make it cheaper.
var newScrypt = kdfSpec{Name: kdfScrypt, N: 1 << 17, R: 8, P: 1}

// Limits on the scrypt parameters a key file may ask for. A key file is data
// on disk; without limits a damaged or planted file could make every
// signing command allocate gigabytes or spin for minutes.
const (
	maxScryptMemory = 256 << 20 // bytes: 128·N·r, twice the default
	maxScryptWork   = 1 << 22   // N·r·p, 4 times the default
)

// maxKeyFileSize caps key.enc. An RSA-4096 key is 2.4 KiB of PKCS #8, about
// 3.5 KiB once encoded; anything far larger is not a key file.
const maxKeyFileSize = 64 << 10

// keyFile is the JSON in key.enc.
type keyFile struct {
	Format string  `json:"format"`
	KDF    kdfSpec `json:"kdf"`
	// Check lets a wrong passphrase be told apart from damaged data: it is
	// derived from the passphrase alone, while the ciphertext also depends
	// on the key's slot (see additionalData).
	Check      []byte `json:"check"`
	Cipher     string `json:"cipher"`
	Nonce      []byte `json:"nonce"`
	Ciphertext []byte `json:"ciphertext"`
}

// kdfSpec says how a key file's encryption key was derived.
type kdfSpec struct {
	Name string `json:"name"`
	Salt []byte `json:"salt,omitempty"`
	N    int    `json:"n,omitempty"`
	R    int    `json:"r,omitempty"`
	P    int    `json:"p,omitempty"`
}

// cacheKey identifies the derived keys for a spec.
func (k kdfSpec) cacheKey() string {
	return k.Name + "/" + strconv.Itoa(k.N) + "/" + strconv.Itoa(k.R) + "/" + strconv.Itoa(k.P) + "/" + base64.StdEncoding.EncodeToString(k.Salt)
}

// check validates the parameters of a spec read from disk.
func (k kdfSpec) check() error {
	switch k.Name {
	case kdfStoreKey:
		if k.Salt != nil || k.N != 0 || k.R != 0 || k.P != 0 {
			return fmt.Errorf("store-key derivation takes no parameters")
		}
		return nil
	case kdfScrypt:
	default:
		return fmt.Errorf("unknown key derivation %q", k.Name)
	}
	switch {
	case len(k.Salt) < saltSize || len(k.Salt) > 64:
		return fmt.Errorf("scrypt salt of %d bytes", len(k.Salt))
	case k.N < 2 || k.N > 1<<24 || bits.OnesCount(uint(k.N)) != 1:
		return fmt.Errorf("scrypt N=%d is not a power of two up to 2^24", k.N)
	case k.R < 1 || k.R > 256 || k.P < 1 || k.P > 256:
		return fmt.Errorf("scrypt r=%d, p=%d out of range", k.R, k.P)
	}
	// The bounds above keep these products far from overflowing.
	mem := 128 * uint64(k.N) * uint64(k.R)
	work := uint64(k.N) * uint64(k.R) * uint64(k.P)
	if mem > maxScryptMemory || work > maxScryptWork {
		return fmt.Errorf("scrypt parameters N=%d, r=%d, p=%d exceed the limits of this store", k.N, k.R, k.P)
	}
	return nil
}

// sealKeys are the keys derived from a passphrase or store key.
type sealKeys struct {
	enc   []byte // AES-256 key
	check []byte // stored in key files to recognise the right passphrase
}

// deriveSealKeys expands a master secret (the scrypt output or the store
// key) into independent encryption and check keys, so the check value
// stored in clear says nothing about the encryption key.
func deriveSealKeys(master []byte) (sealKeys, error) {
	enc, err := hkdf.Key(sha256.New, master, nil, "hallmark local store: key encryption v1", 32)
	if err != nil {
		return sealKeys{}, err
	}
	check, err := hkdf.Key(sha256.New, master, nil, "hallmark local store: passphrase check v1", checkSize)
	if err != nil {
		return sealKeys{}, err
	}
	return sealKeys{enc: enc, check: check}, nil
}

// scryptMaster runs scrypt for a spec that passed check.
func scryptMaster(passphrase []byte, k kdfSpec) ([]byte, error) {
	return scrypt.Key(passphrase, k.Salt, k.N, k.R, k.P, 32)
}

// additionalData binds a ciphertext to its key's slot: a key file copied to
// another name or version fails to decrypt instead of becoming that key.
// Names and versions cannot contain NUL, so the encoding is unambiguous.
func additionalData(name, version string) []byte {
	return []byte(keyFileFormat + "\x00" + name + "\x00" + version)
}

// seal encrypts a PKCS #8 private key for the slot name/version.
func seal(sk sealKeys, spec kdfSpec, pkcs8 []byte, name, version string) ([]byte, error) {
	aead, err := newGCM(sk.enc)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return json.MarshalIndent(keyFile{
		Format:     keyFileFormat,
		KDF:        spec,
		Check:      sk.check,
		Cipher:     cipherName,
		Nonce:      nonce,
		Ciphertext: aead.Seal(nil, nonce, pkcs8, additionalData(name, version)),
	}, "", "  ")
}

// errSlot means the ciphertext does not open: the file was damaged or moved.
var errSlot = errors.New("does not decrypt for this slot")

// unseal decrypts a key file that parseKeyFile accepted with keys whose check
// value matched.
func unseal(sk sealKeys, kf *keyFile, name, version string) ([]byte, error) {
	aead, err := newGCM(sk.enc)
	if err != nil {
		return nil, err
	}
	pkcs8, err := aead.Open(nil, kf.Nonce, kf.Ciphertext, additionalData(name, version))
	if err != nil {
		return nil, errSlot
	}
	return pkcs8, nil
}

// checkMatches reports whether the derived keys are the ones the file was
// written with.
func checkMatches(sk sealKeys, kf *keyFile) bool {
	return subtle.ConstantTimeCompare(sk.check, kf.Check) == 1
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

// parseKeyFile reads key.enc strictly: a file that is not exactly what this
// version writes is reported as damaged rather than half-understood.
func parseKeyFile(data []byte) (*keyFile, error) {
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("%w: key file is larger than %d bytes", keys.ErrCorrupt, maxKeyFileSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var kf keyFile
	if err := dec.Decode(&kf); err != nil {
		return nil, fmt.Errorf("%w: key file is not valid: %v", keys.ErrCorrupt, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: key file has data after its JSON object", keys.ErrCorrupt)
	}
	switch {
	case kf.Format != keyFileFormat:
		return nil, fmt.Errorf("%w: key file format %q; this hallmark reads %q", keys.ErrCorrupt, kf.Format, keyFileFormat)
	case kf.Cipher != cipherName:
		return nil, fmt.Errorf("%w: key file cipher %q; this hallmark reads %s", keys.ErrCorrupt, kf.Cipher, cipherName)
	case len(kf.Nonce) != 12:
		return nil, fmt.Errorf("%w: key file nonce of %d bytes", keys.ErrCorrupt, len(kf.Nonce))
	case len(kf.Check) != checkSize:
		return nil, fmt.Errorf("%w: key file check value of %d bytes", keys.ErrCorrupt, len(kf.Check))
	case len(kf.Ciphertext) < 16:
		return nil, fmt.Errorf("%w: key file ciphertext is too short", keys.ErrCorrupt)
	}
	if err := kf.KDF.check(); err != nil {
		return nil, fmt.Errorf("%w: key file: %v", keys.ErrCorrupt, err)
	}
	return &kf, nil
}
