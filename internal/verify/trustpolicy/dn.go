package trustpolicy

import (
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"
)

// mandatoryDNAttributes must appear in every x509.subject trusted identity.
// Without country, state and organization a short identity such as
// "CN=build" would match certificates from unrelated organizations.
var mandatoryDNAttributes = []string{"C", "ST", "O"}

// parseIdentityDN parses the distinguished name of an x509.subject trusted
// identity with the same rules notation-go applies (RFC 4514 via go-ldap,
// "S" as an alias of "ST", no multi-valued RDNs, no repeated attributes, no
// hex-encoded values, C, ST and O required). It returns the attributes, or a
// message that completes the sentence `"x509.subject: ..." <message>`.
func parseIdentityDN(value string) (map[string]string, string) {
	if strings.Contains(value, "=#") {
		return nil, `uses a hex-encoded attribute value ("=#"), which Notary Project verifiers do not support; write the value as text`
	}
	dn, err := ldap.ParseDN(value)
	if err != nil {
		return nil, fmt.Sprintf(`is not a valid distinguished name (%v); write it as RFC 4514, e.g. "x509.subject: C=US, ST=WA, O=Acme, CN=builder"`, err)
	}
	attrs := map[string]string{}
	for _, rdn := range dn.RDNs {
		if len(rdn.Attributes) > 1 {
			return nil, `has a multi-valued RDN (attributes joined with "+"), which is not supported; give each attribute its own RDN`
		}
		for _, a := range rdn.Attributes {
			typ := a.Type
			if typ == "S" {
				typ = "ST"
			}
			if attrs[typ] != "" {
				return nil, fmt.Sprintf("repeats the %s attribute; each attribute may appear once", typ)
			}
			attrs[typ] = a.Value
		}
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
