package certpolicy

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// A subject distinguished name as users write it in a certificate policy:
// the RFC 4514 string form that Azure Key Vault also takes, most specific
// RDN first ("CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US").
//
// The parser is deliberately small. It accepts what policies contain in
// practice (keywords or dotted OIDs, backslash escapes, quoted values,
// spaces around separators) and rejects
// the rest with a position, rather than guessing: the subject ends up in
// every signature and is what trust policies match on.

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

// parseDN parses a subject DN string.
func parseDN(s string) (distinguishedName, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("is empty")
	}
	p := dnParser{s: s}
	var dn distinguishedName
	for {
		a, err := p.attribute()
		if err != nil {
			return nil, err
		}
		if dn.has(a.oid) {
			// notation refuses such a subject when it matches a signer
			// against trustedIdentities.
			return nil, fmt.Errorf("repeats %s; the Notary Project allows each attribute type once", strict.Clip(a.name))
		}
		dn = append(dn, a)
		if p.eof() {
			return dn, nil
		}
		// p.attribute stops only at the end or at a ','.
		p.pos++
		p.spaces()
		if p.eof() {
			return nil, fmt.Errorf("ends with ','")
		}
		if p.s[p.pos] == ',' {
			return nil, p.errorf("empty RDN between two commas")
		}
	}
}

type dnParser struct {
	s   string
	pos int
}

func (p *dnParser) eof() bool { return p.pos >= len(p.s) }

func (p *dnParser) spaces() {
	for !p.eof() && p.s[p.pos] == ' ' {
		p.pos++
	}
}

// errorf reports a problem at the current position, counted from 1 the way
// an editor shows columns.
func (p *dnParser) errorf(format string, args ...any) error {
	return fmt.Errorf("at position %d: %s", p.pos+1, fmt.Sprintf(format, args...))
}

// attribute reads TYPE=value up to an unescaped ',' or the end.
func (p *dnParser) attribute() (dnAttr, error) {
	p.spaces()
	kw, name, err := p.attrType()
	if err != nil {
		return dnAttr{}, err
	}
	value, err := p.value()
	if err != nil {
		return dnAttr{}, err
	}
	if err := checkDNValue(kw, name, value); err != nil {
		return dnAttr{}, err
	}
	if !p.eof() && p.s[p.pos] == '+' {
		// notation refuses multi-valued RDNs in a signer's subject.
		return dnAttr{}, p.errorf("multi-valued RDNs (joined by '+') are not supported by the Notary Project; write a literal + as \\+")
	}
	return dnAttr{oid: kw.oid, name: name, tag: kw.tag, value: value}, nil
}

// attrType reads "KEYWORD =" or "1.2.3 =" (optionally "OID.1.2.3") and
// returns the type and its name as written.
func (p *dnParser) attrType() (dnKeyword, string, error) {
	start := p.pos
	eq := strings.IndexByte(p.s[p.pos:], '=')
	if eq < 0 {
		return dnKeyword{}, "", p.errorf("expected TYPE=value, found no '='")
	}
	name := strings.TrimRight(p.s[start:start+eq], " ")
	p.pos = start + eq + 1
	if name == "" {
		p.pos = start
		return dnKeyword{}, "", p.errorf("missing attribute type before '='")
	}
	if kw, ok := dnKeywords[strings.ToUpper(name)]; ok {
		return kw, name, nil
	}
	numeric := name
	if len(numeric) > 4 && strings.EqualFold(numeric[:4], "OID.") {
		numeric = numeric[4:]
	}
	if oid, err := parseOID(numeric); err == nil {
		return dnKeyword{oid: oid, tag: asn1.TagUTF8String}, name, nil
	}
	p.pos = start
	return dnKeyword{}, "", p.errorf("unknown attribute type %q; use CN, O, OU, L, ST, C, STREET, SERIALNUMBER, DC, E or a dotted OID", strict.Clip(name))
}

// value reads an attribute value up to an unescaped ',' or '+' or the end.
func (p *dnParser) value() (string, error) {
	p.spaces()
	if p.eof() || p.s[p.pos] == ',' || p.s[p.pos] == '+' {
		return "", p.errorf("attribute has no value")
	}
	switch p.s[p.pos] {
	case '#':
		return "", p.errorf("hex-encoded (#...) values are not supported; write the value as text")
	case '"':
		return p.quoted()
	}
	var b []byte
	keep := 0 // length of b without trailing unescaped spaces
	for !p.eof() {
		c := p.s[p.pos]
		switch c {
		case ',', '+':
			return string(b[:keep]), p.checkUTF8(b[:keep])
		case '\\':
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, r)
			keep = len(b)
			continue
		case '"', ';', '<', '>':
			return "", p.errorf("%q must be escaped as \\%c", c, c)
		}
		b = append(b, c)
		if c != ' ' {
			keep = len(b)
		}
		p.pos++
	}
	return string(b[:keep]), p.checkUTF8(b[:keep])
}

// quoted reads a "..." value (RFC 2253 form, which Windows tools print).
func (p *dnParser) quoted() (string, error) {
	open := p.pos
	p.pos++
	var b []byte
	for {
		if p.eof() {
			p.pos = open
			return "", p.errorf("quoted value has no closing '\"'")
		}
		c := p.s[p.pos]
		if c == '"' {
			p.pos++
			break
		}
		if c == '\\' {
			r, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, r)
			continue
		}
		b = append(b, c)
		p.pos++
	}
	p.spaces()
	if !p.eof() && p.s[p.pos] != ',' && p.s[p.pos] != '+' {
		return "", p.errorf("unexpected %q after a quoted value", p.s[p.pos])
	}
	if len(b) == 0 {
		return "", p.errorf("attribute has an empty value")
	}
	return string(b), p.checkUTF8(b)
}

// escape reads "\c" for a special character c, or "\hh" for one byte of a
// UTF-8 sequence, and returns the byte.
func (p *dnParser) escape() (byte, error) {
	if p.pos+1 >= len(p.s) {
		return 0, p.errorf("'\\' at the end of the subject")
	}
	c := p.s[p.pos+1]
	if strings.IndexByte(`,+"\<>;=# `, c) >= 0 {
		p.pos += 2
		return c, nil
	}
	if p.pos+2 < len(p.s) {
		if v, err := strconv.ParseUint(p.s[p.pos+1:p.pos+3], 16, 8); err == nil {
			p.pos += 3
			return byte(v), nil
		}
	}
	return 0, p.errorf("'\\' must be followed by one of ,+\"\\<>;=# or a space, or two hex digits")
}

func (p *dnParser) checkUTF8(b []byte) error {
	if !utf8.Valid(b) {
		return p.errorf("value is not valid UTF-8")
	}
	return nil
}

// checkDNValue applies the rules of the value's ASN.1 string type, so a DN
// that parses can always be encoded.
func checkDNValue(kw dnKeyword, name, v string) error {
	name = strict.Clip(name)
	if v == "" {
		return fmt.Errorf("%s has an empty value", name)
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
