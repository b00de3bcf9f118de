package oci_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"oras.land/oras-go/v2/errdef"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// statusServer answers every request with status and a distribution-spec
// error body.
func statusServer(t *testing.T, status int, code string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"errors":[{"code":%q,"message":"test"}]}`, code)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestClassifyStatus(t *testing.T) {
	tests := []struct {
		status    int
		code      string
		wantErr   error // nil: left unclassified
		transient bool
		errText   string
	}{
		{http.StatusUnauthorized, "UNAUTHORIZED", oci.ErrUnauthorized, false, "refused the credentials (401): run `hallmark login HOST --plain-http`"},
		{http.StatusForbidden, "DENIED", oci.ErrForbidden, false, "denied access to HOST/app (403)"},
		{http.StatusNotFound, "MANIFEST_UNKNOWN", oci.ErrNotFound, false, `tag "v1" not found in HOST/app`},
		{http.StatusTooManyRequests, "TOOMANYREQUESTS", oci.ErrUnavailable, true, "rate limiting"},
		{http.StatusRequestTimeout, "UNKNOWN", oci.ErrUnavailable, true, "408"},
		{http.StatusInternalServerError, "UNKNOWN", oci.ErrUnavailable, true, "500 Internal Server Error"},
		{http.StatusBadGateway, "UNKNOWN", oci.ErrUnavailable, true, "502"},
		{http.StatusServiceUnavailable, "UNAVAILABLE", oci.ErrUnavailable, true, "503"},
		{http.StatusBadRequest, "UNSUPPORTED", nil, false, "400"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			srv := statusServer(t, tt.status, tt.code)
			host := hostOf(srv)
			c := newClient(t, oci.Options{})

			_, err := c.Resolve(t.Context(), host+"/app:v1")
			if err == nil {
				t.Fatal("Resolve() error = nil, want an error")
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("Resolve() error = %v, want %v", err, tt.wantErr)
			}
			if got := oci.IsTransient(err); got != tt.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, got, tt.transient)
			}
			if want := strings.ReplaceAll(tt.errText, "HOST", host); !strings.Contains(err.Error(), want) {
				t.Errorf("Resolve() error = %q, want it to contain %q", err, want)
			}
			var e *oci.Error
			if tt.wantErr != nil {
				if !errors.As(err, &e) {
					t.Fatalf("Resolve() error = %T, want *oci.Error", err)
				}
				if e.StatusCode != tt.status || e.Registry != host {
					t.Errorf("Error{StatusCode: %d, Registry: %q}, want {%d, %q}", e.StatusCode, e.Registry, tt.status, host)
				}
			}

			// Listing resolves the subject first and must fail the same way.
			_, _, err = c.ListSignatures(t.Context(), host+"/app@"+testDigest)
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("ListSignatures() error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestRetryRidesOutBlips(t *testing.T) {
	host := startRegistry(t, false)
	pushImage(t, host, "app", "v1", "retry")

	// A proxy that fails the first request with 503.
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		out := r.Clone(r.Context())
		out.URL.Scheme, out.URL.Host, out.RequestURI = "http", host, ""
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(srv.Close)

	c := newClient(t, oci.Options{MaxRetries: 1})
	if _, err := c.Resolve(t.Context(), hostOf(srv)+"/app:v1"); err != nil {
		t.Fatalf("Resolve() through one 503 error = %v, want success on retry", err)
	}
	if got := calls.Load(); got != 2 {
		t.Errorf("registry saw %d requests, want 2", got)
	}
}

func TestHangingRegistry(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; returns when the client gives up
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, oci.Options{MaxRetries: 2})

	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	_, err := c.Resolve(ctx, hostOf(srv)+"/app:v1")
	if !errors.Is(err, oci.ErrUnavailable) {
		t.Errorf("Resolve() error = %v, want ErrUnavailable", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Resolve() error = %v, want it to keep context.DeadlineExceeded", err)
	}
	if !oci.IsTransient(err) {
		t.Errorf("IsTransient(%v) = false, want true", err)
	}
}

func TestUnreachableRegistry(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	host := ln.Addr().String()
	ln.Close() // nothing listens there now

	c := newClient(t, oci.Options{})
	_, err = c.Resolve(t.Context(), host+"/app:v1")
	if !errors.Is(err, oci.ErrUnavailable) || !oci.IsTransient(err) {
		t.Errorf("Resolve() error = %v, want transient ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), "cannot reach "+host) {
		t.Errorf("Resolve() error = %q, want it to say it cannot reach %s", err, host)
	}
}

func TestClassifyForeignErrors(t *testing.T) {
	plain := errors.New("something else")
	tests := []struct {
		name      string
		err       error
		want      error
		transient bool
	}{
		{"nil", nil, nil, false},
		{"unknown stays as is", plain, plain, false},
		{"oras not found", fmt.Errorf("x: %w", errdef.ErrNotFound), oci.ErrNotFound, false},
		{"oras size limit", errdef.ErrSizeExceedsLimit, oci.ErrTooLarge, false},
		{"cancelled", context.Canceled, oci.ErrUnavailable, true},
		{"deadline", fmt.Errorf("wrapped: %w", context.DeadlineExceeded), oci.ErrUnavailable, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := oci.Classify(tt.err)
			if tt.want == nil {
				if got != nil {
					t.Fatalf("Classify(nil) = %v, want nil", got)
				}
				return
			}
			if !errors.Is(got, tt.want) {
				t.Errorf("Classify(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if !errors.Is(got, tt.err) {
				t.Errorf("Classify(%v) = %v, lost the original error", tt.err, got)
			}
			if again := oci.Classify(got); again != got {
				t.Errorf("Classify(Classify(err)) = %v, want it unchanged", again)
			}
			if oci.IsTransient(tt.err) != tt.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", tt.err, !tt.transient, tt.transient)
			}
		})
	}
}

func TestErrorRedactsURLSecrets(t *testing.T) {
	cause := errors.New(`GET "https://user:hunter2@blobs.example.com/data?X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA": EOF`)
	err := &oci.Error{Kind: oci.ErrUnavailable, Summary: "cannot reach blobs.example.com", Err: cause}
	got := err.Error()
	for _, secret := range []string{"hunter2", "deadbeef", "AKIA", "user:"} {
		if strings.Contains(got, secret) {
			t.Errorf("Error() = %q, contains %q", got, secret)
		}
	}
	if !strings.Contains(got, "https://blobs.example.com/data") {
		t.Errorf("Error() = %q, want the redacted URL kept", got)
	}
}
