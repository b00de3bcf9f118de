package certpolicy

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hallmark-dev/hallmark/internal/dn"
	"github.com/hallmark-dev/hallmark/internal/strict"
)

// A subject distinguished name as users write it in a certificate policy:
// the RFC 4514 string form that Azure Key Vault also takes, most specific
// RDN first ("CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US").
//
// It is parsed by package dn, the parser of trust policies' identities: the
// subject ends up in every signature and is what trust policies match on,
// so both must read it alike. This file keeps what is particular to
// writing a certificate: the keyword table and the DER encoding.

// dnAttr is one attribute type and value, an RDN of its own: the Notary
// Project allows neither multi-valued RDNs nor repeated attribute types.
type dnAttr struct {
	oid   asn1.ObjectIdentifier
	name  string // the type as written, for messages
	tag   int    // ASN.1 string type the value is encoded as
	value string
}

// distinguishedName holds the RDNs in the order written (most specific
// first).
type distinguishedName []dnAttr

// dnKeyword describes an attribute type a DN may name by keyword.
type dnKeyword struct {
	oid asn1.ObjectIdentifier
	tag int
}

var (
	oidCountry      = asn1.ObjectIdentifier{2, 5, 4, 6}
	oidState        = asn1.ObjectIdentifier{2, 5, 4, 8}
	oidOrganization = asn1.ObjectIdentifier{2, 5, 4, 10}
)

// dnKeywords maps the keywords of RFC 4514 plus the ones Windows and Azure
// Key Vault print (S, E) to OIDs. Directory strings are encoded as
// UTF8String, which RFC 5280 requires of new certificates; country and serial
// number are PrintableString and domain components and e-mail addresses
// IA5String, as their ASN.1 definitions demand.
var dnKeywords = map[string]dnKeyword{
	"CN":           {asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.TagUTF8String},
	"SN":           {asn1.ObjectIdentifier{2, 5, 4, 4}, asn1.TagUTF8String},
	"SURNAME":      {asn1.ObjectIdentifier{2, 5, 4, 4}, asn1.TagUTF8String},
	"SERIALNUMBER": {asn1.ObjectIdentifier{2, 5, 4, 5}, asn1.TagPrintableString},
	"C":            {oidCountry, asn1.TagPrintableString},
	"L":            {asn1.ObjectIdentifier{2, 5, 4, 7}, asn1.TagUTF8String},
	"ST":           {oidState, asn1.TagUTF8String},
	"S":            {oidState, asn1.TagUTF8String},
	"STREET":       {asn1.ObjectIdentifier{2, 5, 4, 9}, asn1.TagUTF8String},
	"O":            {oidOrganization, asn1.TagUTF8String},
	"OU":           {asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.TagUTF8String},
	"T":            {asn1.ObjectIdentifier{2, 5, 4, 12}, asn1.TagUTF8String},
	"TITLE":        {asn1.ObjectIdentifier{2, 5, 4, 12}, asn1.TagUTF8String},
	"POSTALCODE":   {asn1.ObjectIdentifier{2, 5, 4, 17}, asn1.TagUTF8String},
	"G":            {asn1.ObjectIdentifier{2, 5, 4, 42}, asn1.TagUTF8String},
	"GIVENNAME":    {asn1.ObjectIdentifier{2, 5, 4, 42}, asn1.TagUTF8String},
	"DC":           {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 25}, asn1.TagIA5String},
	"UID":          {asn1.ObjectIdentifier{0, 9, 2342, 19200300, 100, 1, 1}, asn1.TagUTF8String},
	"E":            {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.TagIA5String},
	"EMAILADDRESS": {asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}, asn1.TagIA5String},
}

// parseDN parses a subject DN string with dn.Parse, the parser trust
// policies' identities are read with, and maps each attribute to its OID
// and ASN.1 string type.
func parseDN(s string) (distinguishedName, error) {
	if err := checkSpecials(s); err != nil {
		return nil, err
	}
	attrs, err := dn.Parse(s)
	if err != nil {
		return nil, err
	}
	var name distinguishedName
	for _, a := range attrs {
		kw, ok := lookupKeyword(a.Type)
		if !ok {
			return nil, fmt.Errorf("has unknown attribute type %q; use CN, O, OU, L, ST, C, STREET, SERIALNUMBER, DC, E or a dotted OID", strict.Clip(a.Type))
		}
		if name.has(kw.oid) {
			// Two spellings of one type, such as CN and 2.5.4.3: notation
			// refuses such a subject when it matches a signer against
			// trustedIdentities.
			return nil, fmt.Errorf("repeats the %s attribute; the Notary Project allows each attribute type once", strict.Clip(a.Type))
		}
		if err := checkDNValue(kw, a.Type, a.Value); err != nil {
			return nil, err
		}
		name = append(name, dnAttr{oid: kw.oid, name: a.Type, tag: kw.tag, value: a.Value})
	}
	return name, nil
}

// checkSpecials refuses the characters RFC 4514 requires escaped in a value
// that go-ldap takes literally or as a separator: a subject written in
// RFC 2253's quoted form would otherwise get its quotes written into the
// certificate, and one with ';' different RDNs than meant.
func checkSpecials(s string) error {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			i++ // the escaped character
		case '"', ';', '<', '>':
			return fmt.Errorf("has an unescaped %q at position %d; write it as \\%c (quoted values are not supported: escape a comma instead, as in O=Acme\\, Inc.)", c, i+1, c)
		}
	}
	return nil
}

// lookupKeyword finds an attribute type by keyword (any case) or dotted
// OID, optionally written "OID.1.2.3".
func lookupKeyword(typ string) (dnKeyword, bool) {
	if kw, ok := dnKeywords[strings.ToUpper(typ)]; ok {
		return kw, true
	}
	numeric := typ
	if len(numeric) > 4 && strings.EqualFold(numeric[:4], "OID.") {
		numeric = numeric[4:]
	}
	if oid, err := parseOID(numeric); err == nil {
		return dnKeyword{oid: oid, tag: asn1.TagUTF8String}, true
	}
	return dnKeyword{}, false
}

// checkDNValue applies the rules of the value's ASN.1 string type, so a DN
// that parses can always be encoded.
func checkDNValue(kw dnKeyword, name, v string) error {
	name = strict.Clip(name)
	if v == "" {
		return fmt.Errorf("%s has an empty value", name)
	}
	if !utf8.ValidString(v) {
		return fmt.Errorf("%s is not valid UTF-8", name)
	}
	for _, r := range v {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character", name)
		}
	}
	switch {
	case kw.oid.Equal(oidCountry):
		if len(v) != 2 || !isLetter(v[0]) || !isLetter(v[1]) {
			return fmt.Errorf("country C=%s is not a two-letter country code (ISO 3166, such as US or DE)", strict.Clip(v))
		}
	case kw.tag == asn1.TagPrintableString:
		for i := 0; i < len(v); i++ {
			if !isPrintable(v[i]) {
				return fmt.Errorf("%s may only hold letters, digits, spaces and '()+,-./:=?", name)
			}
		}
	case kw.tag == asn1.TagIA5String:
		for i := 0; i < len(v); i++ {
			if v[i] >= utf8.RuneSelf {
				return fmt.Errorf("%s may only hold ASCII characters", name)
			}
		}
	}
	return nil
}

func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' }

// isPrintable reports whether c is in the ASN.1 PrintableString alphabet.
func isPrintable(c byte) bool {
	return isAlnum(c) || strings.IndexByte(" '()+,-./:=?", c) >= 0
}

// der encodes the name as an X.501 RDNSequence. The string form lists the
// most specific RDN first and the encoding the least specific first (RFC
// 4514 section 2.1), so the order is reversed here: tools that print names
// (openssl, pkix.RDNSequence.String) then show the subject as the policy
// wrote it.
func (dn distinguishedName) der() ([]byte, error) {
	seq := make(pkix.RDNSequence, 0, len(dn))
	for i := len(dn) - 1; i >= 0; i-- {
		a := dn[i]
		// A raw value keeps the string type chosen above; encoding/asn1
		// would otherwise pick one from the characters.
		seq = append(seq, pkix.RelativeDistinguishedNameSET{{
			Type:  a.oid,
			Value: asn1.RawValue{Class: asn1.ClassUniversal, Tag: a.tag, Bytes: []byte(a.value)},
		}})
	}
	return asn1.Marshal(seq)
}

// has reports whether any RDN holds the attribute type.
func (dn distinguishedName) has(oid asn1.ObjectIdentifier) bool {
	for _, a := range dn {
		if a.oid.Equal(oid) {
			return true
		}
	}
	return false
}

// parseOID parses a dotted object identifier such as 1.3.6.1.5.5.7.3.3
// under the rules of X.660: at least two arcs, the first 0, 1 or 2, the
// second below 40 unless the first is 2.
func parseOID(s string) (asn1.ObjectIdentifier, error) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 {
		return nil, fmt.Errorf("not a dotted OID")
	}
	oid := make(asn1.ObjectIdentifier, len(parts))
	for i, part := range parts {
		if part == "" || (len(part) > 1 && part[0] == '0') {
			return nil, fmt.Errorf("not a dotted OID")
		}
		for j := 0; j < len(part); j++ {
			if part[j] < '0' || part[j] > '9' {
				return nil, fmt.Errorf("not a dotted OID")
			}
		}
		// Arcs fit in 31 bits so encoding/asn1 can handle them on every platform.
		n, err := strconv.ParseInt(part, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("arc %s is too large", part)
		}
		oid[i] = int(n)
	}
	if oid[0] > 2 || (oid[0] < 2 && oid[1] >= 40) {
		return nil, fmt.Errorf("not a valid OID")
	}
	return oid, nil
}
