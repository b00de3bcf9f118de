// Package goldentest compares JSON answers with golden files in a test's
// testdata folder, or rewrites them when the test runs with -update. It is
// imported by tests only.
package goldentest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// JSON indents got and compares it with testdata/name, or writes it there
// when update is set. It fails t if got is not JSON or differs.
func JSON(t *testing.T, name string, got []byte, update bool) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, got, "", "  "); err != nil {
		t.Fatalf("response is not JSON: %v\n%s", err, got)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name)
	if update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), buf.String()); diff != "" {
		t.Errorf("response differs from %s (-want +got):\n%s", path, diff)
	}
}
