// Package ratify reads Ratify's configuration resources (the custom
// resources of config.ratify.deislabs.io v1beta1 and v1alpha1, and Ratify
// v2's config.ratify.sh/v2alpha1 Executor) and turns them into hallmark's
// configuration, so that a cluster configured for Ratify can switch without
// rewriting it.
//
// Reading is strict: every field of a resource is either mapped onto
// hallmark's configuration or reported, with the resource and its field
// path, as a Problem (hallmark would then not verify exactly what Ratify
// verifies) or a Note (something Ratify itself ignores, or that changes
// nothing about what is admitted). Nothing is dropped without a word.
package ratify

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/strict"
)

// API groups and versions of the resources read.
const (
	GroupV1       = "config.ratify.deislabs.io"
	GroupV2       = "config.ratify.sh"
	VersionBeta1  = "v1beta1"
	VersionAlpha1 = "v1alpha1"
	VersionV2     = "v2alpha1"
)

// Kinds read.
const (
	KindStore                           = "Store"
	KindNamespacedStore                 = "NamespacedStore"
	KindKeyManagementProvider           = "KeyManagementProvider"
	KindNamespacedKeyManagementProvider = "NamespacedKeyManagementProvider"
	KindCertificateStore                = "CertificateStore"
	KindVerifier                        = "Verifier"
	KindNamespacedVerifier              = "NamespacedVerifier"
	KindPolicy                          = "Policy"
	KindNamespacedPolicy                = "NamespacedPolicy"
	KindExecutor                        = "Executor"
)

// Caps on input, which comes from files and from the cluster.
const (
	// MaxDocumentBytes caps one input (file or stream): Ratify's resources
	// are a few kilobytes, inline certificates included.
	MaxDocumentBytes = 4 << 20
	// maxDocuments caps the YAML documents of one input.
	maxDocuments = 1000
	// maxValues caps the values a document expands to, so that YAML
	// aliases cannot blow a small input up.
	maxValues = 100000
	// maxDepth caps nesting.
	maxDepth = 64
)

// Resource is one Ratify resource as read: its identity and its spec as
// plain values (maps, lists, strings, numbers, booleans).
type Resource struct {
	// Source names where it was read from ("store.yaml", "store.yaml#2"
	// for the second document of a file).
	Source     string
	APIVersion string
	Kind       string
	Name       string
	// Namespace is metadata.namespace; empty when the document has none
	// (it then lands in the namespace it is applied to).
	Namespace string
	// Spec is the resource's spec.
	Spec map[string]any
	// Status is the resource's status, when the document has one (a
	// resource exported from a cluster); it is never read for meaning.
	Status map[string]any
}

// ID names the resource for people: "Verifier/verifier-notation".
func (r *Resource) ID() string {
	if r.Namespace != "" {
		return r.Kind + "/" + r.Namespace + "/" + r.Name
	}
	return r.Kind + "/" + r.Name
}

// Finding is something to tell about an imported resource.
type Finding struct {
	// Resource is the resource's ID, or the source for a document that is
	// not a resource.
	Resource string `json:"resource"`
	// Path is the field path inside it, e.g. "spec.parameters.useHttp".
	Path string `json:"path,omitempty"`
	// Message says what hallmark does about it, or why it cannot.
	Message string `json:"message"`
}

func (f Finding) String() string {
	if f.Path == "" {
		return f.Resource + ": " + f.Message
	}
	return f.Resource + ": " + f.Path + ": " + f.Message
}

// findings collects problems and notes.
type findings struct {
	problems, notes []Finding
}

func (fs *findings) problem(res, path, format string, args ...any) {
	fs.problems = append(fs.problems, Finding{Resource: res, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (fs *findings) note(res, path, format string, args ...any) {
	fs.notes = append(fs.notes, Finding{Resource: res, Path: path, Message: fmt.Sprintf(format, args...)})
}

// ErrNotResources marks input that holds no Ratify resource at all.
var ErrNotResources = errors.New("no Ratify resource")

// Decode reads the Ratify resources of one input of YAML documents
// (separated by "---"; a kubectl List's items are read too). Documents of
// other kinds are reported as problems. source names the input in
// findings.
func Decode(source string, data []byte) ([]*Resource, []Finding) {
	var fs findings
	if len(data) > MaxDocumentBytes {
		fs.problem(source, "", "is larger than %d bytes; Ratify's resources are a few kilobytes", MaxDocumentBytes)
		return nil, fs.problems
	}
	docs := strict.NewYAMLReader(data, yamlLimits)
	var out []*Resource
	for i := 1; ; i++ {
		doc, probs, err := docs.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		name := source
		if i > 1 {
			name = fmt.Sprintf("%s#%d", source, i)
		}
		if err != nil && !errors.Is(err, strict.ErrTooManyValues) {
			fs.problem(name, "", "is %v", err)
			break
		}
		if i > maxDocuments {
			fs.problem(source, "", "holds more than %d documents", maxDocuments)
			break
		}
		if err != nil {
			fs.problem(name, "", "expands to more than %d values (YAML aliases?)", maxValues)
			continue
		}
		if doc.Kind == strict.Null {
			continue // an empty document, as between two "---"
		}
		if len(probs) > 0 {
			for _, p := range probs {
				fs.problem(name, p.Path, "%s", p.Message)
			}
			continue
		}
		out = append(out, decodeObject(name, doc.Value(), &fs)...)
	}
	return out, fs.problems
}

// yamlText reads a YAML document that a resource holds in a string field
// (a CertificateStore's certificate list), by the rules of the resources
// themselves. It returns nil for text that is not one document of string
// keys, each given once.
func yamlText(text string) any {
	docs := strict.NewYAMLReader([]byte(text), yamlLimits)
	n, probs, err := docs.Next()
	if err != nil || len(probs) > 0 || repeats(n) {
		return nil
	}
	if _, _, err := docs.Next(); !errors.Is(err, io.EOF) {
		return nil
	}
	return n.Value()
}

// repeats reports whether a key is given twice anywhere in n.
func repeats(n *strict.Node) bool {
	if len(n.Dups) > 0 {
		return true
	}
	for _, e := range n.Elems {
		if repeats(e) {
			return true
		}
	}
	for _, v := range n.Vals {
		if repeats(v) {
			return true
		}
	}
	return false
}

// yamlLimits are the caps on reading one input.
var yamlLimits = strict.YAMLLimits{MaxValues: maxValues, MaxDepth: maxDepth}

// decodeObject reads one document: a resource, or a List of them.
func decodeObject(source string, v any, fs *findings) []*Resource {
	m, ok := v.(map[string]any)
	if !ok {
		fs.problem(source, "", "is %s, not a Kubernetes resource", describe(v))
		return nil
	}
	kind, _ := m["kind"].(string)
	apiVersion, _ := m["apiVersion"].(string)
	if kind == "List" || strings.HasSuffix(kind, "List") && m["items"] != nil {
		items, ok := m["items"].([]any)
		if !ok {
			fs.problem(source, "items", "is %s, not a list", describe(m["items"]))
			return nil
		}
		var out []*Resource
		for i, it := range items {
			out = append(out, decodeObject(fmt.Sprintf("%s items[%d]", source, i), it, fs)...)
		}
		return out
	}
	group, version, _ := strings.Cut(apiVersion, "/")
	if group != GroupV1 && group != GroupV2 {
		fs.problem(source, "", "is %s %q, not one of Ratify's resources (%s or %s)", strict.Clip(kind), strict.Clip(apiVersion), GroupV1, GroupV2)
		return nil
	}
	if !knownVersion(group, version, kind) {
		fs.problem(source, "apiVersion", "%s is not a version Ratify serves %s in", strict.Clip(apiVersion), strict.Clip(kind))
		return nil
	}
	r := &Resource{Source: source, APIVersion: apiVersion, Kind: kind}
	if source == "" {
		source = kind
	}
	rd := reader{res: source, fs: fs}
	top := rd.object("", m, "apiVersion", "kind", "metadata", "spec", "status")
	meta := rd.object("metadata", top["metadata"], "*")
	r.Name, _ = meta["name"].(string)
	r.Namespace, _ = meta["namespace"].(string)
	if r.Name == "" {
		fs.problem(source, "metadata.name", "required")
		return nil
	}
	id := r.label()
	rd.res = id
	if !namespaced(kind) && r.Namespace != "" {
		fs.note(id, "metadata.namespace", "%s is cluster-scoped: the namespace is ignored, as Kubernetes ignores it", kind)
		r.Namespace = ""
	}
	for _, k := range sortedKeys(meta) {
		switch k {
		case "name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields", "finalizers", "ownerReferences":
		default:
			fs.note(id, "metadata."+k, "not used")
		}
	}
	if top["spec"] == nil {
		r.Spec = map[string]any{}
	} else if spec, ok := top["spec"].(map[string]any); ok {
		r.Spec = spec
	} else {
		fs.problem(id, "spec", "is %s, not an object", describe(top["spec"]))
		return nil
	}
	r.Status, _ = top["status"].(map[string]any)
	return []*Resource{r}
}

// knownVersion reports whether Ratify serves kind in group/version.
func knownVersion(group, version, kind string) bool {
	switch group {
	case GroupV2:
		return version == VersionV2 && (kind == KindExecutor || kind == "NamespacedExecutor")
	case GroupV1:
		switch version {
		case VersionBeta1:
			switch kind {
			case KindStore, KindNamespacedStore, KindKeyManagementProvider, KindNamespacedKeyManagementProvider,
				KindCertificateStore, KindVerifier, KindNamespacedVerifier, KindPolicy, KindNamespacedPolicy:
				return true
			}
		case VersionAlpha1:
			switch kind {
			case KindStore, KindCertificateStore, KindVerifier, KindPolicy:
				return true
			}
		}
	}
	return false
}

// namespaced reports whether kind is namespace-scoped in Ratify's CRDs.
func namespaced(kind string) bool {
	switch kind {
	case KindCertificateStore, KindNamespacedStore, KindNamespacedKeyManagementProvider, KindNamespacedVerifier, KindNamespacedPolicy, "NamespacedExecutor":
		return true
	}
	return false
}

// reader reads the fields of one resource, reporting what is wrong.
type reader struct {
	res string
	fs  *findings
}

// object reads v as an object with the given fields ("*": any); unknown
// fields are problems. A nil v is an empty object.
func (r reader) object(path string, v any, fields ...string) map[string]any {
	if v == nil {
		return map[string]any{}
	}
	m, ok := v.(map[string]any)
	if !ok {
		r.fs.problem(r.res, path, "is %s, not an object", describe(v))
		return map[string]any{}
	}
	if len(fields) == 1 && fields[0] == "*" {
		return m
	}
	for _, k := range sortedKeys(m) {
		known := false
		for _, f := range fields {
			if f == k {
				known = true
				break
			}
		}
		if !known {
			msg := "unknown field"
			if s := strict.Suggest(k, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			r.fs.problem(r.res, strict.Field(path, k), "%s: Ratify ignores it, and hallmark cannot tell what it was meant to do; remove or correct it", msg)
		}
	}
	return m
}

// str reads an optional string field.
func (r reader) str(path string, m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		r.fs.problem(r.res, strict.Field(path, key), "is %s, not a string", describe(v))
		return ""
	}
	return s
}

// boolean reads an optional boolean field; Ratify also takes "true".
func (r reader) boolean(path string, m map[string]any, key string) bool {
	switch v := m[key].(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		switch strings.ToLower(v) {
		case "true":
			return true
		case "false", "":
			return false
		}
	}
	r.fs.problem(r.res, strict.Field(path, key), "is %s, not true or false", describe(m[key]))
	return false
}

// list reads an optional list field.
func (r reader) list(path string, m map[string]any, key string) []any {
	v, ok := m[key]
	if !ok || v == nil {
		return nil
	}
	l, ok := v.([]any)
	if !ok {
		r.fs.problem(r.res, strict.Field(path, key), "is %s, not a list", describe(v))
		return nil
	}
	return l
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "empty"
	case string:
		return fmt.Sprintf("the string %q", strict.Clip(t))
	case bool:
		return fmt.Sprintf("the boolean %v", t)
	case int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", t)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "an object"
	}
	return fmt.Sprintf("a %T", v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// label names the resource and where it was read, for findings.
func (r *Resource) label() string {
	if r.Source == "" {
		return r.ID()
	}
	return r.ID() + " (" + r.Source + ")"
}

// FromObject reads one resource already decoded from JSON, as a Kubernetes
// client returns it (an unstructured object's content). source names it in
// findings.
func FromObject(source string, obj map[string]any) (*Resource, []Finding) {
	var fs findings
	n, probs := strict.FromValue(obj, maxDepth)
	if len(probs) > 0 {
		for _, p := range probs {
			fs.problem(source, p.Path, "%s", p.Message)
		}
		return nil, fs.problems
	}
	rs := decodeObject(source, n.Value(), &fs)
	if len(rs) != 1 {
		return nil, fs.problems
	}
	return rs[0], fs.problems
}

// Label names the resource and where it was read, as findings do.
func (r *Resource) Label() string { return r.label() }
