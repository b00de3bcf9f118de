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

	"github.com/hallmark-dev/hallmark/internal/config"
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
	// Overlay, if set, lays the command line's settings (TLS files,
	// listen address, mode) over the configuration made from the
	// resources, before defaults and validation.
	Overlay func(*config.Config)
	// Interval is how often the resources are listed; zero: DefaultInterval.
	Interval time.Duration

	mu          sync.Mutex
	fingerprint string
}

func gvr(kind string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: ratify.GroupV1, Version: ratify.VersionBeta1, Resource: ratify.Plural(kind)}
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
	var cfg *config.Config
	if len(problems) == 0 && res.Config != nil {
		cfg = res.Config
		if s.Overlay != nil {
			s.Overlay(cfg)
		}
		cfg.ApplyDefaults()
		if err := cfg.Validate(); err != nil {
			problems = append(problems, ratify.Finding{Resource: "hallmark configuration", Message: err.Error()})
			cfg = nil
		}
	}
	s.writeStatus(ctx, items, problems)
	if len(problems) > 0 {
		lines := make([]string, len(problems))
		for i, p := range problems {
			lines[i] = "  " + p.String()
		}
		return nil, fmt.Errorf("the Ratify resources do not make a configuration hallmark can serve exactly as Ratify would (%d problem(s)):\n%s", len(problems), strings.Join(lines, "\n"))
	}
	return cfg, nil
}

// writeStatus sets each resource's status from the problems found in it;
// problems about the whole set go to the verifiers. A status already
// right is not written again, so that writing does not look like a change.
func (s *Source) writeStatus(ctx context.Context, items []listed, problems []ratify.Finding) {
	for _, it := range items {
		var mine []string
		label := it.res.Label()
		for _, p := range problems {
			general := p.Resource == "resources" || p.Resource == "hallmark configuration"
			isVerifier := it.res.Kind == ratify.KindVerifier || it.res.Kind == ratify.KindNamespacedVerifier
			if p.Resource == label || (general && isVerifier) {
				msg := p.Message
				if p.Path != "" {
					msg = p.Path + ": " + msg
				}
				mine = append(mine, msg)
			}
		}
		status := map[string]any{"issuccess": len(mine) == 0}
		if len(mine) > 0 {
			full := strings.Join(mine, "; ")
			brief := mine[0]
			if len(brief) > maxBriefError {
				brief = brief[:maxBriefError-3] + "..."
			}
			status["error"], status["brieferror"] = full, brief
		}
		old, _ := it.obj.Object["status"].(map[string]any)
		if sameStatus(old, status) {
			continue
		}
		obj := it.obj.DeepCopy()
		obj.Object["status"] = status
		c := s.Client.Resource(it.gvr)
		var err error
		if obj.GetNamespace() != "" {
			_, err = c.Namespace(obj.GetNamespace()).Update(ctx, obj, metav1.UpdateOptions{})
		} else {
			_, err = c.Update(ctx, obj, metav1.UpdateOptions{})
		}
		_ = err // a lost status write is retried with the next change; the configuration does not depend on it
	}
}

func sameStatus(old, now map[string]any) bool {
	if old == nil {
		return false
	}
	a, _ := json.Marshal(old)
	b, _ := json.Marshal(now)
	return string(a) == string(b)
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
			moved := fp != s.fingerprint
			s.mu.Unlock()
			if moved {
				changed()
			}
		}
	}()
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
