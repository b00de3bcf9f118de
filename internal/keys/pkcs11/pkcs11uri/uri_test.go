package pkcs11uri

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

func TestParseURI(t *testing.T) {
	pinFile := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(pinFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in                         string
		module, token, object, pin string
		version                    string
		err                        string
	}{
		{in: "pkcs11:token=hsm;object=release?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234",
			module: "/usr/lib/softhsm/libsofthsm2.so", token: "hsm", object: "release", pin: "1234"},
		{in: "pkcs11:token=My%20Token;object=release;id=release%2F2;type=private?pin-source=file:" + pinFile,
			token: "My Token", object: "release", pin: "from-file", version: "2"},
		{in: "pkcs11:object=r;id=%01%02", object: "r", version: "id-0102"},
		{in: "PKCS11:token=t", token: "t"},
		{in: "pkcs11:", token: ""},
		{in: "pkcs11:tokn=t", err: `unknown attribute "tokn"`},
		{in: "pkcs11:token=t;token=u", err: "given twice"},
		{in: "pkcs11:token", err: "name=value"},
		{in: "pkcs11:object=a%2", err: "percent-encoding"},
		{in: "pkcs11:object=../x", err: "key name"},
		{in: "pkcs11:type=public", err: "type=private"},
		{in: "pkcs11:slot-id=x", err: "slot-id"},
		{in: "pkcs11:?pin-value=1&pin-source=/p", err: "both pin-value and pin-source"},
		{in: "pkcs11:?module-name=softhsm2", err: "module-name"},
		{in: "pkcs11:?pin-source=/nonexistent/pin", err: "PIN"},
		{in: "release", err: "not a PKCS#11 URI"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			u, err := ParseURI(tc.in)
			if err == nil {
				// The pin-source file is read when the URI is completed.
				err = u.ConfigFromEnv(func(string) string { return "" })
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseURI = %v, want error with %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if u.ModulePath != tc.module || u.TokenLabel != tc.token || u.Object != tc.object || u.PIN != tc.pin {
				t.Fatalf("ParseURI = %+v", u)
			}
			if tc.object != "" {
				ref, err := u.Ref()
				if err != nil || ref.Version != tc.version {
					t.Fatalf("Ref = %+v, %v; want version %q", ref, err, tc.version)
				}
			}
			if tc.pin != "" && strings.Contains(u.String(), tc.pin) {
				t.Fatalf("String shows the PIN: %s", u)
			}
			again, err := ParseURI(u.String())
			if err != nil || again.TokenLabel != u.TokenLabel || again.Object != u.Object || string(again.ID) != string(u.ID) {
				t.Fatalf("String does not round-trip: %s: %+v, %v", u, again, err)
			}
		})
	}
}

func TestConfigFromEnv(t *testing.T) {
	env := map[string]string{EnvModule: "/m.so", EnvToken: "tok", EnvPIN: "p"}
	u, _ := ParseURI("pkcs11:object=k")
	if err := u.ConfigFromEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if u.ModulePath != "/m.so" || u.TokenLabel != "tok" || u.PIN != "p" {
		t.Fatalf("ConfigFromEnv = %+v", u.Config)
	}
	// The URI wins over the environment.
	u, _ = ParseURI("pkcs11:serial=42?module-path=/n.so&pin-value=q")
	u.ConfigFromEnv(func(k string) string { return env[k] })
	if u.ModulePath != "/n.so" || u.TokenLabel != "" || u.PIN != "q" {
		t.Fatalf("ConfigFromEnv overrode the URI: %+v", u.Config)
	}
	env[EnvPINFile] = "/x"
	u, _ = ParseURI("pkcs11:object=k")
	if err := u.ConfigFromEnv(func(k string) string { return env[k] }); err == nil {
		t.Fatal("both PIN variables accepted")
	}
	if _, err := (&URI{}).Ref(); !errors.Is(err, keys.ErrInvalidRef) {
		t.Fatalf("Ref without object: %v", err)
	}
}

// FuzzParseURI: URIs come from the command line and configuration files.
func FuzzParseURI(f *testing.F) {
	f.Add("pkcs11:token=hsm;object=release;id=release%2F2?module-path=/m.so&pin-value=1")
	f.Add("pkcs11:slot-id=3;x-vendor=1?x-q=2")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			return
		}
		out := u.String()
		if len(out) > MaxURILength {
			// String percent-encodes every byte outside the unreserved
			// set, so a URI near the cap can print up to three times
			// longer; the cap applies to what users write.
			return
		}
		again, err := ParseURI(out)
		if err != nil {
			t.Fatalf("String() = %q does not parse: %v", u, err)
		}
		if again.TokenLabel != u.TokenLabel || again.Object != u.Object || string(again.ID) != string(u.ID) || again.ModulePath != u.ModulePath {
			t.Fatalf("round trip %q -> %q changed it", s, u)
		}
	})
}
