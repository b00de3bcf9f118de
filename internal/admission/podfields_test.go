package admission

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// imageField reports whether a string field of a Kubernetes API struct
// names an image the kubelet pulls: a field called Image (containers), or
// ending in Image, or a Reference of an image source (volumes[].image).
// ImagePullPolicy and the like are not strings ending in "Image".
func imageField(owner reflect.Type, f reflect.StructField) bool {
	if f.Type.Kind() != reflect.String || notPulled[owner.Name()+"."+f.Name] {
		return false
	}
	if strings.HasSuffix(f.Name, "Image") {
		return true
	}
	return f.Name == "Reference" && strings.Contains(owner.Name(), "Image")
}

// notPulled are fields named like images that the kubelet pulls nothing
// from, each with the reason.
var notPulled = map[string]bool{
	// The name of a Ceph RADOS block device, mapped from the Ceph cluster
	// (and removed from Kubernetes 1.31's in-tree plugins).
	"RBDVolumeSource.RBDImage": true,
}

// fillImages sets every image-bearing string field reachable from v to a
// distinct reference, creating one element of every list and every
// optional struct on the way, and returns the JSON pointers it set. Types
// already on the path are not entered again (recursive types).
func fillImages(v reflect.Value, pointer string, onPath map[reflect.Type]bool, next *int, found map[string]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if onPath[v.Type().Elem()] || v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		v.Set(reflect.New(v.Type().Elem()))
		fillImages(v.Elem(), pointer, onPath, next, found)
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fillImages(v.Index(0), pointer+"/0", onPath, next, found)
	case reflect.Struct:
		t := v.Type()
		if onPath[t] {
			return
		}
		onPath[t] = true
		defer delete(onPath, t)
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			at := pointer + "/" + name
			if f.Anonymous && name == "" {
				at = pointer // inlined by encoding/json
			}
			if imageField(t, f) {
				*next++
				ref := fmt.Sprintf("registry.example/image-%d:v1", *next)
				v.Field(i).SetString(ref)
				found[ref] = at
				continue
			}
			fillImages(v.Field(i), at, onPath, next, found)
		}
	}
}

// TestEveryPodImageFieldIsRead walks the Pod type of k8s.io/api, sets every
// field that names an image to a distinct reference, and checks that Images
// finds each at its path. A Kubernetes release that adds a field the
// kubelet pulls an image from fails this test until hallmark reads it.
func TestEveryPodImageFieldIsRead(t *testing.T) {
	var pod corev1.Pod
	found := map[string]string{}
	n := 0
	fillImages(reflect.ValueOf(&pod.Spec).Elem(), "/spec", map[reflect.Type]bool{}, &n, found)
	if len(found) < 4 {
		t.Fatalf("found only %v: the walk no longer sees containers and image volumes", found)
	}
	data, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	images, err := Images("", "Pod", data)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, img := range images {
		got[img.Ref] = img.Paths
	}
	for ref, path := range found {
		if !slices.Contains(got[ref], path) {
			t.Errorf("the pod field %s names an image hallmark does not read (Images found %v)", path, got[ref])
		}
	}
	t.Logf("image fields of a pod: %v", found)
}
