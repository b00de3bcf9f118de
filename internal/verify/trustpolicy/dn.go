package trustpolicy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/dn"
)

// mandatoryDNAttributes must appear in every x509.subject trusted identity.
// Without country, state and organization a short identity such as
// "CN=build" would match certificates from unrelated organizations.
var mandatoryDNAttributes = []string{"C", "ST", "O"}

// parseIdentityDN parses the distinguished name of an x509.subject trusted
// identity with the rules notation-go applies (dn.Parse: RFC 4514 via
// go-ldap, "S" as an alias of "ST", no multi-valued RDNs, no repeated
// attributes, no hex-encoded values), and requires C, ST and O. It returns
// the attributes, or a message that completes the sentence
// `"x509.subject: ..." <message>`.
func parseIdentityDN(value string) (map[string]string, string) {
	parsed, err := dn.Parse(value)
	if errors.Is(err, dn.ErrSyntax) {
		return nil, fmt.Sprintf(`%v; write it as RFC 4514, e.g. "x509.subject: C=US, ST=WA, O=Acme, CN=builder"`, err)
	}
	if err != nil {
		return nil, err.Error()
	}
	attrs := map[string]string{}
	for _, a := range parsed {
		attrs[a.Type] = a.Value
	}
	var missing []string
	for _, f := range mandatoryDNAttributes {
		if attrs[f] == "" {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Sprintf("lacks %s; a trusted identity must name at least C, ST (or S) and O so it cannot match signers of another organization", andList(missing))
	}
	return attrs, ""
}

// andList renders ["C","ST","O"] as "C, ST and O".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
