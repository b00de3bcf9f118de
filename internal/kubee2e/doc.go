// Package kubee2e holds hallmark's Kubernetes end-to-end tests: a real
// etcd and kube-apiserver (internal/testpeers), the distribution registry,
// and the hallmark binary, with the webhooks registered as a user would
// register them and every request made through client-go. Nothing in it is
// mocked; pods are stored but never run, since there is no kubelet.
//
// The tests run with `go test ./...` and are skipped only by -short. They
// fail, never skip, when etcd or the API server cannot start.
package kubee2e
