package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-dev/hallmark/internal/demo"
	"github.com/hallmark-dev/hallmark/internal/proctest"
)

// demoVerdicts maps "mode name" to the verdict the demo got.
func demoVerdicts(rep demo.Report) map[string]string {
	got := map[string]string{}
	for _, v := range rep.Verdicts {
		got[v.Mode+" "+v.Name] = v.Got
	}
	return got
}

func runDemoJSON(t *testing.T) (demo.Report, string, int) {
	t.Helper()
	t.Setenv("TMPDIR", t.TempDir())
	stdout, stderr, code := run(t, nil, "demo", "-o", "json")
	var rep demo.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("demo -o json: not a report (%v): %s\nstderr: %s", err, stdout, stderr)
	}
	if _, err := os.Stat(rep.Dir); !os.IsNotExist(err) {
		t.Errorf("the demo left its folder %s behind (%v)", rep.Dir, err)
	}
	return rep, stderr, code
}

// TestDemo runs `hallmark demo` as the README and CI do, and checks every
// verdict.
func TestDemo(t *testing.T) {
	rep, stderr, code := runDemoJSON(t)
	if code != ExitOK || !rep.OK {
		t.Fatalf("demo -o json: exit %d, ok %v; stderr: %s\nreport: %+v", code, rep.OK, stderr, rep)
	}
	want := map[string]string{
		"audit demo-pass":     demo.Allowed,
		"audit demo-fail":     demo.AllowedWithWarning,
		"deny demo-pass":      demo.Allowed,
		"deny demo-fail":      demo.Denied,
		"gatekeeper signed":   demo.IsSuccessTrue,
		"gatekeeper unsigned": demo.IsSuccessFalse,
	}
	got := demoVerdicts(rep)
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: got %q, want %q", k, got[k], w)
		}
	}
	if len(got) != len(want) || len(rep.Steps) != demo.StepCount {
		t.Errorf("got %d verdicts and %d steps, want %d and %d", len(got), len(rep.Steps), len(want), demo.StepCount)
	}
	for _, v := range rep.Verdicts {
		if v.Name == "demo-pass" || v.Name == "signed" {
			if len(v.Images) != 1 || !v.Images[0].Verified || v.Images[0].Signer != "CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US" {
				t.Errorf("%s %s: want one image verified and signed by brooklyn.io, got %+v", v.Mode, v.Name, v.Images)
			}
		}
		if v.Mode == "deny" && v.Name == "demo-fail" && !strings.Contains(v.Message, "no Notary Project signature") {
			t.Errorf("deny demo-fail: the denial does not say why: %q", v.Message)
		}
	}

	// The text output, as a person (or CI's log) reads it.
	t.Setenv("TMPDIR", t.TempDir())
	stdout, stderr, code := run(t, nil, "demo")
	if code != ExitOK {
		t.Fatalf("demo: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, s := range []string{
		"audit      demo-pass  allowed\n",
		"audit      demo-fail  allowed with warning: ",
		"deny       demo-fail  denied: ",
		"signature verification success, signed by CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US",
		"gatekeeper unsigned   isSuccess false",
		"ok: all 6 verdicts as expected",
	} {
		if !strings.Contains(stdout, s) {
			t.Errorf("demo output lacks %q:\n%s", s, stdout)
		}
	}
}

// TestDemoWrongVerdict proves that the demo checks its verdicts: with the
// image that should be signed left unsigned, it must exit 1 and say which
// verdicts were wrong.
func TestDemoWrongVerdict(t *testing.T) {
	demoSeam = func(o *demo.Options) { o.SkipSigning = true }
	t.Cleanup(func() { demoSeam = nil })

	rep, _, code := runDemoJSON(t)
	if code != ExitFailure || rep.OK {
		t.Fatalf("demo with the signed image unsigned: exit %d, ok %v; want exit 1, ok false", code, rep.OK)
	}
	got := demoVerdicts(rep)
	if got["deny demo-pass"] != demo.Denied || got["gatekeeper signed"] != demo.IsSuccessFalse {
		t.Errorf("verdicts on the unsigned 'signed' image: %v", got)
	}

	t.Setenv("TMPDIR", t.TempDir())
	stdout, _, code := run(t, nil, "demo")
	if code != ExitFailure || !strings.Contains(stdout, "deny       demo-pass  denied <-- WRONG, expected allowed") || !strings.Contains(stdout, "FAIL: 3 of 6 verdicts not as expected") {
		t.Errorf("demo with the signed image unsigned: exit %d, output:\n%s", code, stdout)
	}
}

// syncBuffer is a bytes.Buffer the demo writes to while the test reads it.
type syncBuffer = proctest.LockedBuffer

// TestDemoKeep runs `hallmark demo --keep`, follows the commands it prints
// (sign the unsigned image with the demo's store, verify it with the demo's
// trust material, ask the provider over HTTPS with the demo's CA), then
// stops it as Ctrl-C would and checks that it cleaned up.
func TestDemoKeep(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	t.Setenv("HALLMARK_PASSPHRASE", "not the demo's")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Execute(ctx, []string{"demo", "--keep", "-o", "json"}, strings.NewReader(""), &out, &errb)
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(errb.String(), "Press Ctrl-C") {
		select {
		case code := <-done:
			t.Fatalf("demo --keep exited (%d) before waiting:\n%s\n%s", code, out.String(), errb.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo --keep never got ready:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	var rep demo.Report
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || !rep.OK {
		t.Fatalf("demo --keep report (ok %v, %v): %s", rep.OK, err, out.String())
	}
	for _, s := range []string{"hallmark sign " + rep.UnsignedImage, "hallmark verify " + rep.UnsignedImage, "curl -sS --cacert", rep.Server + "/ratify/gatekeeper/v1/verify"} {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("--keep does not print %q:\n%s", s, errb.String())
		}
	}

	dir := rep.Dir
	if stdout, stderr, code := run(t, nil, "sign", rep.UnsignedImage, "--key", "brooklyn", "--plain-http", "--store", filepath.Join(dir, "keys"), "--passphrase-file", filepath.Join(dir, "passphrase")); code != ExitOK {
		t.Fatalf("sign with the demo's store: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if stdout, stderr, code := run(t, nil, "verify", rep.UnsignedImage, "--plain-http", "--trust-policy", filepath.Join(dir, "trustpolicy.json"), "--trust-store", filepath.Join(dir, "truststore")); code != ExitOK {
		t.Fatalf("verify with the demo's trust material: exit %d\n%s\n%s", code, stdout, stderr)
	}

	// What curl --cacert ca.pem does: the server must be trusted through
	// the CA file alone, and now pass the image just signed.
	caPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := os.ReadFile(filepath.Join(dir, "provider-request-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var pr struct {
		Response struct {
			Items []struct {
				Value struct {
					IsSuccess bool `json:"isSuccess"`
				} `json:"value"`
			} `json:"items"`
		} `json:"response"`
	}
	if err := postWithCA(t, caPEM, rep.Server+"/ratify/gatekeeper/v1/verify", body, &pr); err != nil {
		t.Fatal(err)
	}
	if len(pr.Response.Items) != 1 || !pr.Response.Items[0].Value.IsSuccess {
		t.Errorf("the image signed during --keep is not isSuccess: %+v", pr)
	}

	// The server's verdict on that request is shown to the person watching.
	// The demo names images by digest, shortened to 12 hex digits.
	short := rep.UnsignedImage[:strings.Index(rep.UnsignedImage, "@sha256:")+len("@sha256:")+12] + "..."
	if want := "server     image " + short + ": signature verification success"; !strings.Contains(errb.String(), want) {
		t.Errorf("--keep does not show the server's verdict %q:\n%s", want, errb.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != ExitOK {
			t.Errorf("demo --keep after Ctrl-C: exit %d\n%s", code, errb.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("demo --keep did not stop after its context was cancelled")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("demo --keep left %s behind (%v)", dir, err)
	}
}

func postWithCA(t *testing.T, caPEM []byte, url string, body []byte, v any) error {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 30 * time.Second}
	defer client.CloseIdleConnections()
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
