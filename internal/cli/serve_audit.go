package cli

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hallmark-dev/hallmark/internal/audit"
	"github.com/hallmark-dev/hallmark/internal/lease"
)

// eventReason is the reason of the Events the periodic audit posts.
const eventReason = "ImageNotVerified"

// maxEventMessage caps an Event's message; the API server refuses longer
// ones (1 KiB is the documented note limit for events.k8s.io).
const maxEventMessage = 1024

var eventsGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// auditClient builds the Kubernetes client of the periodic audit: the
// kubeconfig given, else $KUBECONFIG or ~/.kube/config, else in-cluster.
func auditClient(kubeconfig string) (dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = kubeconfig
	kcfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubernetes client configuration for --audit-interval: %w", err)
	}
	kcfg.UserAgent = "hallmark/" + Version
	return dynamic.NewForConfig(kcfg)
}

// parseLease reads --audit-lease NAMESPACE/NAME.
func parseLease(s string) (namespace, name string, err error) {
	namespace, name, ok := strings.Cut(s, "/")
	bad := func(what string, errs []string) error {
		return usageError{fmt.Errorf("--audit-lease %q: %s %s; write NAMESPACE/NAME, e.g. hallmark/hallmark-audit", s, what, strings.Join(errs, "; "))}
	}
	if !ok {
		return "", "", usageError{fmt.Errorf("--audit-lease %q: write NAMESPACE/NAME, e.g. hallmark/hallmark-audit", s)}
	}
	if errs := validation.IsDNS1123Label(namespace); len(errs) > 0 {
		return "", "", bad("the namespace is not valid:", errs)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", bad("the name is not valid:", errs)
	}
	return namespace, name, nil
}

// leaseIdentity names this replica in the lease: the host name (the pod's
// name in a cluster) and a random suffix, so that a restarted pod is a new
// holder.
func leaseIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "hallmark"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s_%x", host, b)
}

// runAudit runs the periodic audit until ctx is done: on this replica
// alone when lease is empty, else only while this replica holds the Lease
// NAMESPACE/NAME, so that a Deployment of several replicas audits once per
// interval and posts each Event once. It returns when ctx is done and the
// Lease, if held, is released.
func (s *serveState) runAudit(ctx context.Context, client dynamic.Interface, leaseName string, interval time.Duration, events bool) {
	if leaseName == "" {
		s.metrics.SetAuditLeader(true)
		s.auditLoop(ctx, client, interval, events)
		return
	}
	namespace, name, _ := parseLease(leaseName) // checked by runServe
	s.metrics.SetAuditLeader(false)
	err := lease.Run(ctx, client.Resource(lease.GVR).Namespace(namespace), lease.Options{
		Namespace: namespace,
		Name:      name,
		Identity:  leaseIdentity(),
		Logger:    s.log.With("component", "audit"),
	}, func(ctx context.Context) {
		s.metrics.SetAuditLeader(true)
		defer s.metrics.SetAuditLeader(false)
		s.auditLoop(ctx, client, interval, events)
	})
	if err != nil {
		s.log.Error("the periodic audit cannot use its lease", "error", err.Error())
	}
}

// auditLoop audits the cluster's pods and workloads every interval with the
// admitter in force, exports the outcome as metrics and, with events, posts
// a Warning Event on each object with an image that does not verify.
func (s *serveState) auditLoop(ctx context.Context, client dynamic.Interface, interval time.Duration, events bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.auditOnce(ctx, client, events)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *serveState) auditOnce(ctx context.Context, client dynamic.Interface, events bool) {
	objs, err := audit.List(ctx, client, "")
	if err != nil {
		s.log.Warn("periodic audit could not list pods and workloads", "error", err.Error())
		return
	}
	report := audit.Check(ctx, s.cur.Load().admitter, objs)
	images := map[string]int{}
	failing := map[string][]audit.Finding{}
	for _, f := range report.Findings {
		images[string(f.Verdict)]++
		if f.Verdict == audit.VerdictFail {
			k := f.Namespace + "/" + f.Kind + "/" + f.Name
			failing[k] = append(failing[k], f)
		}
	}
	s.metrics.ObserveAudit(len(objs)-len(failing), len(failing), images, time.Now())
	s.log.Info("periodic audit", "objects", len(objs), "noncompliant", len(failing), "failed_images", images[string(audit.VerdictFail)])
	if !events {
		return
	}
	keys := make([]string, 0, len(failing))
	for k := range failing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := postEvent(ctx, client, failing[k]); err != nil {
			s.log.Warn("periodic audit could not post an event", "object", k, "error", err.Error())
		}
	}
}

// postEvent posts one Warning Event on the object of findings (all of one
// object), listing its images that do not verify.
func postEvent(ctx context.Context, client dynamic.Interface, findings []audit.Finding) error {
	f := findings[0]
	var msg strings.Builder
	fmt.Fprintf(&msg, "hallmark: %d image(s) not verified:", len(findings))
	for _, x := range findings {
		fmt.Fprintf(&msg, " %s (%s);", x.Image, x.Reason)
	}
	text := strings.TrimSuffix(msg.String(), ";")
	if len(text) > maxEventMessage {
		text = text[:maxEventMessage-3] + "..."
	}
	apiVersion := "v1"
	switch f.Kind {
	case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet":
		apiVersion = "apps/v1"
	case "Job", "CronJob":
		apiVersion = "batch/v1"
	}
	now := metav1.Now()
	ev := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1",
		"kind":       "Event",
		"metadata": map[string]any{
			"generateName": strings.ToLower(f.Name) + ".hallmark-",
			"namespace":    f.Namespace,
		},
		"involvedObject": map[string]any{
			"apiVersion": apiVersion,
			"kind":       f.Kind,
			"name":       f.Name,
			"namespace":  f.Namespace,
		},
		"reason":         eventReason,
		"message":        text,
		"type":           "Warning",
		"source":         map[string]any{"component": "hallmark"},
		"firstTimestamp": now.UTC().Format(time.RFC3339),
		"lastTimestamp":  now.UTC().Format(time.RFC3339),
		"count":          int64(1),
	}}
	_, err := client.Resource(eventsGVR).Namespace(f.Namespace).Create(ctx, ev, metav1.CreateOptions{})
	return err
}
