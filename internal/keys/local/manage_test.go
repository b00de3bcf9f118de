package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/keys"
)

func TestProtection(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		passphrase string
		want       Protection
	}{{"a passphrase", ProtectedByPassphrase}, {"", ProtectedByStoreKey}} {
		s := testStore(t, tc.passphrase)
		mustCreate(t, s, "k", ec384Doc)
		got, err := s.Protection(ctx, keys.Ref{Name: "k"})
		if err != nil || got != tc.want {
			t.Errorf("Protection with passphrase %q = %q, %v; want %q", tc.passphrase, got, err, tc.want)
		}
	}
	s := testStore(t, "p")
	if _, err := s.Protection(ctx, keys.Ref{Name: "nosuch"}); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Protection of a missing key: %v, want ErrNotFound", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := testStore(t, "p")
	mustCreate(t, s, "gone", ec384Doc)
	if _, err := s.Rotate(ctx, "gone", nil); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "kept", ec384Doc)
	if err := s.Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	infos, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Name != "kept" {
		t.Fatalf("after Delete, List = %v, want only kept", infos)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Dir(), keysDir))
	if len(entries) != 1 {
		t.Errorf("keys/ holds %d entries after Delete, want 1 (no leftover temporary folder)", len(entries))
	}
	if err := s.Delete(ctx, "gone"); !errors.Is(err, keys.ErrNotFound) {
		t.Errorf("Delete of a deleted key: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "../kept"); !errors.Is(err, keys.ErrInvalidRef) {
		t.Errorf("Delete of ../kept: %v, want ErrInvalidRef", err)
	}
	// The deleted name can be used again, from version 1.
	if info := mustCreate(t, s, "gone", ec384Doc); info.Version != "1" {
		t.Errorf("a key re-created after Delete starts at version %s", info.Version)
	}
}
