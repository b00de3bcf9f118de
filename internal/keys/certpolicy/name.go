package certpolicy

import "fmt"

// maxNameLen bounds key names and versions. 127 characters is Azure Key
// Vault's limit for object names, so a name that works in the local store
// keeps working when the key moves to a vault.
const maxNameLen = 127

// CheckName checks the grammar of a key name or version, which a policy's
// issuerParameters.name uses too: 1 to 127 characters from [a-zA-Z0-9._-],
// starting with a letter or digit. Its error completes the sentence
// "the name ...".
func CheckName(s string) error {
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
