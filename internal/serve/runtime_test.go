package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/signing/signingtest"
)

// memorySource is a Source whose configuration the test changes; Watch
// hands the test the callback, as a source reading cluster resources
// would call it.
type memorySource struct {
	mu      sync.Mutex
	cfg     *config.Config
	err     error
	changed func()
}

func (s *memorySource) Load(context.Context) (*config.Config, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	c := *s.cfg
	return &c, nil
}

func (s *memorySource) Watch(_ context.Context, changed func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.changed = changed
}

func (s *memorySource) set(mode config.Mode, err error) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := *s.cfg
	c.Mode = mode
	s.cfg, s.err = &c, err
	return s.changed
}

// runtimeConfig is a configuration that builds without a registry: an
// inline trust policy and a trust store of one inline root.
func runtimeConfig(t *testing.T) *config.Config {
	t.Helper()
	root := signingtest.Root(t, signingtest.Key(t, signingtest.EC256), "runtime test root")
	c, err := config.Parse([]byte(`tls: {certFile: tls.crt, keyFile: tls.key}
trustStores:
  - name: prod
    type: ca
    certificates: [{pem: "` + jsonLines(pemOf(root)) + `"}]
trustPolicy:
  inline:
    version: "1.0"
    trustPolicies:
      - name: p
        registryScopes: ["*"]
        signatureVerification: {level: strict}
        trustStores: ["ca:prod"]
        trustedIdentities: ["*"]
`))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// jsonLines escapes newlines for a double-quoted YAML string.
func jsonLines(s string) string {
	out := make([]byte, 0, len(s))
	for i := range len(s) {
		if s[i] == '\n' {
			out = append(out, '\\', 'n')
			continue
		}
		out = append(out, s[i])
	}
	return string(out)
}

// TestRuntimeGenerations: every change the source reports becomes a new
// generation with a cache of its own, so that no verdict cached under one
// configuration is served under the next; a change that does not load
// leaves the generation in force.
func TestRuntimeGenerations(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	src := &memorySource{cfg: runtimeConfig(t)}
	r, err := Start(ctx, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(); err != nil || r.Generation() != 1 || r.Config().Mode != config.ModeDeny {
		t.Fatalf("after Start: ready %v, generation %d, mode %s", err, r.Generation(), r.Config().Mode)
	}
	if src.changed == nil {
		t.Fatal("Start did not watch the source")
	}
	first := r.cur.Load()

	src.set(config.ModeAudit, nil)()
	second := r.cur.Load()
	if r.Generation() != 2 || second.Config.Mode != config.ModeAudit {
		t.Fatalf("after a change: generation %d, mode %s", r.Generation(), second.Config.Mode)
	}
	if second.Cache == first.Cache || second.Admitter == first.Admitter {
		t.Fatal("the new generation shares the previous one's cache or admitter")
	}

	src.set(config.ModeDeny, errors.New("half-written file"))()
	if r.Generation() != 2 || r.cur.Load() != second {
		t.Fatalf("a configuration that does not load replaced the generation in force (now %d)", r.Generation())
	}
	if err := r.Reload(ctx); err == nil {
		t.Fatal("Reload of a configuration that does not load succeeded")
	}

	bad := runtimeConfig(t)
	bad.TrustPolicy.Inline = []byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:missing"],"trustedIdentities":["*"]}]}`)
	src.mu.Lock()
	src.cfg, src.err = bad, nil
	src.mu.Unlock()
	if err := r.Reload(ctx); err == nil || r.cur.Load() != second {
		t.Fatalf("a configuration that does not build was put in force (err %v)", err)
	}
}

// TestReportTrustLogsDisabledVersions: a Key Vault version left out of a
// trust store because the vault has it disabled is said in the log, with
// the source and the versions, so that an operator sees why a signature
// made with it fails.
func TestReportTrustLogsDisabledVersions(t *testing.T) {
	var buf bytes.Buffer
	r := &Runtime{src: &memorySource{}, log: slog.New(slog.NewJSONHandler(&buf, nil))}
	r.reportTrust(context.Background(), config.TrustReport{Sources: []config.TrustSource{
		{Path: "trustStores[0].certificates[0]", Versions: []string{"aa"}},
		{Path: "trustStores[0].certificates[1]", Versions: []string{"bb"}, Disabled: []string{"cc", "dd"}},
	}})
	var rec struct {
		Level, Msg, Source string
		Versions           []string
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("log records:\n%s\nwant one, for the source with disabled versions", buf.String())
	}
	if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Level != "INFO" || rec.Source != "trustStores[0].certificates[1]" || !slices.Equal(rec.Versions, []string{"cc", "dd"}) || !strings.Contains(rec.Msg, "disabled") {
		t.Errorf("log record %+v", rec)
	}

	// Said again only when it changes; at warn when the source trusts
	// nothing.
	for _, step := range []struct {
		name     string
		versions []string
		disabled []string
		want     string // level logged, "" for none
	}{
		{"the same again", []string{"bb"}, []string{"cc", "dd"}, ""},
		{"one more disabled", []string{"ee"}, []string{"bb", "cc", "dd"}, "INFO"},
		{"every version disabled", nil, []string{"bb", "cc", "dd"}, "WARN"},
		{"still every version", nil, []string{"bb", "cc", "dd"}, ""},
		{"enabled again", []string{"bb", "cc", "dd"}, nil, ""},
		{"disabled again", nil, []string{"bb"}, "WARN"},
	} {
		buf.Reset()
		r.reportTrust(context.Background(), config.TrustReport{Sources: []config.TrustSource{
			{Path: "trustStores[0].certificates[1]", Versions: step.versions, Disabled: step.disabled},
		}})
		out := strings.TrimSpace(buf.String())
		switch {
		case step.want == "" && out != "":
			t.Errorf("%s: logged %s, want nothing", step.name, out)
		case step.want != "" && (strings.Count(out, "\n") != 0 || !strings.Contains(out, `"level":"`+step.want+`"`)):
			t.Errorf("%s: logged %q, want one record at %s", step.name, out, step.want)
		}
	}
}
