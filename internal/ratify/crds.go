package ratify

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v2"
)

// crd describes one of Ratify's CustomResourceDefinitions: the group,
// kinds, versions, scopes and printer columns are Ratify's (so that
// resources written for Ratify apply unchanged, and `kubectl get` reads the
// same), the schemas hallmark's own: spec and status are kept whole, so
// that a field Ratify would prune reaches hallmark, which reports it.
type crd struct {
	kind, plural string
	namespaced   bool
	alpha        bool // v1alpha1 is still served
	fetched      bool // the status has lastfetchedtime
	// v2 is Ratify v2's config.ratify.sh/v2alpha1, whose status says
	// succeeded and briefError where v1's says issuccess and brieferror.
	v2 bool
}

var crds = []crd{
	{kind: KindCertificateStore, plural: "certificatestores", namespaced: true, alpha: true, fetched: true},
	{kind: KindKeyManagementProvider, plural: "keymanagementproviders", fetched: true},
	{kind: KindNamespacedKeyManagementProvider, plural: "namespacedkeymanagementproviders", namespaced: true, fetched: true},
	{kind: KindNamespacedPolicy, plural: "namespacedpolicies", namespaced: true},
	{kind: KindNamespacedStore, plural: "namespacedstores", namespaced: true},
	{kind: KindNamespacedVerifier, plural: "namespacedverifiers", namespaced: true},
	{kind: KindPolicy, plural: "policies", alpha: true},
	{kind: KindStore, plural: "stores", alpha: true},
	{kind: KindVerifier, plural: "verifiers", alpha: true},
	{kind: KindExecutor, plural: "executors", v2: true},
}

// CRDs renders the CustomResourceDefinitions of Ratify's v1 resources
// (config.ratify.deislabs.io, v1beta1 stored, v1alpha1 still served where
// Ratify serves it) and of Ratify v2's Executor (config.ratify.sh,
// v2alpha1) as one multi-document YAML stream.
func CRDs() []byte {
	var b bytes.Buffer
	b.WriteString("# The CustomResourceDefinitions of Ratify's configuration resources\n# (config.ratify.deislabs.io, and Ratify v2's config.ratify.sh Executor),\n# for clusters without Ratify installed.\n")
	for _, c := range crds {
		out, err := yaml.Marshal(c.definition())
		if err != nil {
			panic(fmt.Sprintf("ratify: render the %s CRD: %v", c.kind, err)) // static data
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	return b.Bytes()
}

// Plural returns the resource name of kind, "" for a kind with no CRD here.
func Plural(kind string) string {
	for _, c := range crds {
		if c.kind == kind {
			return c.plural
		}
	}
	return ""
}

// Group returns the API group and the stored version of kind's resources,
// "" for a kind with no CRD here.
func Group(kind string) (group, version string) {
	for _, c := range crds {
		if c.kind == kind {
			if c.v2 {
				return GroupV2, VersionV2
			}
			return GroupV1, VersionBeta1
		}
	}
	return "", ""
}

func (c crd) definition() yaml.MapSlice {
	group, version := GroupV1, VersionBeta1
	statusDesc := "issuccess, error, brieferror (and lastfetchedtime, properties for certificate sources), written by hallmark as Ratify writes them."
	if c.v2 {
		group, version = GroupV2, VersionV2
		statusDesc = "succeeded, error, briefError, as Ratify v2 writes them."
	}
	scope := "Cluster"
	if c.namespaced {
		scope = "Namespaced"
	}
	object := func(desc string) yaml.MapSlice {
		return yaml.MapSlice{
			{Key: "description", Value: desc},
			{Key: "type", Value: "object"},
			{Key: "x-kubernetes-preserve-unknown-fields", Value: true},
		}
	}
	schema := yaml.MapSlice{{Key: "openAPIV3Schema", Value: yaml.MapSlice{
		{Key: "description", Value: c.kind + " is one of Ratify's configuration resources, read by hallmark."},
		{Key: "type", Value: "object"},
		{Key: "properties", Value: yaml.MapSlice{
			{Key: "apiVersion", Value: yaml.MapSlice{{Key: "type", Value: "string"}}},
			{Key: "kind", Value: yaml.MapSlice{{Key: "type", Value: "string"}}},
			{Key: "metadata", Value: yaml.MapSlice{{Key: "type", Value: "object"}}},
			{Key: "spec", Value: object("What the resource configures; hallmark reports every field it does not map.")},
			{Key: "status", Value: object(statusDesc)},
		}},
	}}}
	columns := []any{
		yaml.MapSlice{{Key: "jsonPath", Value: ".status.issuccess"}, {Key: "name", Value: "IsSuccess"}, {Key: "type", Value: "boolean"}},
		yaml.MapSlice{{Key: "jsonPath", Value: ".status.brieferror"}, {Key: "name", Value: "Error"}, {Key: "type", Value: "string"}},
	}
	if c.v2 {
		columns = []any{
			yaml.MapSlice{{Key: "jsonPath", Value: ".status.succeeded"}, {Key: "name", Value: "Succeeded"}, {Key: "type", Value: "boolean"}},
			yaml.MapSlice{{Key: "jsonPath", Value: ".status.briefError"}, {Key: "name", Value: "Error"}, {Key: "type", Value: "string"}},
		}
	}
	if c.fetched {
		columns = append(columns, yaml.MapSlice{{Key: "jsonPath", Value: ".status.lastfetchedtime"}, {Key: "name", Value: "LastFetchedTime"}, {Key: "type", Value: "date"}})
	}
	var versions []any
	if c.alpha {
		versions = append(versions, yaml.MapSlice{
			{Key: "deprecated", Value: true},
			{Key: "deprecationWarning", Value: fmt.Sprintf("v1alpha1 of the %s API has been deprecated. Please migrate to v1beta1.", c.kind)},
			{Key: "name", Value: VersionAlpha1},
			{Key: "schema", Value: schema},
			{Key: "served", Value: true},
			{Key: "storage", Value: false},
		})
	}
	versions = append(versions, yaml.MapSlice{
		{Key: "additionalPrinterColumns", Value: columns},
		{Key: "name", Value: version},
		{Key: "schema", Value: schema},
		{Key: "served", Value: true},
		{Key: "storage", Value: true},
	})
	return yaml.MapSlice{
		{Key: "apiVersion", Value: "apiextensions.k8s.io/v1"},
		{Key: "kind", Value: "CustomResourceDefinition"},
		{Key: "metadata", Value: yaml.MapSlice{
			{Key: "name", Value: c.plural + "." + group},
			{Key: "labels", Value: yaml.MapSlice{{Key: "app.kubernetes.io/part-of", Value: "hallmark"}}},
		}},
		{Key: "spec", Value: yaml.MapSlice{
			{Key: "group", Value: group},
			{Key: "names", Value: yaml.MapSlice{
				{Key: "kind", Value: c.kind},
				{Key: "listKind", Value: c.kind + "List"},
				{Key: "plural", Value: c.plural},
				{Key: "singular", Value: strings.ToLower(c.kind)},
			}},
			{Key: "scope", Value: scope},
			{Key: "versions", Value: versions},
		}},
	}
}
