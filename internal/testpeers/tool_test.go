package testpeers

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestCacheDirKey pins how a peer's cache folder is named: the module's
// folder name and the first 16 hex digits of the SHA-256 of its go.mod and
// go.sum, one after the other (what `cat go.mod go.sum | sha256sum` gives,
// as .ci/run keys staticcheck). CI keeps the folders between runs: a
// different derivation would rebuild every peer, for many minutes.
func TestCacheDirKey(t *testing.T) {
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	for _, tl := range []*tool{cosign, gatekeeper, helm, opa, ratify, kubeAPIServer} {
		modDir := filepath.Join(moduleRoot(), "tools", tl.module)
		mod, err := os.ReadFile(filepath.Join(modDir, "go.mod"))
		if err != nil {
			t.Fatal(err)
		}
		sum, err := os.ReadFile(filepath.Join(modDir, "go.sum"))
		if err != nil {
			t.Fatal(err)
		}
		want := filepath.Join(cache, "hallmark", fmt.Sprintf("%s-%x", tl.module, sha256.Sum256(append(mod, sum...)))[:len(tl.module)+1+16])
		got, err := cacheDir(modDir, tl.module+"-")
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s builds into %s, want %s", tl.name, got, want)
		}
	}
}
