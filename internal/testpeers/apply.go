package testpeers

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// ApplyYAML creates the objects of a YAML stream ("---" between documents)
// through dyn, as `kubectl apply` does for objects that do not exist yet.
// Resource names are the kinds' lower-case plurals ("policies",
// "customresourcedefinitions"), which holds for the kinds the tests apply.
func ApplyYAML(t testing.TB, dyn dynamic.Interface, stream string) {
	t.Helper()
	for _, doc := range strings.Split(stream, "\n---\n") {
		var obj map[string]any
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		gv, err := schema.ParseGroupVersion(u.GetAPIVersion())
		if err != nil {
			t.Fatal(err)
		}
		plural := strings.ToLower(u.GetKind())
		if strings.HasSuffix(plural, "y") {
			plural = strings.TrimSuffix(plural, "y") + "ies"
		} else {
			plural += "s"
		}
		c := dyn.Resource(schema.GroupVersionResource{Group: gv.Group, Version: gv.Version, Resource: plural})
		if ns := u.GetNamespace(); ns != "" {
			_, err = c.Namespace(ns).Create(context.Background(), u, metav1.CreateOptions{})
		} else {
			_, err = c.Create(context.Background(), u, metav1.CreateOptions{})
		}
		if err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
	}
}
