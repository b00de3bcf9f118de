package certpolicy

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
)

func TestParseDN(t *testing.T) {
	tests := []struct {
		in string
		// want is the name as Go prints it after the DER round trip, which
		// is also how notation renders a signer's subject; "" for errors.
		want    string
		wantErr string
	}{
		{in: "CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US", want: "CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US"},
		{in: "C=US,ST=NY,O=Notation,CN=x", want: "C=US,ST=NY,O=Notation,CN=x"},
		{in: " CN = spaced , O = Acme Inc ", want: "CN=spaced,O=Acme Inc"},
		{in: "cn=lower,o=case,s=WA", want: "CN=lower,O=case,ST=WA"},
		{in: `CN=Acme\, Inc.,O=x`, want: `CN=Acme\, Inc.,O=x`},
		{in: `O="Acme, Inc.",CN=q`, wantErr: `unescaped '"' at position 3`},
		{in: `CN=caf\C3\A9`, want: "CN=café"},
		{in: `CN=trailing\ `, want: `CN=trailing\ `},
		{in: "CN=a+OU=b,O=c", wantErr: "multi-valued"},
		{in: "OU=a,OU=b", wantErr: "repeats the OU attribute"},
		{in: "ST=a,S=b", wantErr: "repeats the ST attribute"},
		{in: "CN=a,2.5.4.3=b", wantErr: "repeats the 2.5.4.3 attribute"},
		{in: "2.5.4.3=byoid,OID.2.5.4.10=org", want: "CN=byoid,O=org"},
		{in: "CN=x=y", want: "CN=x=y"},
		{in: "", wantErr: "is empty"},
		{in: "   ", wantErr: "is empty"},
		{in: "CN", wantErr: "is not a valid distinguished name"},
		{in: "=x", wantErr: "is not a valid distinguished name"},
		{in: "CN=", wantErr: "CN has an empty value"},
		{in: "CN=a,", wantErr: "is not a valid distinguished name"},
		{in: "CN=a,,O=b", wantErr: "is not a valid distinguished name"},
		{in: "CN=a+", wantErr: "is not a valid distinguished name"},
		{in: "XX=a", wantErr: `unknown attribute type "XX"`},
		{in: "CN=#0403616263", wantErr: "hex-encoded"},
		{in: `CN="open`, wantErr: "unescaped"},
		{in: `CN="q"x`, wantErr: "unescaped"},
		{in: `CN=""`, wantErr: "unescaped"},
		{in: `CN=\"q\"`, want: `CN=\"q\"`},
		{in: `CN=a"b`, wantErr: `unescaped '"' at position 5`},
		{in: `CN=a;O=b`, wantErr: `unescaped ';'`},
		{in: `CN=a\`, wantErr: "corrupted escaped character"},
		{in: `CN=a\zz`, wantErr: "failed to decode escaped character"},
		{in: `CN=\FF`, wantErr: "not valid UTF-8"},
		{in: "CN=a\x01b", wantErr: "control character"},
		{in: "C=USA", wantErr: "two-letter country code"},
		{in: "C=1A", wantErr: "two-letter country code"},
		{in: "SERIALNUMBER=a_b", wantErr: "may only hold"},
		{in: "DC=exämple", wantErr: "ASCII"},
		{in: "3.1=x", wantErr: "unknown attribute type"},
		{in: "1.40=x", wantErr: "unknown attribute type"},
		{in: "2.05=x", wantErr: "unknown attribute type"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			dn, err := parseDN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parseDN(%q) error = %v; want it to contain %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parseDN(%q): %v", tt.in, err)
			}
			if got := roundTrip(t, dn); got != tt.want {
				t.Errorf("parseDN(%q) encodes as %q; want %q", tt.in, got, tt.want)
			}
		})
	}
}

// roundTrip encodes the name and prints it in RFC 4514 order.
func roundTrip(t *testing.T, dn distinguishedName) string {
	t.Helper()
	der, err := dn.der()
	if err != nil {
		t.Fatalf("der: %v", err)
	}
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
		t.Fatalf("unmarshal: %v (%d trailing bytes)", err, len(rest))
	}
	return seq.String()
}

func TestDNStringTypes(t *testing.T) {
	dn, err := parseDN("CN=x,C=US,DC=example,SERIALNUMBER=42")
	if err != nil {
		t.Fatal(err)
	}
	der, err := dn.der()
	if err != nil {
		t.Fatal(err)
	}
	// The type name must end in SET for encoding/asn1 to read a SET OF.
	type rawRDNSET []struct {
		Type  asn1.ObjectIdentifier
		Value asn1.RawValue
	}
	var seq []rawRDNSET
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		t.Fatal(err)
	}
	// DER order is reversed: SERIALNUMBER, DC, C, CN.
	want := []int{asn1.TagPrintableString, asn1.TagIA5String, asn1.TagPrintableString, asn1.TagUTF8String}
	for i, rdn := range seq {
		if got := rdn[0].Value.Tag; got != want[i] {
			t.Errorf("RDN %d (%v) has string tag %d; want %d", i, rdn[0].Type, got, want[i])
		}
	}
}

// FuzzParseDN: a subject parseDN accepts encodes to DER that reads back
// (encoding/asn1) as the same attributes, in reverse order (DER lists the
// least specific first), each value with the string type its keyword asks
// for: the certificate says what the policy said.
func FuzzParseDN(f *testing.F) {
	for _, s := range []string{"CN=a,O=b,C=US", `CN=q\,x,O=\2C`, "CN=a+OU=b", "OU=a,OU=b", "2.5.4.3=x", `CN=\C3\A9`, "DC=example,SERIALNUMBER=42"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		dn, err := parseDN(s)
		if err != nil {
			return
		}
		der, err := dn.der()
		if err != nil {
			t.Fatalf("parseDN(%q) accepted but does not encode: %v", s, err)
		}
		type rawRDNSET []struct {
			Type  asn1.ObjectIdentifier
			Value asn1.RawValue
		}
		var seq []rawRDNSET
		if rest, err := asn1.Unmarshal(der, &seq); err != nil || len(rest) > 0 {
			t.Fatalf("parseDN(%q) encodes to unreadable DER: %v", s, err)
		}
		if len(seq) != len(dn) {
			t.Fatalf("parseDN(%q): %d RDNs encode as %d", s, len(dn), len(seq))
		}
		for i, rdn := range seq {
			a := dn[len(dn)-1-i]
			if len(rdn) != 1 || !rdn[0].Type.Equal(a.oid) || string(rdn[0].Value.Bytes) != a.value || rdn[0].Value.Tag != a.tag {
				t.Fatalf("parseDN(%q): RDN %d reads back as %v, want %v %q (tag %d)", s, i, rdn, a.oid, a.value, a.tag)
			}
		}
	})
}
