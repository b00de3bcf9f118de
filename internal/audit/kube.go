package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// pageSize is how many objects one list call asks for. The API server
// pages large lists with it, so an audit of a big cluster never holds one
// response with every pod in memory at once.
const pageSize = 500

// list is the part of a Kubernetes list response that List reads: the
// items stay raw, as admission.Images reads them.
type list struct {
	Metadata struct {
		Continue string `json:"continue"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

type objectMeta struct {
	Metadata struct {
		Namespace string `json:"namespace"`
		Name      string `json:"name"`
	} `json:"metadata"`
}

// List reads every Pod, ReplicationController, Deployment, ReplicaSet,
// StatefulSet, DaemonSet, Job and CronJob in namespace ("" for all
// namespaces) through client. It needs list permission on each (the Helm
// chart's ClusterRole grants it). Objects are kept as the API server serves
// them, so their images are read by the same code as in admission.
func List(ctx context.Context, client kubernetes.Interface, namespace string) ([]Object, error) {
	core, apps, batch := client.CoreV1().RESTClient(), client.AppsV1().RESTClient(), client.BatchV1().RESTClient()
	sources := []struct {
		rest             rest.Interface
		group, kind, res string
	}{
		{core, "", "Pod", "pods"},
		{core, "", "ReplicationController", "replicationcontrollers"},
		{apps, "apps", "Deployment", "deployments"},
		{apps, "apps", "ReplicaSet", "replicasets"},
		{apps, "apps", "StatefulSet", "statefulsets"},
		{apps, "apps", "DaemonSet", "daemonsets"},
		{batch, "batch", "Job", "jobs"},
		{batch, "batch", "CronJob", "cronjobs"},
	}
	var objs []Object
	for _, s := range sources {
		cont := ""
		for {
			req := s.rest.Get().NamespaceIfScoped(namespace, namespace != "").Resource(s.res).
				Param("limit", strconv.Itoa(pageSize))
			if cont != "" {
				req = req.Param("continue", cont)
			}
			raw, err := req.Do(ctx).Raw()
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", s.res, err)
			}
			var l list
			if err := json.Unmarshal(raw, &l); err != nil {
				return nil, fmt.Errorf("listing %s: %w", s.res, err)
			}
			for _, item := range l.Items {
				var m objectMeta
				if err := json.Unmarshal(item, &m); err != nil {
					return nil, fmt.Errorf("listing %s: %w", s.res, err)
				}
				objs = append(objs, Object{Group: s.group, Kind: s.kind,
					Namespace: m.Metadata.Namespace, Name: m.Metadata.Name, JSON: item})
			}
			if l.Metadata.Continue == "" {
				break
			}
			cont = l.Metadata.Continue
		}
	}
	return objs, nil
}
