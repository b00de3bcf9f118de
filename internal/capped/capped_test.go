package capped

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		size   int
		tooBig bool
	}{
		{"empty", 0, false},
		{"under", 9, false},
		{"at the cap", 10, false},
		{"one over", 11, true},
		{"far over", 1000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := os.WriteFile(p, []byte(strings.Repeat("x", tt.size)), 0o600); err != nil {
				t.Fatal(err)
			}
			data, err := ReadFile(p, 10)
			if tt.tooBig {
				if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), p) {
					t.Fatalf("ReadFile = %v, want ErrTooLarge naming %s", err, p)
				}
				return
			}
			if err != nil || len(data) != tt.size {
				t.Fatalf("ReadFile = %d bytes, %v; want %d bytes", len(data), err, tt.size)
			}
		})
	}
	if _, err := ReadFile(filepath.Join(dir, "missing"), 10); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}
