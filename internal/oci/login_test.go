package oci_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"oras.land/oras-go/v2/registry/remote/credentials"

	"github.com/hallmark-dev/hallmark/internal/devregistry"
	"github.com/hallmark-dev/hallmark/internal/oci"
)

const (
	testUser     = "alice"
	testPassword = "correct-horse-battery"
)

// authRegistry is an in-memory registry behind HTTP basic auth.
func authRegistry(t *testing.T) string {
	t.Helper()
	reg := quietRegistry()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, pass, ok := r.BasicAuth(); !ok || user != testUser || pass != testPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="hallmark-test"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return hostOf(srv)
}

func TestLoginResolveLogout(t *testing.T) {
	ctx := t.Context()
	host := authRegistry(t)
	configPath := filepath.Join(t.TempDir(), "config.json")
	fileStore := func() credentials.Store {
		t.Helper()
		s, err := credentials.NewFileStore(configPath)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Wrong password: refused, nothing stored, password not echoed.
	err := oci.Login(ctx, oci.Options{PlainHTTP: true, CredentialsStore: fileStore()}, host, testUser, "wrong-password")
	if !errors.Is(err, oci.ErrUnauthorized) {
		t.Fatalf("Login(wrong password) error = %v, want ErrUnauthorized", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("Login() error = %q, contains the password", err)
	}
	if _, statErr := os.Stat(configPath); statErr == nil {
		t.Errorf("Login(wrong password) wrote %s", configPath)
	}

	if err := oci.Login(ctx, oci.Options{PlainHTTP: true, CredentialsStore: fileStore()}, host, testUser, testPassword); err != nil {
		t.Fatalf("Login() error = %v", err)
	}

	// A new client reading the same file is let in: push, then resolve.
	c := newClient(t, oci.Options{CredentialsStore: fileStore()})
	repo, err := c.Repository(ctx, host+"/app")
	if err != nil {
		t.Fatal(err)
	}
	image, err := devregistry.PushSampleImageTo(ctx, repo, "v1", "login")
	if err != nil {
		t.Fatalf("push with stored credentials: %v", err)
	}
	got, err := c.Resolve(ctx, host+"/app:v1")
	if err != nil || got.Digest != image.Digest {
		t.Fatalf("Resolve() = %s, %v; want %s", got.Digest, err, image.Digest)
	}

	// Without credentials the registry refuses, and the error says what to do.
	anon := newClient(t, oci.Options{})
	_, err = anon.Resolve(ctx, host+"/app:v1")
	if !errors.Is(err, oci.ErrUnauthorized) {
		t.Fatalf("Resolve() without credentials error = %v, want ErrUnauthorized", err)
	}
	if want := "hallmark login " + host; !strings.Contains(err.Error(), want) {
		t.Errorf("Resolve() error = %q, want it to contain %q", err, want)
	}

	if err := oci.Logout(ctx, oci.Options{CredentialsStore: fileStore()}, host); err != nil {
		t.Fatalf("Logout() error = %v", err)
	}
	after := newClient(t, oci.Options{CredentialsStore: fileStore()})
	if _, err := after.Resolve(ctx, host+"/app:v1"); !errors.Is(err, oci.ErrUnauthorized) {
		t.Errorf("Resolve() after Logout error = %v, want ErrUnauthorized", err)
	}
}

func TestLoginDockerConfig(t *testing.T) {
	host := authRegistry(t)
	// No credential helper can be found: the outcome depends only on
	// AllowPlaintextCredentials, not on what the machine has installed.
	t.Setenv("PATH", t.TempDir())

	t.Run("plaintext refused", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("DOCKER_CONFIG", dir)
		err := oci.Login(t.Context(), oci.Options{PlainHTTP: true}, host, testUser, testPassword)
		if !errors.Is(err, oci.ErrPlaintextCredentials) {
			t.Fatalf("Login() error = %v, want ErrPlaintextCredentials", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "config.json")); err == nil {
			t.Errorf("Login() wrote config.json although plaintext was refused")
		}
	})

	t.Run("plaintext allowed via DOCKER_CONFIG", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("DOCKER_CONFIG", dir)
		opts := oci.Options{PlainHTTP: true, AllowPlaintextCredentials: true}
		if err := oci.Login(t.Context(), opts, host, testUser, testPassword); err != nil {
			t.Fatalf("Login() error = %v", err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatalf("config.json not written: %v", err)
		}
		if !strings.Contains(string(raw), host) {
			t.Errorf("config.json = %s, want an entry for %s", raw, host)
		}

		// The zero Options read the same config.
		c, err := oci.New(oci.Options{PlainHTTP: true, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Resolve(t.Context(), host+"/app:v1")
		if !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("Resolve() error = %v, want ErrNotFound (authenticated, empty registry)", err)
		}

		// ConfigPath names the file explicitly, whatever DOCKER_CONFIG says.
		t.Setenv("DOCKER_CONFIG", t.TempDir())
		c, err = oci.New(oci.Options{PlainHTTP: true, MaxRetries: -1, ConfigPath: filepath.Join(dir, "config.json")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Resolve(t.Context(), host+"/app:v1"); !errors.Is(err, oci.ErrNotFound) {
			t.Errorf("Resolve() with ConfigPath error = %v, want ErrNotFound", err)
		}
	})
}

func TestLoginRejectsBadHost(t *testing.T) {
	for _, host := range []string{"", "https://example.com", "example.com/app", "nohost"} {
		t.Run(host, func(t *testing.T) {
			err := oci.Login(t.Context(), oci.Options{CredentialsStore: credentials.NewMemoryStore()}, host, "u", "p")
			if !errors.Is(err, oci.ErrInvalidReference) {
				t.Errorf("Login(%q) error = %v, want ErrInvalidReference", host, err)
			}
		})
	}
}
