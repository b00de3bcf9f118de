package serve

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
	"k8s.io/client-go/dynamic"

	"github.com/hallmark-dev/hallmark/internal/audit"
	"github.com/hallmark-dev/hallmark/internal/lease"
	"github.com/hallmark-dev/hallmark/internal/server"
)

// EventReason is the reason of the Events the periodic audit posts.
const EventReason = "ImageNotVerified"

// maxEventMessage caps an Event's message; the API server refuses longer
// ones (1 KiB is the documented note limit for events.k8s.io).
const maxEventMessage = 1024

var eventsGVR = schema.GroupVersionResource{Version: "v1", Resource: "events"}

// Audit configures the periodic audit of running workloads.
type Audit struct {
	// Client reaches the cluster (audit.Connect builds it).
	Client dynamic.Interface
	// Interval is how often the cluster is audited; it must be positive.
	Interval time.Duration
	// Events posts a Warning Event (reason EventReason) on each object
	// with an image that does not verify.
	Events bool
	// LeaseNamespace and LeaseName, when LeaseName is set, name the
	// coordination.k8s.io Lease this replica must hold to audit, so that
	// one replica of several audits. Empty: this replica audits alone.
	LeaseNamespace, LeaseName string
}

// RunAudit runs the periodic audit with the generation in force until ctx
// is done: on this replica alone when a.LeaseName is empty, else only while
// this replica holds the Lease, so that a Deployment of several replicas
// audits once per interval and posts each Event once. It returns when ctx
// is done and the Lease, if held, is released.
func (r *Runtime) RunAudit(ctx context.Context, a Audit) {
	if a.LeaseName == "" {
		r.metrics.SetAuditLeader(true)
		r.auditLoop(ctx, a)
		return
	}
	r.metrics.SetAuditLeader(false)
	err := lease.Run(ctx, a.Client.Resource(lease.GVR).Namespace(a.LeaseNamespace), lease.Options{
		Namespace: a.LeaseNamespace,
		Name:      a.LeaseName,
		Identity:  leaseIdentity(),
		Logger:    r.log.With("component", "audit"),
	}, func(ctx context.Context) {
		r.metrics.SetAuditLeader(true)
		defer r.metrics.SetAuditLeader(false)
		r.auditLoop(ctx, a)
	})
	if err != nil {
		r.log.Error("the periodic audit cannot use its lease", "error", err.Error())
	}
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

// auditLoop audits at once and then every interval until ctx is done.
func (r *Runtime) auditLoop(ctx context.Context, a Audit) {
	r.auditOnce(ctx, a)
	server.Poll(ctx, a.Interval, func() { r.auditOnce(ctx, a) })
}

// auditOnce audits the cluster's pods and workloads with the admitter in
// force, exports the outcome as metrics and, with a.Events, posts a Warning
// Event on each object with an image that does not verify.
func (r *Runtime) auditOnce(ctx context.Context, a Audit) {
	g := r.cur.Load()
	if g == nil {
		return // nothing verifies before the first generation
	}
	objs, err := audit.List(ctx, a.Client, "")
	if err != nil {
		r.log.Warn("periodic audit could not list pods and workloads", "error", err.Error())
		return
	}
	report := audit.Check(ctx, g.Admitter, objs)
	images := map[string]int{}
	failing := map[string][]audit.Finding{}
	for _, f := range report.Findings {
		images[string(f.Verdict)]++
		if f.Verdict == audit.VerdictFail {
			k := f.Namespace + "/" + f.Kind + "/" + f.Name
			failing[k] = append(failing[k], f)
		}
	}
	r.metrics.ObserveAudit(len(objs)-len(failing), len(failing), images, time.Now())
	r.log.Info("periodic audit", "objects", len(objs), "noncompliant", len(failing), "failed_images", images[string(audit.VerdictFail)])
	if !a.Events {
		return
	}
	keys := make([]string, 0, len(failing))
	for k := range failing {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := postEvent(ctx, a.Client, failing[k]); err != nil {
			r.log.Warn("periodic audit could not post an event", "object", k, "error", err.Error())
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
		// Events are read by the namespace's users: the public reason,
		// without the trust policy's stores and identities.
		fmt.Fprintf(&msg, " %s (%s);", x.Image, x.PublicReason)
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
		"reason":         EventReason,
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
