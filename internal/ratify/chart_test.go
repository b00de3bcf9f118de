package ratify

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the Helm chart's CRD template")

// chartTemplate is where the Helm chart keeps the CRDs, installed with
// ratifyResources.installCRDs=true.
var chartTemplate = filepath.Join("..", "..", "deploy", "helm", "hallmark", "templates", "ratify-crds.yaml")

// The chart installs exactly what `hallmark config crds` prints.
func TestChartCRDs(t *testing.T) {
	want := append([]byte("{{- if .Values.ratifyResources.installCRDs }}\n"), CRDs()...)
	want = append(want, []byte("{{- end }}\n")...)
	if *update {
		if err := os.WriteFile(chartTemplate, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(chartTemplate)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is out of date with CRDs(): run go test ./internal/ratify -run TestChartCRDs -update", chartTemplate)
	}
}
