package webhook

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// withImageVolume adds an image volume (volumes[].image.reference) naming
// ref to a pod or pod template JSON of this file's helpers.
func withImageVolume(object, ref string) string {
	vol := fmt.Sprintf(`"volumes":[{"name":"data","image":{"reference":%q,"pullPolicy":"IfNotPresent"}}],"containers":`, ref)
	return strings.Replace(object, `"containers":`, vol, 1)
}

// TestImageVolumesAreVerified: the kubelet pulls and mounts an image
// volume like a container image, so an unsigned one in a signed pod or
// pod template is denied, naming the volume's image.
func TestImageVolumesAreVerified(t *testing.T) {
	h := NewValidateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	for _, tt := range []struct{ kind, group, object string }{
		{"Pod", "", withImageVolume(pod(signed+"@"+digestApp), unsigned+"@"+digestApp)},
		{"Deployment", "apps", withImageVolume(deployment(signed+"@"+digestApp), unsigned+"@"+digestApp)},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			rec := post(t, h, "/validate", reviewBody(APIVersionV1, opCreate, tt.group, tt.kind, "team-a", tt.object))
			var rv review
			if err := json.Unmarshal(rec.Body.Bytes(), &rv); err != nil {
				t.Fatal(err)
			}
			if rv.Response.Allowed || rv.Response.Status == nil || !strings.Contains(rv.Response.Status.Message, unsigned) {
				t.Fatalf("a %s mounting an unsigned image volume: response %+v, want a denial naming %s", tt.kind, rv.Response, unsigned)
			}
		})
	}
}

// TestImageVolumesArePinned: mutation pins an image volume's tag at the
// volume's own path.
func TestImageVolumesArePinned(t *testing.T) {
	h := NewMutateHandler(admission.New(&fakeVerifier{}, fakeResolver{}, admission.Policy{}, admission.Options{}), Options{})
	rec := post(t, h, "/mutate", reviewBody(APIVersionV1, opCreate, "", "Pod", "team-a", withImageVolume(pod(signed+"@"+digestApp), signed)))
	var raw struct {
		Response struct {
			Allowed bool   `json:"allowed"`
			Patch   string `json:"patch"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	patch, _ := base64.StdEncoding.DecodeString(raw.Response.Patch)
	var ops []admission.PatchOp
	_ = json.Unmarshal(patch, &ops)
	want := admission.PatchOp{Op: "replace", Path: "/spec/volumes/0/image/reference", Value: signed + "@" + digestApp}
	if !raw.Response.Allowed || len(ops) != 1 || ops[0] != want {
		t.Fatalf("mutation of a pod with a tagged image volume: allowed %v, patch %+v; want %+v", raw.Response.Allowed, ops, want)
	}
}
