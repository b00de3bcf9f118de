// Package lease elects one replica among several with a Kubernetes
// coordination.k8s.io/v1 Lease, so that work every replica could do (the
// periodic audit of running workloads) is done by one at a time.
//
// The protocol is the one Kubernetes controllers use: the holder writes its
// identity and renews the Lease's renewTime every RetryPeriod; the API
// server's optimistic concurrency (resourceVersion) makes every take-over
// and renewal a compare-and-swap; another replica takes the Lease once it
// has seen no renewal for the Lease's duration, measured on its own clock
// from when it last saw the Lease change (so clock skew between replicas
// does not matter); a holder that cannot renew within RenewDeadline stops
// its work before its Lease can expire; one that shuts down releases the
// Lease so that another takes over at once.
//
// It is written on the dynamic client rather than client-go's
// leaderelection package, whose resource locks pull in the typed clientset
// and every built-in API type: that would grow hallmark's binary by about
// two thirds for this one feature.
package lease

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GVR is the Lease resource.
var GVR = schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}

// Defaults, those of Kubernetes' own controllers.
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// Leases is the part of a namespaced dynamic.ResourceInterface for Leases
// that the election uses.
type Leases interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions, subresources ...string) (*unstructured.Unstructured, error)
	Create(ctx context.Context, obj *unstructured.Unstructured, opts metav1.CreateOptions, subresources ...string) (*unstructured.Unstructured, error)
	Update(ctx context.Context, obj *unstructured.Unstructured, opts metav1.UpdateOptions, subresources ...string) (*unstructured.Unstructured, error)
}

// Options configure an election.
type Options struct {
	// Namespace and Name of the Lease; required.
	Namespace, Name string
	// Identity names this replica in the Lease; required and unique among
	// the replicas (a pod name and a random suffix).
	Identity string
	// LeaseDuration is how long others wait after the last renewal they
	// saw before taking the Lease. Zero: DefaultLeaseDuration.
	LeaseDuration time.Duration
	// RenewDeadline is how long the holder keeps trying to renew before it
	// stops its work. Zero: DefaultRenewDeadline. Less than LeaseDuration.
	RenewDeadline time.Duration
	// RetryPeriod is how often the holder renews and others try to take
	// the Lease. Zero: DefaultRetryPeriod. Less than RenewDeadline.
	RetryPeriod time.Duration
	// Logger receives the election's transitions. Nil: none.
	Logger *slog.Logger
}

func (o Options) withDefaults() (Options, error) {
	if o.LeaseDuration == 0 {
		o.LeaseDuration = DefaultLeaseDuration
	}
	if o.RenewDeadline == 0 {
		o.RenewDeadline = DefaultRenewDeadline
	}
	if o.RetryPeriod == 0 {
		o.RetryPeriod = DefaultRetryPeriod
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Namespace == "" || o.Name == "":
		return o, errors.New("lease: a namespace and a name are required")
	case o.Identity == "":
		return o, errors.New("lease: an identity is required")
	case o.RetryPeriod <= 0 || o.RenewDeadline <= o.RetryPeriod || o.LeaseDuration <= o.RenewDeadline:
		return o, fmt.Errorf("lease: need 0 < retry period (%s) < renew deadline (%s) < lease duration (%s)", o.RetryPeriod, o.RenewDeadline, o.LeaseDuration)
	}
	return o, nil
}

// Run campaigns for the Lease until ctx is done, and calls lead while this
// replica holds it. lead's context ends when the Lease is lost (it could
// not be renewed within RenewDeadline, or another replica holds it) or ctx
// is done; lead must return soon after. Once lead has returned after ctx
// ended, Run releases the Lease and returns. It returns an error only for
// invalid Options.
func Run(ctx context.Context, leases Leases, opts Options, lead func(ctx context.Context)) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	e := &elector{leases: leases, o: o, log: o.Logger.With("lease", o.Namespace+"/"+o.Name, "identity", o.Identity)}
	for {
		acquired, ok := e.acquire(ctx)
		if !ok {
			return nil
		}
		e.log.Info("lease acquired")
		leadCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			lead(leadCtx)
		}()
		e.renew(leadCtx, acquired)
		stop()
		<-done
		if ctx.Err() != nil {
			e.release()
			return nil
		}
		e.log.Warn("lease lost; stopped, and standing again")
	}
}

// elector holds the state of one campaign.
type elector struct {
	leases Leases
	o      Options
	log    *slog.Logger
	// What this replica last saw in the Lease, and when (on its own clock)
	// it last saw it change.
	seenHolder, seenRenew string
	seenAt                time.Time
}

// acquire tries to take the Lease every RetryPeriod until it holds it, and
// returns when the successful attempt started, or ok false when ctx is done.
func (e *elector) acquire(ctx context.Context) (started time.Time, ok bool) {
	var lastHolder string
	for {
		started = time.Now()
		held, holder, err := e.tryAcquireOrRenew(ctx)
		switch {
		case held:
			return started, true
		case err != nil:
			e.log.Debug("lease not acquired", "error", err.Error())
		case holder != lastHolder:
			e.log.Info("another replica holds the lease", "holder", holder)
			lastHolder = holder
		}
		if !sleep(ctx, jitter(e.o.RetryPeriod)) {
			return time.Time{}, false
		}
	}
}

// renew renews the Lease every RetryPeriod and returns when ctx is done,
// when another replica holds it, or at the renew deadline: RenewDeadline
// after the start of the last attempt that renewed it (renewed, at first).
// Measuring from the start of the attempt, never from its end, keeps the
// holder's term inside what the others wait before taking the Lease.
func (e *elector) renew(ctx context.Context, renewed time.Time) {
	for {
		deadline := renewed.Add(e.o.RenewDeadline)
		if !sleep(ctx, min(e.o.RetryPeriod, time.Until(deadline))) || !time.Now().Before(deadline) {
			return
		}
		started := time.Now()
		tctx, cancel := context.WithDeadline(ctx, deadline)
		held, holder, err := e.tryAcquireOrRenew(tctx)
		cancel()
		switch {
		case held:
			renewed = started
		case err == nil:
			e.log.Warn("another replica took the lease", "holder", holder)
			return
		case ctx.Err() != nil:
			return
		default:
			e.log.Warn("lease not renewed", "error", err.Error())
		}
	}
}

// tryAcquireOrRenew reads the Lease and, when it is free, expired or held by
// this replica, writes this replica's claim with the resourceVersion read,
// so that of two concurrent writers one fails. It reports whether this
// replica holds the Lease, and who holds it otherwise.
func (e *elector) tryAcquireOrRenew(ctx context.Context) (held bool, holder string, err error) {
	now := time.Now()
	obj, err := e.leases.Get(ctx, e.o.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "coordination.k8s.io/v1",
			"kind":       "Lease",
			"metadata":   map[string]any{"name": e.o.Name, "namespace": e.o.Namespace},
		}}
		e.claim(obj, now, true)
		if _, err := e.leases.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return false, "", fmt.Errorf("create lease: %w", err)
		}
		e.saw(e.o.Identity, renewTime(obj), now)
		return true, e.o.Identity, nil
	}
	if err != nil {
		return false, "", fmt.Errorf("read lease: %w", err)
	}
	holder, _, _ = unstructured.NestedString(obj.Object, "spec", "holderIdentity")
	renewed := renewTime(obj)
	if holder != e.seenHolder || renewed != e.seenRenew {
		e.saw(holder, renewed, now)
	}
	if holder != "" && holder != e.o.Identity {
		duration := e.o.LeaseDuration
		if secs, ok, _ := unstructured.NestedInt64(obj.Object, "spec", "leaseDurationSeconds"); ok && secs > 0 {
			duration = time.Duration(secs) * time.Second
		}
		if now.Before(e.seenAt.Add(duration)) {
			return false, holder, nil
		}
		e.log.Info("the lease's holder stopped renewing it; taking it over", "holder", holder)
	}
	e.claim(obj, now, holder != e.o.Identity)
	if _, err := e.leases.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsConflict(err) {
			return false, holder, fmt.Errorf("another replica wrote the lease first: %w", err)
		}
		return false, holder, fmt.Errorf("write lease: %w", err)
	}
	e.saw(e.o.Identity, renewTime(obj), now)
	return true, e.o.Identity, nil
}

// claim writes this replica's claim into obj's spec; taking marks a new
// holder.
func (e *elector) claim(obj *unstructured.Unstructured, now time.Time, taking bool) {
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	if spec == nil {
		spec = map[string]any{}
	}
	stamp := now.UTC().Format(metav1.RFC3339Micro)
	spec["holderIdentity"] = e.o.Identity
	spec["leaseDurationSeconds"] = int64((e.o.LeaseDuration + time.Second - 1) / time.Second)
	spec["renewTime"] = stamp
	if taking {
		spec["acquireTime"] = stamp
		// A new Lease starts at 0 transitions; each change of holder after
		// that counts one.
		n, _, _ := unstructured.NestedInt64(spec, "leaseTransitions")
		if obj.GetResourceVersion() != "" {
			n++
		}
		spec["leaseTransitions"] = n
	}
	obj.Object["spec"] = spec
}

func (e *elector) saw(holder, renewed string, at time.Time) {
	e.seenHolder, e.seenRenew, e.seenAt = holder, renewed, at
}

// release gives the Lease up if this replica still holds it, so that
// another replica takes it at its next try instead of after LeaseDuration.
func (e *elector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), e.o.RetryPeriod)
	defer cancel()
	obj, err := e.leases.Get(ctx, e.o.Name, metav1.GetOptions{})
	if err != nil {
		e.log.Warn("lease not released; another replica takes it when it expires", "error", err.Error())
		return
	}
	if holder, _, _ := unstructured.NestedString(obj.Object, "spec", "holderIdentity"); holder != e.o.Identity {
		return
	}
	spec, _, _ := unstructured.NestedMap(obj.Object, "spec")
	delete(spec, "holderIdentity")
	spec["leaseDurationSeconds"] = int64(1)
	spec["renewTime"] = time.Now().UTC().Format(metav1.RFC3339Micro)
	obj.Object["spec"] = spec
	if _, err := e.leases.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		e.log.Warn("lease not released; another replica takes it when it expires", "error", err.Error())
		return
	}
	e.log.Info("lease released")
}

func renewTime(obj *unstructured.Unstructured) string {
	s, _, _ := unstructured.NestedString(obj.Object, "spec", "renewTime")
	return s
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// jitter spreads the replicas' attempts over up to 20% more than d.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/5+1))
}
