package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestExpandRefs(t *testing.T) {
	tests := []struct {
		name  string
		stdin string
		args  []string
		want  []string
		err   string
	}{
		{"arguments only", "", []string{"a/b:1", "c/d:2"}, []string{"a/b:1", "c/d:2"}, ""},
		{"stdin", "a/b:1\n\n# comment\n  c/d:2  \n", []string{"-"}, []string{"a/b:1", "c/d:2"}, ""},
		{"both, in order", "x/y:1\n", []string{"a/b:1", "-", "c/d:2"}, []string{"a/b:1", "x/y:1", "c/d:2"}, ""},
		{"empty stdin", "\n# nothing\n", []string{"-"}, nil, "no image reference"},
		{"dash twice", "a/b:1\n", []string{"-", "-"}, nil, "may be given once"},
		{"overlong line", strings.Repeat("a", maxRefLine+1) + "\n", []string{"-"}, nil, "line 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := expandRefs(strings.NewReader(tc.stdin), tc.args)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want one with %q", err, tc.err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("expandRefs = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// TestProgress: quiet unless on a terminal; one line per step when on.
func TestProgress(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, 3)
	p.step("one")
	if b.Len() != 0 {
		t.Fatalf("progress wrote to a buffer (not a terminal): %q", b.String())
	}
	p = &progress{w: &b, total: 2}
	p.step("signing a")
	p.step("signing b")
	if b.String() != "[1/2] signing a\n[2/2] signing b\n" {
		t.Fatalf("progress lines = %q", b.String())
	}
}

// TestSignAndVerifyMany: sign and verify take - for references on standard
// input, report each image, print a JSON array, exit 1 if any failed, and
// show no progress when standard error is not a terminal.
func TestSignAndVerifyMany(t *testing.T) {
	env, _ := trustEnv(t)
	mustRun(t, env, "key", "create", "rel", "--subject", "CN=rel,O=Acme,ST=WA,C=US", "--key-type", "EC")
	mustRun(t, env, "policy", "init", "--key", "rel")
	signed, unsigned := signedImages(t, env)
	host := strings.SplitN(signed, "/", 2)[0]
	missing := host + "/app:nosuchtag"

	stdout, stderr, code := runIn(t, env, unsigned+"\n# a comment\n"+missing+"\n", "sign", "-", "--key", "rel", "--plain-http", "-o", "json")
	if code != ExitFailure || !strings.Contains(stderr, "nosuchtag") || !strings.Contains(stderr, "Signed 1 of 2 images; 1 failed") {
		t.Fatalf("sign - with one missing image: exit %d\n%s", code, stderr)
	}
	var results []signResult
	if err := json.Unmarshal([]byte(stdout), &results); err != nil || len(results) != 1 || results[0].SignatureManifest == "" {
		t.Fatalf("sign - -o json = %s (%v)", stdout, err)
	}
	if strings.Contains(stderr, "[1/2]") {
		t.Errorf("progress shown with standard error not a terminal:\n%s", stderr)
	}
	stdout, stderr, code = runIn(t, env, signed+"\n"+unsigned+"\n", "verify", "-", "--plain-http")
	if code != 0 || strings.Count(stdout, "PASS") != 2 {
		t.Fatalf("verify - of two signed images: exit %d\n%s%s", code, stdout, stderr)
	}
	tc := usageCase{"password and references on stdin", []string{"verify", "-", "--plain-http", "-u", "x", "--password-stdin"}, ExitUsage, []string{"both read standard input"}}
	stdout, stderr, code = runIn(t, env, signed+"\n", tc.args...)
	checkUsage(t, tc, stdout, stderr, code)
}
