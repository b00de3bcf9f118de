package audit

import (
	"context"
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// pageSize is how many objects one list call asks for. The API server
// pages large lists with it, so an audit of a big cluster never holds one
// response with every pod in memory at once.
const pageSize = 500

// sources are the kinds List reads, with their resources.
var sources = []struct {
	kind string
	gvr  schema.GroupVersionResource
}{
	{"Pod", schema.GroupVersionResource{Version: "v1", Resource: "pods"}},
	{"ReplicationController", schema.GroupVersionResource{Version: "v1", Resource: "replicationcontrollers"}},
	{"Deployment", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}},
	{"ReplicaSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}},
	{"StatefulSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "statefulsets"}},
	{"DaemonSet", schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "daemonsets"}},
	{"Job", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}},
	{"CronJob", schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "cronjobs"}},
}

// List reads every Pod, ReplicationController, Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job and CronJob in namespace ("" for all
// namespaces) through client. It needs list permission on each (the Helm
// chart's ClusterRole grants it). Objects are kept as JSON, as the API
// server serves them, so their images are read by the same code as in
// admission.
func List(ctx context.Context, client dynamic.Interface, namespace string) ([]Object, error) {
	var objs []Object
	for _, s := range sources {
		opts := metav1.ListOptions{Limit: pageSize}
		for {
			l, err := client.Resource(s.gvr).Namespace(namespace).List(ctx, opts)
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", s.gvr.Resource, err)
			}
			for _, item := range l.Items {
				data, err := json.Marshal(item.Object)
				if err != nil {
					return nil, fmt.Errorf("encoding %s %s/%s: %w", s.kind, item.GetNamespace(), item.GetName(), err)
				}
				objs = append(objs, Object{Group: s.gvr.Group, Kind: s.kind,
					Namespace: item.GetNamespace(), Name: item.GetName(), JSON: data})
			}
			if l.GetContinue() == "" {
				break
			}
			opts.Continue = l.GetContinue()
		}
	}
	return objs, nil
}
