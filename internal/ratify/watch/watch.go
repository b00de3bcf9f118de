// Package watch serves Ratify's configuration resources, read from a
// cluster, as hallmark's configuration: a serve.Source whose every change
// of the resources' specs is a new configuration generation. It writes each
// resource's status as Ratify does (issuccess, error, brieferror), so that
// `kubectl get verifier,certificatestore` says whether hallmark took it.
package watch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hallmark-dev/hallmark/internal/capped"
	"github.com/hallmark-dev/hallmark/internal/config"
	"github.com/hallmark-dev/hallmark/internal/keys/azurekv/kvurl"
	"github.com/hallmark-dev/hallmark/internal/ratify"
)

// DefaultInterval is how often the resources are listed for changes.
const DefaultInterval = 10 * time.Second

// maxBriefError caps brieferror, as Ratify shortens it for kubectl's
// column.
const maxBriefError = 100

// kinds are the resources read, in Ratify's storage version.
var kinds = []string{
	ratify.KindStore, ratify.KindNamespacedStore,
	ratify.KindKeyManagementProvider, ratify.KindNamespacedKeyManagementProvider,
	ratify.KindCertificateStore,
	ratify.KindVerifier, ratify.KindNamespacedVerifier,
	ratify.KindPolicy, ratify.KindNamespacedPolicy,
	ratify.KindExecutor,
}

// ErrNoCRDs: none of Ratify's CustomResourceDefinitions is installed.
var ErrNoCRDs = errors.New("none of Ratify's CustomResourceDefinitions (config.ratify.deislabs.io) is installed: install them with `hallmark config crds | kubectl apply -f -` or the chart's ratifyResources.installCRDs=true")

// Source reads Ratify's resources from a cluster. It implements
// serve.Source.
type Source struct {
	// Client reaches the cluster.
	Client dynamic.Interface
	// Namespace is the namespace Ratify would run in: bare names in
	// verificationCertStores resolve to CertificateStores there. Empty:
	// see Namespace().
	Namespace string
	// CosignTrustedRootFile is the Sigstore trusted root a cosign
	// Verifier's keyless identities and tLogVerify check against
	// (ratify.Options). Empty: such a Verifier does not convert.
	CosignTrustedRootFile string
	// BaseFile, if set, is a hallmark configuration file that says how to
	// serve (config.LoadServing: listen, tls, mode, admission,
	// verification, allowedRegistries), laid over the configuration made
	// from the resources before Overlay. It is read on every Load, and a
	// change to it is a change like a resource's.
	BaseFile string
	// Overlay, if set, lays the command line's settings (TLS files,
	// listen address, mode) over the configuration made from the
	// resources, before defaults and validation.
	Overlay func(*config.Config)
	// Interval is how often the resources are listed; zero: DefaultInterval.
	Interval time.Duration

	mu          sync.Mutex
	fingerprint string
	baseSum     string // BaseFile's content when Watch last looked
	// What the last Load read and found, and what the trust builds
	// since gave: the status of each resource is made from them.
	items    []listed
	problems []ratify.Finding
	origins  map[string]*ratify.Resource
	fetches  map[string]*fetched // by resource label
	// buildProblems are the last build's problems that no certificate
	// source explains; they go to the verifiers.
	buildProblems []string
}

// fetched is what the trust builds gave for one certificate store or key
// management provider.
type fetched struct {
	// when is the last fetch that gave every certificate; zero: none yet.
	when time.Time
	// props are Ratify's properties of that fetch (nil for inline ones).
	props map[string]any
	// err is why the last fetch failed; "" when it did not.
	err string
}

func gvr(kind string) schema.GroupVersionResource {
	group, version := ratify.Group(kind)
	return schema.GroupVersionResource{Group: group, Version: version, Resource: ratify.Plural(kind)}
}

// listed is one resource as read, with the object to write its status to.
type listed struct {
	res *ratify.Resource
	obj *unstructured.Unstructured
	gvr schema.GroupVersionResource
}

// list reads every resource, and the fingerprint of their specs.
func (s *Source) list(ctx context.Context) ([]listed, []ratify.Finding, string, error) {
	var (
		out      []listed
		problems []ratify.Finding
		found    bool
	)
	h := sha256.New()
	for _, kind := range kinds {
		g := gvr(kind)
		l, err := s.Client.Resource(g).List(ctx, metav1.ListOptions{})
		if apierrors.IsNotFound(err) {
			continue // this CRD is not installed
		}
		if err != nil {
			return nil, nil, "", fmt.Errorf("list %s: %w", g.Resource, err)
		}
		found = true
		items := l.Items
		sort.Slice(items, func(i, j int) bool {
			return items[i].GetNamespace()+"/"+items[i].GetName() < items[j].GetNamespace()+"/"+items[j].GetName()
		})
		for i := range items {
			obj := &items[i]
			spec, _ := json.Marshal(obj.Object["spec"])
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", kind, obj.GetNamespace(), obj.GetName(), spec)
			content := obj.UnstructuredContent()
			// The cluster's own metadata is not the resource's meaning.
			clean := map[string]any{"apiVersion": content["apiVersion"], "kind": content["kind"], "spec": content["spec"],
				"metadata": map[string]any{"name": obj.GetName(), "namespace": obj.GetNamespace()}}
			res, ps := ratify.FromObject("", clean)
			problems = append(problems, ps...)
			if res != nil {
				out = append(out, listed{res: res, obj: obj, gvr: g})
			}
		}
	}
	if !found {
		return nil, nil, "", ErrNoCRDs
	}
	return out, problems, hex.EncodeToString(h.Sum(nil)), nil
}

// Load reads the resources, converts them, writes each one's status, and
// returns the configuration, or an error listing every problem (the
// server then keeps serving the last good generation).
func (s *Source) Load(ctx context.Context) (*config.Config, error) {
	items, readProblems, fp, err := s.list(ctx)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.fingerprint = fp
	s.baseMoved() // what this Load reads is what Watch compares with
	s.mu.Unlock()
	resources := make([]*ratify.Resource, len(items))
	for i, it := range items {
		resources[i] = it.res
	}
	ns := s.Namespace
	if ns == "" {
		ns = Namespace("")
	}
	res := ratify.Convert(resources, ratify.Options{Namespace: ns, CosignTrustedRootFile: s.CosignTrustedRootFile})
	problems := append(readProblems, res.Problems...)
	var base *config.Config
	if s.BaseFile != "" {
		// hallmark's own file: its problems are not the resources' and
		// go to the log, not into their status.
		if base, err = config.LoadServing(s.BaseFile); err != nil {
			return nil, err
		}
	}
	var cfg *config.Config
	if len(problems) == 0 && res.Config != nil {
		cfg = res.Config
		if base != nil {
			cfg.TakeServing(base)
		}
		if s.Overlay != nil {
			s.Overlay(cfg)
		}
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			problems = append(problems, ratify.Finding{Resource: "hallmark configuration", Message: err.Error()})
			cfg = nil
		}
	}
	s.mu.Lock()
	s.items, s.problems, s.origins = items, problems, res.Origins
	s.mu.Unlock()
	s.writeStatus(ctx)
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = "  " + p.String()
		}
		return nil, fmt.Errorf("the Ratify resources do not make a configuration hallmark can serve exactly as Ratify would (%d problem(s)):\n%s", len(problems), strings.Join(lines, "\n"))
	}
	return cfg, nil
}

// writeStatus sets each resource's status from the problems found in it
// and, for certificate stores and key management providers, from what the
// last trust build fetched; problems about the whole set go to the
// verifiers. A status already right is not written again, so that writing
// does not look like a change.
func (s *Source) writeStatus(ctx context.Context) {
	s.mu.Lock()
	items := s.items
	want := make([]map[string]any, len(items))
	for i, it := range items {
		want[i] = s.statusLocked(it.res)
	}
	s.mu.Unlock()
	for i, it := range items {
		s.putStatus(ctx, it, want[i])
	}
}

// statusLocked is the status res should have now; s.mu is held.
func (s *Source) statusLocked(res *ratify.Resource) map[string]any {
	var mine []string
	label := res.Label()
	// Problems about the whole set go where Ratify reports verification
	// configuration: the verifiers, and Ratify v2's executors.
	isExecutor := res.Kind == ratify.KindExecutor
	isVerifier := res.Kind == ratify.KindVerifier || res.Kind == ratify.KindNamespacedVerifier || isExecutor
	for _, p := range s.problems {
		general := p.Resource == "resources" || p.Resource == "hallmark configuration"
		if p.Resource == label || (general && isVerifier) {
			msg := p.Message
			if p.Path != "" {
				msg = p.Path + ": " + msg
			}
			mine = append(mine, msg)
		}
	}
	if isVerifier {
		mine = append(mine, s.buildProblems...)
	}
	f := s.fetches[label]
	if f != nil && f.err != "" {
		mine = append(mine, f.err)
	}
	// Ratify v2 names the fields of an Executor's status succeeded and
	// briefError.
	okKey, briefKey := "issuccess", "brieferror"
	if isExecutor {
		okKey, briefKey = "succeeded", "briefError"
	}
	status := map[string]any{okKey: len(mine) == 0}
	if len(mine) > 0 {
		full := strings.Join(mine, "; ")
		brief := mine[0]
		if len(brief) > maxBriefError {
			brief = brief[:maxBriefError-3] + "..."
		}
		status["error"], status[briefKey] = full, brief
	}
	if f != nil && !f.when.IsZero() {
		status["lastfetchedtime"] = f.when.UTC().Format(time.RFC3339)
		if f.props != nil {
			status["properties"] = f.props
		}
	}
	return status
}

// putStatus writes status to the resource as the cluster holds it now.
// The status subresource is written when the CRD has one (Ratify's own
// CRDs), else the object (hallmark's, which keep status in the object).
func (s *Source) putStatus(ctx context.Context, it listed, status map[string]any) {
	c := s.Client.Resource(it.gvr)
	var ri dynamic.ResourceInterface = c
	if ns := it.obj.GetNamespace(); ns != "" {
		ri = c.Namespace(ns)
	}
	cur, err := ri.Get(ctx, it.obj.GetName(), metav1.GetOptions{})
	if err != nil {
		return // gone meanwhile; the next list sees it
	}
	old, _ := cur.Object["status"].(map[string]any)
	if sameStatus(old, status) {
		return
	}
	cur.Object["status"] = status
	if _, err = ri.UpdateStatus(ctx, cur, metav1.UpdateOptions{}); apierrors.IsNotFound(err) {
		_, err = ri.Update(ctx, cur, metav1.UpdateOptions{})
	}
	_ = err // a lost status write is retried with the next load or trust build; the configuration does not depend on it
}

// TrustBuilt records what the trust build fetched for each certificate
// store and key management provider, and rewrites the statuses: when a
// fetch fails, the status says so, and says which certificates, fetched
// when, stay in force. It implements serve.TrustReporter (which it does not import: the
// runtime is not its concern).
func (s *Source) TrustBuilt(ctx context.Context, rep config.TrustReport) {
	s.mu.Lock()
	sources := map[string]config.CertificateSource{}
	if rep.Config != nil {
		for i, ts := range rep.Config.TrustStores {
			for j, src := range ts.Certificates {
				sources[fmt.Sprintf("trustStores[%d].certificates[%d]", i, j)] = src
			}
		}
	}
	type outcome struct {
		res   *ratify.Resource
		errs  []string
		certs []map[string]any
		// revoked: what a source named is no longer in its vault
		// (deleted), so nothing of it is trusted; not a failed fetch.
		revoked []string
	}
	byLabel := map[string]*outcome{}
	var labels []string
	for _, ts := range rep.Sources {
		res := s.origins[ts.Path]
		if res == nil {
			continue
		}
		o := byLabel[res.Label()]
		if o == nil {
			o = &outcome{res: res}
			byLabel[res.Label()] = o
			labels = append(labels, res.Label())
		}
		if ts.Err != nil {
			o.errs = append(o.errs, ts.Err.Error())
			continue
		}
		if ts.Missing != nil {
			o.revoked = append(o.revoked, ts.Missing.Error())
		}
		o.certs = append(o.certs, certProperties(res.Kind, sources[ts.Path], ts, rep.Time)...)
	}
	if s.fetches == nil {
		s.fetches = map[string]*fetched{}
	}
	for _, label := range labels {
		o := byLabel[label]
		f := s.fetches[label]
		if f == nil {
			f = &fetched{}
			s.fetches[label] = f
		}
		if len(o.errs) > 0 {
			f.err = strings.Join(o.errs, "; ")
			if !f.when.IsZero() {
				f.err += fmt.Sprintf(" (fetch at %s failed; the certificates fetched at %s stay in force)", rep.Time.UTC().Format(time.RFC3339), f.when.UTC().Format(time.RFC3339))
			}
			continue
		}
		f.when, f.err, f.props = rep.Time, "", nil
		if len(o.revoked) > 0 {
			// As Ratify's status says a fetch that found nothing; unlike a
			// failed fetch, nothing fetched before stays in force.
			f.err = strings.Join(o.revoked, "; ") + " (deleted from the vault, so nothing of it is trusted now)"
		}
		if len(o.certs) > 0 {
			list := make([]any, len(o.certs))
			for i, c := range o.certs {
				list[i] = c
			}
			f.props = map[string]any{"Certificates": list}
		}
	}
	s.buildProblems = nil
	var ce *config.Error
	if rep.Err != nil && errors.As(rep.Err, &ce) {
		for _, p := range ce.Problems {
			if !fromSource(p.Path, s.origins) {
				s.buildProblems = append(s.buildProblems, p.String())
			}
		}
	} else if rep.Err != nil {
		s.buildProblems = []string{rep.Err.Error()}
	}
	s.mu.Unlock()
	s.writeStatus(ctx)
}

// fromSource reports whether a problem's path is in a certificate source
// a resource gave (its status says it).
func fromSource(path string, origins map[string]*ratify.Resource) bool {
	for p := range origins {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// certProperties are Ratify's status properties of what one source
// fetched: for a Key Vault one, per certificate version its name, version
// and when it was fetched, as Ratify's CertificateStore (CertificateName,
// Version, LastRefreshed) and KeyManagementProvider (Name, Version,
// Enabled, LastRefreshed) write them, the version being the one read from
// the vault (so a reference without one, read as its current version,
// still shows which). None for inline certificates, as Ratify.
func certProperties(kind string, src config.CertificateSource, ts config.TrustSource, when time.Time) []map[string]any {
	if src.Key == "" {
		return nil
	}
	_, ref, err := kvurl.ParseURL(src.Key)
	if err != nil {
		return nil
	}
	versions := ts.Versions
	if len(versions) == 0 {
		for range ts.Certificates {
			versions = append(versions, ref.Version)
		}
	}
	at := when.UTC().Format(time.RFC3339)
	out := make([]map[string]any, 0, len(versions)+len(ts.Disabled))
	for _, v := range versions {
		if kind == ratify.KindCertificateStore {
			out = append(out, map[string]any{"CertificateName": ref.Name, "Version": v, "LastRefreshed": at})
		} else {
			out = append(out, map[string]any{"Name": ref.Name, "Version": v, "Enabled": "true", "LastRefreshed": at})
		}
	}
	// Versions left out because the vault has them disabled, with
	// Enabled "false" as Ratify's KeyManagementProvider shows a disabled
	// one; its CertificateStore failed the whole fetch instead.
	for _, v := range ts.Disabled {
		if kind == ratify.KindCertificateStore {
			out = append(out, map[string]any{"CertificateName": ref.Name, "Version": v, "Enabled": "false", "LastRefreshed": at})
		} else {
			out = append(out, map[string]any{"Name": ref.Name, "Version": v, "Enabled": "false", "LastRefreshed": at})
		}
	}
	return out
}

func sameStatus(old, now map[string]any) bool {
	if old == nil {
		return false
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(now)
	return string(a) == string(b)
}

// Pending is what serves before the resources first make a configuration
// (serve.PendingSource): hallmark's defaults with BaseFile's settings and
// the command line's laid over them. No trust material comes from it.
func (s *Source) Pending() *config.Config {
	cfg := &config.Config{}
	if s.BaseFile != "" {
		if base, err := config.LoadServing(s.BaseFile); err == nil {
			cfg.TakeServing(base)
		}
	}
	if s.Overlay != nil {
		s.Overlay(cfg)
	}
	cfg.ApplyDefaults()
	return cfg
}

// Watch lists the resources every Interval and calls changed when any
// resource's spec changed (status writes are not changes).
func (s *Source) Watch(ctx context.Context, changed func()) {
	interval := s.Interval
	if interval <= 0 {
		interval = DefaultInterval
	}
	go func() {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			_, _, fp, err := s.list(ctx)
			if err != nil {
				continue
			}
			s.mu.Lock()
			moved := fp != s.fingerprint || s.baseMoved()
			s.mu.Unlock()
			if moved {
				changed()
			}
		}
	}()
}

// maxBaseFile caps what baseMoved reads of BaseFile; config.LoadServing
// refuses a larger file, so a change past it is a change Load reports.
const maxBaseFile = 1 << 20

// baseMoved reports whether BaseFile's content changed since it was last
// seen, remembering what it is now. s.mu is held.
func (s *Source) baseMoved() bool {
	if s.BaseFile == "" {
		return false
	}
	// Unreadable counts as content: a file that goes missing, or comes
	// back, is a change, and Load then says what is wrong. Read capped,
	// from a regular file only, as config.LoadServing reads it.
	now := "unreadable"
	if f, err := os.Open(s.BaseFile); err == nil {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if data, err := capped.Read(f, maxBaseFile); err == nil {
				sum := sha256.Sum256(data)
				now = hex.EncodeToString(sum[:])
			}
		}
		f.Close()
	}
	moved := now != s.baseSum
	s.baseSum = now
	return moved
}

// serviceAccountNamespace is where a pod finds its own namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// Namespace resolves the namespace Ratify's bare names resolve in, as
// Ratify and kubectl do: flag if set; in a pod, the pod's namespace; else
// kubeContextNamespace (the kubeconfig context's, "" if none); else
// "default".
func Namespace(kubeContextNamespace string) string {
	if b, err := os.ReadFile(serviceAccountNamespace); err == nil && strings.TrimSpace(string(b)) != "" {
		return strings.TrimSpace(string(b))
	}
	if kubeContextNamespace != "" {
		return kubeContextNamespace
	}
	return "default"
}

// KubeconfigNamespace is the current context's namespace in kubeconfig
// (empty: $KUBECONFIG, else ~/.kube/config), as kubectl uses it; "" when
// there is none.
func KubeconfigNamespace(kubeconfig string) string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	ns, _, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).Namespace()
	if err != nil {
		return ""
	}
	return ns
}
