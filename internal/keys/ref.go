package keys

import (
	"fmt"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/keys/certpolicy"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

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
	if err := certpolicy.CheckName(version); err != nil {
		return Ref{}, fmt.Errorf("%w: version %q in %q: %s", ErrInvalidRef, strict.Clip(version), strict.Clip(s), err)
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
	if err := certpolicy.CheckName(name); err != nil {
		return fmt.Errorf("%w: key name %q: %s", ErrInvalidRef, strict.Clip(name), err)
	}
	return nil
}
