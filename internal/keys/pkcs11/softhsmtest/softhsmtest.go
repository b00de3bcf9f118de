// Package softhsmtest makes SoftHSM2 tokens in a test's temporary folder, so
// PKCS#11 tests run against a real module. It fails the test (never skips)
// when SoftHSM2 is not installed: CI installs it (.ci/run), and a PKCS#11
// test that quietly does not run proves nothing. Tests use it; nothing in
// the hallmark binary imports it.
package softhsmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// ModulePath is where Debian's softhsm2 package puts the module.
const ModulePath = "/usr/lib/softhsm/libsofthsm2.so"

// Token is an initialized SoftHSM2 token.
type Token struct {
	Label, PIN string
	// Conf is the SoftHSM2 configuration file that points at the token
	// folder; SOFTHSM2_CONF must name it in every process using the token.
	Conf string
}

// Env returns the environment entry subprocesses need to see the token.
func (tok Token) Env() string { return "SOFTHSM2_CONF=" + tok.Conf }

// URI returns the PKCS#11 URI of object on the token, with the module path
// and the PIN as pin-value.
func (tok Token) URI(object string) string {
	u := fmt.Sprintf("pkcs11:token=%s", tok.Label)
	if object != "" {
		u += ";object=" + object
	}
	return u + "?module-path=" + ModulePath + "&pin-value=" + tok.PIN
}

// New makes a SoftHSM2 configuration in a new temporary folder, points
// SOFTHSM2_CONF at it for the rest of the test (t.Setenv, so the test must not
// be parallel), and initializes one token per label with the given user PIN.
// It returns the tokens in the order of labels.
func New(t testing.TB, pin string, labels ...string) []Token {
	t.Helper()
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		t.Fatalf("SoftHSM2 is not installed (softhsm2-util not on PATH): install the softhsm2 package (apt-get install -y softhsm2); .ci/run does")
	}
	if _, err := os.Stat(ModulePath); err != nil {
		t.Fatalf("SoftHSM2 module: %v; install the softhsm2 package", err)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	cfg := fmt.Sprintf("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n", tokens)
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	var out []Token
	for _, label := range labels {
		cmd := exec.Command(util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", pin+"-so")
		cmd.Env = append(os.Environ(), "SOFTHSM2_CONF="+conf)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("softhsm2-util --init-token %s: %v\n%s", label, err, b)
		}
		out = append(out, Token{Label: label, PIN: pin, Conf: conf})
	}
	return out
}
