package admission

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// podSpec is a pod spec with an init container, two containers sharing an
// image, an ephemeral container, and image volumes, one of them sharing
// the containers' image.
const podSpec = `{
	"initContainers": [{"name": "init", "image": "ghcr.io/org/init:v1"}],
	"containers": [
		{"name": "app", "image": "ghcr.io/org/app:v1", "ports": [{"containerPort": 80}]},
		{"name": "sidecar", "image": "ghcr.io/org/app:v1"}
	],
	"ephemeralContainers": [{"name": "debug", "image": "ghcr.io/org/debug@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}],
	"volumes": [
		{"name": "scratch", "emptyDir": {}},
		{"name": "tools", "image": {"reference": "ghcr.io/org/tools:v1", "pullPolicy": "IfNotPresent"}},
		{"name": "app", "image": {"reference": "ghcr.io/org/app:v1"}}
	],
	"unknownField": {"image": "not/read:this"}
}`

func wantImages(prefix string) []Image {
	return []Image{
		{Ref: "ghcr.io/org/init:v1", Paths: []string{prefix + "/initContainers/0/image"}},
		{Ref: "ghcr.io/org/app:v1", Paths: []string{prefix + "/containers/0/image", prefix + "/containers/1/image", prefix + "/volumes/2/image/reference"}},
		{Ref: "ghcr.io/org/debug@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", Paths: []string{prefix + "/ephemeralContainers/0/image"}},
		{Ref: "ghcr.io/org/tools:v1", Paths: []string{prefix + "/volumes/1/image/reference"}},
	}
}

func TestImages(t *testing.T) {
	template := `{"metadata":{"labels":{"app":"web"}},"spec":` + podSpec + `}`
	tests := []struct {
		group, kind string
		object      string
		prefix      string
	}{
		{"", "Pod", `{"kind":"Pod","metadata":{"name":"x"},"spec":` + podSpec + `,"status":{}}`, "/spec"},
		{"", "ReplicationController", `{"spec":{"replicas":2,"template":` + template + `}}`, "/spec/template/spec"},
		{"apps", "Deployment", `{"spec":{"template":` + template + `}}`, "/spec/template/spec"},
		{"apps", "ReplicaSet", `{"spec":{"template":` + template + `}}`, "/spec/template/spec"},
		{"apps", "StatefulSet", `{"spec":{"template":` + template + `}}`, "/spec/template/spec"},
		{"apps", "DaemonSet", `{"spec":{"template":` + template + `}}`, "/spec/template/spec"},
		{"batch", "Job", `{"spec":{"template":` + template + `}}`, "/spec/template/spec"},
		{"batch", "CronJob", `{"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":` + template + `}}}}`, "/spec/jobTemplate/spec/template/spec"},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			if !Supported(tt.group, tt.kind) {
				t.Errorf("Supported(%q, %q) = false", tt.group, tt.kind)
			}
			got, err := Images(tt.group, tt.kind, []byte(tt.object))
			if err != nil {
				t.Fatalf("Images() error = %v", err)
			}
			if diff := cmp.Diff(wantImages(tt.prefix), got); diff != "" {
				t.Errorf("Images() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestImagesEmpty(t *testing.T) {
	tests := []struct {
		name, group, kind, object string
	}{
		{"pod without spec", "", "Pod", `{"metadata":{}}`},
		{"null spec", "", "Pod", `{"spec":null}`},
		{"no containers", "", "Pod", `{"spec":{}}`},
		{"null lists", "", "Pod", `{"spec":{"containers":null,"initContainers":null}}`},
		{"replication controller without template", "", "ReplicationController", `{"spec":{"replicas":0}}`},
		{"cronjob with null jobTemplate", "batch", "CronJob", `{"spec":{"jobTemplate":null}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Images(tt.group, tt.kind, []byte(tt.object))
			if err != nil || len(got) != 0 {
				t.Errorf("Images() = %v, %v; want no images and no error", got, err)
			}
		})
	}
}

func TestImagesKeepsEmptyImage(t *testing.T) {
	// A container without an image must fail verification, not vanish.
	got, err := Images("", "Pod", []byte(`{"spec":{"containers":[{"name":"a"},{"name":"b","image":null}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{Ref: "", Paths: []string{"/spec/containers/0/image", "/spec/containers/1/image"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Images() mismatch (-want +got):\n%s", diff)
	}
}

func TestImagesFieldNamesAreExact(t *testing.T) {
	// encoding/json would read "Image" as "image"; Kubernetes does not, and
	// neither may hallmark, or it would verify an image the kubelet never
	// runs.
	got, err := Images("", "Pod", []byte(`{"spec":{"containers":[{"image":"ghcr.io/org/real:v1","Image":"ghcr.io/org/decoy:v1"}],"Containers":[{"image":"ghcr.io/org/decoy:v2"}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Image{{Ref: "ghcr.io/org/real:v1", Paths: []string{"/spec/containers/0/image"}}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Images() mismatch (-want +got):\n%s", diff)
	}
}

func TestImagesErrors(t *testing.T) {
	many := make([]string, MaxContainers+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"image":"ghcr.io/org/app:v%d"}`, i)
	}
	tests := []struct {
		name, group, kind, object string
		want                      error
		wantText                  string
	}{
		{"unknown kind", "", "Service", `{}`, ErrUnsupportedKind, `"Service"`},
		{"kind in the wrong group", "example.com", "Deployment", `{}`, ErrUnsupportedKind, `"example.com/Deployment"`},
		{"pod in the apps group", "apps", "Pod", `{}`, ErrUnsupportedKind, `"apps/Pod"`},
		{"empty object", "", "Pod", ``, ErrMalformedObject, "empty object"},
		{"null object", "", "Pod", `null`, ErrMalformedObject, "empty object"},
		{"not JSON", "", "Pod", `{"spec":`, ErrMalformedObject, "the object is not a JSON object"},
		{"object is a list", "", "Pod", `[]`, ErrMalformedObject, "the object is not a JSON object"},
		{"spec is a string", "", "Pod", `{"spec":"x"}`, ErrMalformedObject, "/spec is not a JSON object"},
		{"template is a number", "apps", "Deployment", `{"spec":{"template":1}}`, ErrMalformedObject, "/spec/template is not a JSON object"},
		{"containers is an object", "", "Pod", `{"spec":{"containers":{"image":"x"}}}`, ErrMalformedObject, "/spec/containers is not a list"},
		{"container is a string", "", "Pod", `{"spec":{"containers":["ghcr.io/x:v1"]}}`, ErrMalformedObject, "/spec/containers/0 is not a JSON object"},
		{"container is null", "", "Pod", `{"spec":{"containers":[null]}}`, ErrMalformedObject, "/spec/containers/0 is null"},
		{"image is a number", "", "Pod", `{"spec":{"initContainers":[{"image":5}]}}`, ErrMalformedObject, "/spec/initContainers/0/image is not a string"},
		{"image is an object", "", "Pod", `{"spec":{"containers":[{"image":{"ref":"x"}}]}}`, ErrMalformedObject, "/spec/containers/0/image is not a string"},
		{"volumes is an object", "", "Pod", `{"spec":{"volumes":{"image":{"reference":"x"}}}}`, ErrMalformedObject, "/spec/volumes is not a list"},
		{"volume is null", "", "Pod", `{"spec":{"volumes":[null]}}`, ErrMalformedObject, "/spec/volumes/0 is null"},
		{"volume is a string", "", "Pod", `{"spec":{"volumes":["x"]}}`, ErrMalformedObject, "/spec/volumes/0 is not a JSON object"},
		{"image volume is a string", "", "Pod", `{"spec":{"volumes":[{"name":"v","image":"ghcr.io/x:v1"}]}}`, ErrMalformedObject, "/spec/volumes/0/image is not a JSON object"},
		{"reference is a number", "apps", "Deployment", `{"spec":{"template":{"spec":{"volumes":[{"image":{"reference":5}}]}}}}`, ErrMalformedObject, "/spec/template/spec/volumes/0/image/reference is not a string"},
		{"too many image volumes", "", "Pod", `{"spec":{"containers":[` + strings.Join(many[1:], ",") + `],"volumes":[{"image":{"reference":"a"}},{"image":{"reference":"b"}}]}}`, ErrTooManyImages, "more than 256"},
		{"too many containers", "", "Pod", `{"spec":{"containers":[` + strings.Join(many, ",") + `]}}`, ErrTooManyImages, "more than 256"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Images(tt.group, tt.kind, []byte(tt.object))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Images() error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantText) {
				t.Errorf("Images() error = %q, want it to contain %q", err, tt.wantText)
			}
		})
	}
}

// FuzzImages: Images reads objects straight from admission requests. It
// must never panic, must fail only with a sentinel, and every path it
// returns must be distinct, name an image field, and hold exactly the
// reference returned for it (absent or null for ""), so that what is
// verified is what a patch at that path replaces.
func FuzzImages(f *testing.F) {
	f.Add("", "Pod", `{"spec":`+podSpec+`}`)
	f.Add("batch", "CronJob", `{"spec":{"jobTemplate":{"spec":{"template":{"spec":`+podSpec+`}}}}}`)
	f.Add("apps", "Deployment", `{"spec":{"template":{"spec":{"containers":[{"image":"a/b:c"},{"image":null}]}}}}`)
	f.Add("", "Pod", `{"spec":{"containers":[{"image":"\u0000"}],"containers":[]}}`)
	f.Add("", "Pod", `{"spec":{"containers":[1]}}`)
	f.Add("", "Pod", `{"spec":{"volumes":[{"image":{"reference":"a/b:c"}},{"image":{}},{"image":null},{"emptyDir":{}}],"containers":[{"image":"a/b:c"}]}}`)
	f.Fuzz(func(t *testing.T, group, kind, object string) {
		images, err := Images(group, kind, []byte(object))
		if err != nil {
			if !errors.Is(err, ErrUnsupportedKind) && !errors.Is(err, ErrMalformedObject) && !errors.Is(err, ErrTooManyImages) {
				t.Fatalf("Images() error %v matches no sentinel", err)
			}
			return
		}
		paths := map[string]bool{}
		refs := map[string]bool{}
		for _, img := range images {
			if refs[img.Ref] {
				t.Errorf("image %q returned twice", img.Ref)
			}
			refs[img.Ref] = true
			if len(img.Paths) == 0 {
				t.Errorf("image %q has no path", img.Ref)
			}
			for _, p := range img.Paths {
				if paths[p] || !strings.HasPrefix(p, "/spec/") || !(strings.HasSuffix(p, "/image") || strings.HasSuffix(p, "/image/reference")) {
					t.Errorf("bad or repeated path %q", p)
				}
				paths[p] = true
				if got, ok := atPointer(object, p); !ok || got != img.Ref {
					t.Errorf("path %q holds %q (found %v), want %q", p, got, ok, img.Ref)
				}
			}
		}
		if len(paths) > MaxContainers {
			t.Errorf("%d containers read, more than MaxContainers", len(paths))
		}
	})
}

// atPointer returns the string at the JSON pointer p of doc; an absent or
// null value is "", true; anything else on the way is false.
func atPointer(doc, p string) (string, bool) {
	var node any
	if err := json.Unmarshal([]byte(doc), &node); err != nil {
		return "", false
	}
	for _, part := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
		switch n := node.(type) {
		case map[string]any:
			node = n[part]
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(n) {
				return "", false
			}
			node = n[i]
		default:
			return "", false
		}
	}
	switch v := node.(type) {
	case nil:
		return "", true
	case string:
		return v, true
	}
	return "", false
}
