// Package pkcs11uri parses RFC 7512 PKCS#11 URIs, the references hallmark
// takes for keys on a token. It is the grammar alone, apart from the
// provider (keys/pkcs11), so that checking a configuration or a flag that
// names a token needs neither cgo nor crypto11.
package pkcs11uri

import (
	"fmt"
	"net/url"

	"strconv"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/keys"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// Scheme starts every PKCS#11 URI. Callers use it to tell a URI from a key
// name: key names cannot contain ':'.
const Scheme = "pkcs11:"

// HasScheme reports whether s starts with Scheme, in any case: whether s is
// meant as a PKCS#11 URI rather than a key name.
func HasScheme(s string) bool {
	return len(s) >= len(Scheme) && strings.EqualFold(s[:len(Scheme)], Scheme)
}

// MaxURILength caps a PKCS#11 URI. Real ones are a few hundred bytes; the
// cap keeps a pasted file from being parsed and echoed in errors.
const MaxURILength = 4 << 10

// maxPINFileSize caps a PIN file: PINs are short, and a larger file is the
// wrong one.
const maxPINFileSize = 1 << 10

// Environment variables that configure the provider where a URI leaves a
// field out (see ConfigFromEnv).
const (
	EnvModule  = "HALLMARK_PKCS11_MODULE"
	EnvToken   = "HALLMARK_PKCS11_TOKEN"
	EnvPIN     = "HALLMARK_PKCS11_PIN"
	EnvPINFile = "HALLMARK_PKCS11_PIN_FILE"
)

// Config says which token to use and how to log in. The zero value selects
// nothing: ModulePath and one of TokenLabel, TokenSerial or SlotID are
// required.
type Config struct {
	// ModulePath is the PKCS#11 module (shared library) to load, such as
	// /usr/lib/softhsm/libsofthsm2.so. Required.
	ModulePath string
	// TokenLabel selects the token by its label; empty means select by
	// TokenSerial or SlotID instead.
	TokenLabel string
	// TokenSerial selects the token by its serial number; empty means not.
	TokenSerial string
	// SlotID selects the token by slot number; nil means not.
	SlotID *uint
	// PIN logs in as the normal user. Empty means no PIN was given, which
	// Open reports as keys.ErrBadPassphrase, since every key operation needs
	// a login.
	PIN string
}

// URI is a parsed RFC 7512 PKCS#11 URI naming a token and, optionally, a
// key on it.
type URI struct {
	Config
	// Object is the CKA_LABEL of the key: hallmark's key name. Empty when
	// the URI names only a token.
	Object string
	// ID is the CKA_ID of one key object, which selects a version; nil
	// means any.
	ID []byte
	// PINSource is the file the PIN was read from ("pin-source"), for
	// messages; empty when the PIN came from "pin-value" or nowhere.
	PINSource string
}

// Path attributes this package understands. Others are refused rather than
// ignored, so a typo ("tokn=") does not silently select another token.
var pathAttrs = map[string]bool{
	"token": true, "serial": true, "slot-id": true, "object": true, "id": true, "type": true,
	"manufacturer": true, "model": true, "library-manufacturer": true, "library-description": true,
	"library-version": true, "slot-description": true, "slot-manufacturer": true,
}

// ParseURI parses a PKCS#11 URI (RFC 7512):
//
//	pkcs11:token=hallmark;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=/run/secrets/pin
//
// Path attributes: token, serial, slot-id (which token), object (the key's
// label, its hallmark name), id (the CKA_ID of one version) and type (must
// be "private" or "cert" when given). manufacturer, model and the library-
// and slot- attributes are accepted and not checked. Query attributes:
// module-path, pin-value, and pin-source (a file path, or a file: URI; the
// file is read by ConfigFromEnv, its trailing newline dropped; ParseURI does
// no I/O). Values are
// percent-decoded. A URI may leave out the module and PIN; ConfigFromEnv
// fills them.
func ParseURI(s string) (*URI, error) {
	if len(s) > MaxURILength {
		return nil, fmt.Errorf("%w: PKCS#11 URI is longer than %d bytes", keys.ErrInvalidRef, MaxURILength)
	}
	if !strings.HasPrefix(strings.ToLower(s), Scheme) {
		return nil, fmt.Errorf("%w: %q is not a PKCS#11 URI (it must start with %q)", keys.ErrInvalidRef, strict.Clip(s), Scheme)
	}
	path, query, _ := strings.Cut(s[len(Scheme):], "?")
	u := &URI{}
	seen := map[string]bool{}
	attr := func(part, sep string) (string, string, error) {
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return "", "", fmt.Errorf("%w: PKCS#11 URI attribute %q: write it as name=value, separated by %q", keys.ErrInvalidRef, strict.Clip(part), sep)
		}
		dv, err := url.PathUnescape(v)
		if err != nil {
			return "", "", fmt.Errorf("%w: PKCS#11 URI attribute %s: bad percent-encoding", keys.ErrInvalidRef, k)
		}
		if seen[k] {
			return "", "", fmt.Errorf("%w: PKCS#11 URI attribute %s is given twice", keys.ErrInvalidRef, k)
		}
		seen[k] = true
		return k, dv, nil
	}
	if path != "" {
		for _, part := range strings.Split(path, ";") {
			k, v, err := attr(part, ";")
			if err != nil {
				return nil, err
			}
			if !pathAttrs[k] && !strings.HasPrefix(k, "x-") {
				return nil, fmt.Errorf("%w: PKCS#11 URI has unknown attribute %q (hallmark reads token, serial, slot-id, object, id and type)", keys.ErrInvalidRef, strict.Clip(k))
			}
			switch k {
			case "token":
				u.TokenLabel = v
			case "serial":
				u.TokenSerial = v
			case "slot-id":
				n, err := strconv.ParseUint(v, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("%w: PKCS#11 URI slot-id %q is not a number", keys.ErrInvalidRef, strict.Clip(v))
				}
				slot := uint(n)
				u.SlotID = &slot
			case "object":
				if err := keys.ValidateName(v); err != nil {
					return nil, fmt.Errorf("PKCS#11 URI object: %w", err)
				}
				u.Object = v
			case "id":
				if v == "" {
					return nil, fmt.Errorf("%w: PKCS#11 URI id is empty", keys.ErrInvalidRef)
				}
				u.ID = []byte(v)
			case "type":
				if v != "private" && v != "cert" {
					return nil, fmt.Errorf("%w: PKCS#11 URI type=%s: hallmark signs with private keys (type=private)", keys.ErrInvalidRef, strict.Clip(v))
				}
			}
		}
	}
	if query != "" {
		for _, part := range strings.Split(query, "&") {
			k, v, err := attr(part, "&")
			if err != nil {
				return nil, err
			}
			switch k {
			case "module-path":
				u.ModulePath = v
			case "pin-value":
				u.PIN = v
			case "pin-source":
				u.PINSource = strings.TrimPrefix(v, "file:")
			case "module-name":
				return nil, fmt.Errorf("%w: PKCS#11 URI module-name is not supported; give module-path", keys.ErrInvalidRef)
			default:
				if !strings.HasPrefix(k, "x-") {
					return nil, fmt.Errorf("%w: PKCS#11 URI has unknown query attribute %q (hallmark reads module-path, pin-value and pin-source)", keys.ErrInvalidRef, strict.Clip(k))
				}
			}
		}
	}
	if u.PIN != "" && u.PINSource != "" {
		return nil, fmt.Errorf("%w: PKCS#11 URI has both pin-value and pin-source; give one", keys.ErrInvalidRef)
	}
	// The pin-source file is read by ConfigFromEnv, not here: parsing does
	// no I/O, so a configuration can be validated without touching the PIN
	// file (which may not exist where it is validated, or may block).
	return u, nil
}

// ConfigFromEnv completes the URI for use: it reads the PIN from the
// pin-source file, if the URI names one, and fills what the URI leaves out
// from the environment:
// HALLMARK_PKCS11_MODULE (module path), HALLMARK_PKCS11_TOKEN (token label,
// when no token, serial or slot-id is given), and the PIN from
// HALLMARK_PKCS11_PIN or the file named by HALLMARK_PKCS11_PIN_FILE. getenv is
// os.Getenv in production.
func (u *URI) ConfigFromEnv(getenv func(string) string) error {
	if u.PIN == "" && u.PINSource != "" {
		pin, err := readPINFile(u.PINSource)
		if err != nil {
			return err
		}
		u.PIN = pin
	}
	if u.ModulePath == "" {
		u.ModulePath = getenv(EnvModule)
	}
	if u.TokenLabel == "" && u.TokenSerial == "" && u.SlotID == nil {
		u.TokenLabel = getenv(EnvToken)
	}
	if u.PIN == "" {
		switch pin, file := getenv(EnvPIN), getenv(EnvPINFile); {
		case pin != "" && file != "":
			return fmt.Errorf("both %s and %s are set; unset one", EnvPIN, EnvPINFile)
		case pin != "":
			u.PIN = pin
		case file != "":
			p, err := readPINFile(file)
			if err != nil {
				return err
			}
			u.PIN, u.PINSource = p, file
		}
	}
	return nil
}

// Ref returns the key the URI names: Object as the name, and the version its
// id selects, if any.
func (u *URI) Ref() (keys.Ref, error) {
	if u.Object == "" {
		return keys.Ref{}, fmt.Errorf("%w: the PKCS#11 URI names no key; add ;object=NAME", keys.ErrInvalidRef)
	}
	ref := keys.Ref{Name: u.Object}
	if u.ID != nil {
		ref.Version = VersionOf(u.Object, u.ID)
	}
	return ref, nil
}

// String returns the URI without its PIN, safe for messages and output.
func (u *URI) String() string {
	var path []string
	add := func(k, v string) {
		if v != "" {
			path = append(path, k+"="+escape(v))
		}
	}
	add("token", u.TokenLabel)
	add("serial", u.TokenSerial)
	if u.SlotID != nil {
		add("slot-id", strconv.FormatUint(uint64(*u.SlotID), 10))
	}
	add("object", u.Object)
	if u.ID != nil {
		add("id", string(u.ID))
	}
	s := Scheme + strings.Join(path, ";")
	if u.ModulePath != "" {
		s += "?module-path=" + escape(u.ModulePath)
	}
	return s
}

// escape percent-encodes what RFC 7512 does not allow unencoded in a value.
func escape(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~:[]@!$'()*+,/", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func readPINFile(path string) (string, error) {
	data, err := capped.ReadFile(path, maxPINFileSize)
	if err != nil {
		return "", fmt.Errorf("reading the PKCS#11 PIN: %w", err)
	}
	pin := strings.TrimRight(string(data), "\r\n")
	if pin == "" {
		return "", fmt.Errorf("%w: PIN file %s is empty", keys.ErrBadPassphrase, path)
	}
	return pin, nil
}
