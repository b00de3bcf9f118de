package audit

import (
	"context"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// TestImageVolumes: an unsigned image volume of a running pod or of a
// workload's template is a failing finding at the volume's path.
func TestImageVolumes(t *testing.T) {
	const good, bad = "reg.example/good@sha256:1111111111111111111111111111111111111111111111111111111111111111", "reg.example/bad@sha256:2222222222222222222222222222222222222222222222222222222222222222"
	a := admission.New(tableVerifier{good: true}, noResolver{}, admission.Policy{}, admission.Options{})
	spec := `{"containers":[{"name":"c","image":"` + good + `"}],"volumes":[{"name":"v","image":{"reference":"` + bad + `"}}]}`
	r := Check(context.Background(), a, []Object{
		{Kind: "Pod", Namespace: "a", Name: "p", JSON: []byte(`{"spec":` + spec + `}`)},
		{Group: "batch", Kind: "CronJob", Namespace: "a", Name: "c", JSON: []byte(`{"spec":{"jobTemplate":{"spec":{"template":{"spec":` + spec + `}}}}}`)},
	})
	want := map[string]string{
		"Pod":     "/spec/volumes/0/image/reference",
		"CronJob": "/spec/jobTemplate/spec/template/spec/volumes/0/image/reference",
	}
	if r.Failed != 2 {
		t.Fatalf("failed %d, want the image volume of each object: %+v", r.Failed, r.Findings)
	}
	for _, f := range r.Findings {
		if f.Verdict == VerdictFail && (f.Image != bad || len(f.Paths) != 1 || f.Paths[0] != want[f.Kind]) {
			t.Errorf("failing finding %+v, want %s at %s", f, bad, want[f.Kind])
		}
	}
}
