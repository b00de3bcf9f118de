package cli

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/hallmark-dev/hallmark/internal/audit"
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
