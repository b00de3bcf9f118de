// Package dn reads distinguished names as people write them for hallmark:
// a trust policy's x509.subject trusted identities and a certificate
// policy's subject. Both are parsed here, with go-ldap's RFC 4514 parser
// (the one notation-go uses for trusted identities), under the Notary
// Project's rules, so a subject hallmark writes into a certificate is read
// the same way when a trust policy names it.
//
// What each attribute means (OIDs, string types, required attributes) is
// left to the caller.
package dn

import (
	"errors"
	"fmt"
	"strings"

	ldap "github.com/go-ldap/ldap/v3"
)

// ErrSyntax is wrapped by the error for a name that is not RFC 4514.
var ErrSyntax = errors.New("is not a valid distinguished name")

// Attribute is one attribute of a name: Type as written (keyword or dotted
// OID, spaces trimmed, "S" already read as "ST") and Value with its escapes
// decoded.
type Attribute struct {
	Type  string
	Value string
}

// Parse reads an RFC 4514 distinguished name, most specific RDN first,
// and returns its attributes in the order written. Beyond RFC 4514 it
// refuses, as Notary Project verifiers do, hex-encoded values ("#..."),
// multi-valued RDNs ("+") and an attribute type given twice. Its errors
// complete the sentence "the subject ...".
func Parse(s string) ([]Attribute, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("is empty")
	}
	if strings.Contains(s, "=#") {
		return nil, errors.New(`uses a hex-encoded attribute value ("=#"), which Notary Project verifiers do not support; write the value as text`)
	}
	name, err := ldap.ParseDN(s)
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrSyntax, err)
	}
	var attrs []Attribute
	seen := map[string]bool{}
	for _, rdn := range name.RDNs {
		if len(rdn.Attributes) > 1 {
			return nil, errors.New(`has a multi-valued RDN (attributes joined with "+"), which is not supported; give each attribute its own RDN, and write a literal + as \+`)
		}
		for _, a := range rdn.Attributes {
			typ := a.Type
			if typ == "S" {
				typ = "ST"
			}
			if seen[typ] {
				return nil, fmt.Errorf("repeats the %s attribute; the Notary Project allows each attribute type once", typ)
			}
			seen[typ] = true
			attrs = append(attrs, Attribute{Type: typ, Value: a.Value})
		}
	}
	return attrs, nil
}
