package keys

import (
	"fmt"
	"strings"
)

// maxNameLen bounds key names and versions. 127 characters is Azure Key
// Vault's limit for object names, so a name that works in the local store
// keeps working when the key moves to a vault.
const maxNameLen = 127

// ParseRef parses "NAME" or "NAME/VERSION". Both parts must be valid names
// (see ValidateName); a provider may restrict versions further (the local
// store uses decimal numbers).
func ParseRef(s string) (Ref, error) {
	name, version, hasVersion := strings.Cut(s, "/")
	if err := ValidateName(name); err != nil {
		return Ref{}, err
	}
	if !hasVersion {
		return Ref{Name: name}, nil
	}
	if err := validateToken(version); err != nil {
		return Ref{}, fmt.Errorf("%w: version %q in %q: %s", ErrInvalidRef, clip(version), clip(s), err)
	}
	return Ref{Name: name, Version: version}, nil
}

// String returns the text form ParseRef reads: "NAME" or "NAME/VERSION".
func (r Ref) String() string {
	if r.Version == "" {
		return r.Name
	}
	return r.Name + "/" + r.Version
}

// ValidateName checks a key name: 1 to 127 characters from [a-zA-Z0-9._-],
// starting with a letter or digit. The first character rule keeps names from
// looking like flags or hidden files, which the local store relies on to tell
// keys from its temporary directories.
func ValidateName(name string) error {
	if err := validateToken(name); err != nil {
		return fmt.Errorf("%w: key name %q: %s", ErrInvalidRef, clip(name), err)
	}
	return nil
}

func validateToken(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("is empty")
	case len(s) > maxNameLen:
		return fmt.Errorf("is longer than %d characters", maxNameLen)
	case !isAlnum(s[0]):
		return fmt.Errorf("must start with a letter or digit")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isAlnum(c) && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("has %q at position %d; use letters, digits, '.', '_' and '-'", rune(c), i+1)
		}
	}
	return nil
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// clip shortens user input echoed in error messages, so a pasted file does
// not become a screenful of error.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "..."
}
