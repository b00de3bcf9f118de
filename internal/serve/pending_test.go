package serve

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/config"
)

// waitingSource is a memorySource that is a PendingSource: what the
// cluster's Ratify resources are to serve.
type waitingSource struct {
	*memorySource
	pending *config.Config
}

func (s waitingSource) Pending() *config.Config { return s.pending }

// validate posts a pod with image to the runtime's /validate and returns
// the AdmissionReview's response.
func validate(t *testing.T, h http.Handler, image string) (allowed bool, message string, warnings []string) {
	t.Helper()
	body := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","operation":"CREATE",` +
		`"kind":{"group":"","version":"v1","kind":"Pod"},"resource":{"group":"","version":"v1","resource":"pods"},"namespace":"team",` +
		`"object":{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team"},"spec":{"containers":[{"name":"c","image":"` + image + `"}]}}}}`
	req := httptest.NewRequest(http.MethodPost, ValidatePath, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("/validate: status %d: %s", rec.Code, rec.Body)
	}
	var out struct {
		Response struct {
			Allowed  bool     `json:"allowed"`
			Warnings []string `json:"warnings"`
			Status   struct {
				Message string `json:"message"`
			} `json:"status"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("/validate answer %s: %v", rec.Body, err)
	}
	return out.Response.Allowed, out.Response.Status.Message, out.Response.Warnings
}

// TestRuntimePendingFirstLoad: with a PendingSource whose first load fails,
// the runtime starts not ready, denies in deny mode (and warns in audit
// mode) with a message that says why, and comes up with the first
// configuration that loads: on the source's watch, or on its own retry.
func TestRuntimePendingFirstLoad(t *testing.T) {
	image := "registry.example/app@sha256:" + strings.Repeat("a", 64)
	for _, mode := range []config.Mode{config.ModeDeny, config.ModeAudit} {
		t.Run(string(mode), func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			mem := &memorySource{cfg: runtimeConfig(t), err: errors.New("certificate store kv: vault unreachable")}
			pending := config.Default()
			pending.Mode = mode
			pending.ApplyDefaults()
			r, err := Start(ctx, waitingSource{mem, pending}, Options{})
			if err != nil {
				t.Fatalf("Start with a PendingSource whose first load fails: %v", err)
			}
			if err := r.Ready(); !errors.Is(err, ErrNotLoaded) || !strings.Contains(err.Error(), "vault unreachable") {
				t.Fatalf("readiness before the first generation: %v, want ErrNotLoaded with the cause", err)
			}
			h := r.Handler()
			allowed, msg, warnings := validate(t, h, image)
			switch mode {
			case config.ModeDeny:
				if allowed || !strings.Contains(msg, "no configuration in force") {
					t.Fatalf("deny mode before the first generation: allowed %v, message %q", allowed, msg)
				}
			case config.ModeAudit:
				if !allowed || !strings.Contains(strings.Join(warnings, "\n"), "no configuration in force") {
					t.Fatalf("audit mode before the first generation: allowed %v, warnings %q", allowed, warnings)
				}
			}
			podObj := []byte(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"team"},"spec":{"containers":[{"name":"c","image":"registry.example/app:v1"}]}}`)
			mu := live{r}.Mutate(ctx, admission.Request{Namespace: "team", Kind: "Pod", Object: podObj})
			pinMsg := mu.Message + strings.Join(mu.Warnings, "\n")
			if mu.Allowed != (mode == config.ModeAudit) || len(mu.Patch) != 0 || !strings.Contains(pinMsg, "no configuration in force") {
				t.Fatalf("mutation before the first generation: allowed %v, patch %v, message %q", mu.Allowed, mu.Patch, pinMsg)
			}
			if strings.Contains(msg, "vault unreachable") {
				t.Fatalf("the denial repeats the load's error, which may name internal addresses: %q", msg)
			}

			// The cause is fixed and the source sees it.
			mem.mu.Lock()
			mem.err = nil
			c := *mem.cfg
			c.Mode = mode
			mem.cfg = &c
			changed := mem.changed
			mem.mu.Unlock()
			if changed == nil {
				t.Fatal("Start did not watch the source")
			}
			changed()
			if err := r.Ready(); err != nil || r.Generation() != 1 {
				t.Fatalf("after the fix: ready %v, generation %d", err, r.Generation())
			}
			if r.Config() != r.cur.Load().Config {
				t.Fatal("Config is not the generation in force's")
			}
		})
	}
}

// TestRuntimePendingRetries: the runtime retries on its own, for causes
// the source cannot see change (a vault that comes back).
func TestRuntimePendingRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	mem := &memorySource{cfg: runtimeConfig(t), err: errors.New("vault unreachable")}
	pending := config.Default()
	pending.ApplyDefaults()
	r, err := Start(ctx, waitingSource{mem, pending}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	mem.mu.Lock()
	mem.err = nil
	mem.mu.Unlock()
	select {
	case <-r.loaded:
	case <-ctx.Done():
		t.Fatal("no retry put the configuration in force")
	}
	if err := r.Ready(); err != nil {
		t.Fatalf("after the retry: %v", err)
	}
}

// TestRuntimeFileSourceFailsStart: a source that is not a PendingSource
// fails the start, as a configuration file does.
func TestRuntimeFileSourceFailsStart(t *testing.T) {
	mem := &memorySource{cfg: runtimeConfig(t), err: errors.New("half-written file")}
	if _, err := Start(t.Context(), mem, Options{}); err == nil {
		t.Fatal("Start succeeded with a first configuration that does not load")
	}
}
