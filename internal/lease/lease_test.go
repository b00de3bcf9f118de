package lease

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// memLeases keeps one Lease in memory with the API server's optimistic
// concurrency: an update must carry the resourceVersion last stored. It is
// a seam for this package's logic; the real API server is exercised by the
// end-to-end tests of `hallmark serve --audit-lease`.
type memLeases struct {
	mu   sync.Mutex
	obj  *unstructured.Unstructured
	rv   int
	down atomic.Bool // every call fails, as when the API server is unreachable
}

var leaseGR = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

func (m *memLeases) Get(_ context.Context, name string, _ metav1.GetOptions, _ ...string) (*unstructured.Unstructured, error) {
	if m.down.Load() {
		return nil, errors.New("connection refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.obj == nil {
		return nil, apierrors.NewNotFound(leaseGR, name)
	}
	return m.obj.DeepCopy(), nil
}

func (m *memLeases) Create(_ context.Context, obj *unstructured.Unstructured, _ metav1.CreateOptions, _ ...string) (*unstructured.Unstructured, error) {
	if m.down.Load() {
		return nil, errors.New("connection refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.obj != nil {
		return nil, apierrors.NewAlreadyExists(leaseGR, obj.GetName())
	}
	m.rv++
	m.obj = obj.DeepCopy()
	m.obj.SetResourceVersion(strconv.Itoa(m.rv))
	return m.obj.DeepCopy(), nil
}

func (m *memLeases) Update(_ context.Context, obj *unstructured.Unstructured, _ metav1.UpdateOptions, _ ...string) (*unstructured.Unstructured, error) {
	if m.down.Load() {
		return nil, errors.New("connection refused")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.obj == nil {
		return nil, apierrors.NewNotFound(leaseGR, obj.GetName())
	}
	if obj.GetResourceVersion() != m.obj.GetResourceVersion() {
		return nil, apierrors.NewConflict(leaseGR, obj.GetName(), errors.New("the object has been modified"))
	}
	m.rv++
	m.obj = obj.DeepCopy()
	m.obj.SetResourceVersion(strconv.Itoa(m.rv))
	return m.obj.DeepCopy(), nil
}

func (m *memLeases) spec(t *testing.T) map[string]any {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.obj == nil {
		return nil
	}
	spec, _, _ := unstructured.NestedMap(m.obj.Object, "spec")
	return spec
}

func (m *memLeases) holder(t *testing.T) string {
	s, _ := m.spec(t)["holderIdentity"].(string)
	return s
}

// replica runs one election and records when it leads.
type replica struct {
	id      string
	leading atomic.Bool
	terms   atomic.Int32
	stop    context.CancelFunc
	done    chan struct{}
}

func start(t *testing.T, leases Leases, id string) *replica {
	t.Helper()
	return startWith(t, leases, Options{Namespace: "hallmark", Name: "audit", Identity: id})
}

func startWith(t *testing.T, leases Leases, o Options) *replica {
	t.Helper()
	id := o.Identity
	ctx, stop := context.WithCancel(context.Background())
	r := &replica{id: id, stop: stop, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		err := Run(ctx, leases, o, func(ctx context.Context) {
			r.terms.Add(1)
			r.leading.Store(true)
			<-ctx.Done()
			r.leading.Store(false)
		})
		if err != nil {
			t.Errorf("Run(%s): %v", id, err)
		}
	}()
	return r
}

func (r *replica) shutdown() {
	r.stop()
	<-r.done
}

func leaders(rs ...*replica) []string {
	var ids []string
	for _, r := range rs {
		if r.leading.Load() {
			ids = append(ids, r.id)
		}
	}
	return ids
}

func TestOneLeaderAndHandOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &memLeases{}
		a := start(t, m, "a")
		time.Sleep(time.Second)
		b := start(t, m, "b")
		c := start(t, m, "c")
		// Over a minute of renewals, exactly one replica leads at every
		// moment, and it is the holder the Lease names.
		for range 60 {
			time.Sleep(time.Second)
			if got := leaders(a, b, c); len(got) != 1 || got[0] != "a" || m.holder(t) != "a" {
				t.Fatalf("leaders %v, lease holder %q; want a alone", got, m.holder(t))
			}
		}
		if a.terms.Load() != 1 {
			t.Fatalf("a led %d terms; want one unbroken term", a.terms.Load())
		}
		spec := m.spec(t)
		if spec["leaseTransitions"] != int64(0) || spec["leaseDurationSeconds"] != int64(15) {
			t.Errorf("lease spec %v", spec)
		}
		if _, err := time.Parse(metav1.RFC3339Micro, spec["renewTime"].(string)); err != nil {
			t.Errorf("renewTime: %v", err)
		}

		// a shuts down: it releases the Lease, and another replica takes
		// over at its next try, well before the Lease would have expired.
		a.shutdown()
		if got := leaders(a, b, c); len(got) != 0 {
			t.Fatalf("leaders %v right after a released the lease", got)
		}
		time.Sleep(3 * time.Second)
		got := leaders(a, b, c)
		if len(got) != 1 || got[0] == "a" || m.holder(t) != got[0] {
			t.Fatalf("3s after a released the lease: leaders %v, holder %q; want one of b, c", got, m.holder(t))
		}
		if n := m.spec(t)["leaseTransitions"]; n != int64(1) {
			t.Errorf("leaseTransitions %v after one hand-over; want 1", n)
		}
		b.shutdown()
		c.shutdown()
		if h := m.holder(t); h != "" {
			t.Errorf("lease still held by %q after every replica shut down", h)
		}
	})
}

// A holder that stops renewing without releasing (a crashed pod) is
// replaced only once its Lease has gone unrenewed for the Lease duration.
func TestCrashedHolderExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &memLeases{}
		stamp := time.Now().UTC().Format(metav1.RFC3339Micro)
		m.obj = &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
			"metadata": map[string]any{"name": "audit", "namespace": "hallmark", "resourceVersion": "1"},
			"spec": map[string]any{"holderIdentity": "crashed", "leaseDurationSeconds": int64(15),
				"renewTime": stamp, "acquireTime": stamp, "leaseTransitions": int64(3)},
		}}
		m.rv = 1
		b := start(t, m, "b")
		time.Sleep(14 * time.Second)
		if b.leading.Load() || m.holder(t) != "crashed" {
			t.Fatalf("b took the lease before it expired (holder %q)", m.holder(t))
		}
		time.Sleep(5 * time.Second) // 15s plus a retry period with jitter
		if !b.leading.Load() || m.holder(t) != "b" {
			t.Fatalf("b did not take the expired lease (holder %q)", m.holder(t))
		}
		if n := m.spec(t)["leaseTransitions"]; n != int64(4) {
			t.Errorf("leaseTransitions %v; want 4", n)
		}
		b.shutdown()
	})
}

// A holder cut off from the API server stops leading within the renew
// deadline, before the others may take its Lease; it leads again once the
// API server is back.
func TestHolderCutOffStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &memLeases{}
		a := start(t, m, "a")
		time.Sleep(time.Second)
		if !a.leading.Load() {
			t.Fatal("a does not lead")
		}
		m.down.Store(true)
		cut := time.Now()
		for i := 0; a.leading.Load(); i++ {
			if i > 600 {
				t.Fatal("a still leads a minute after losing the API server")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The last renewal was before the cut, and the test looks every
		// 100 ms.
		if lost := time.Since(cut); lost > DefaultRenewDeadline+100*time.Millisecond {
			t.Errorf("a stopped leading %s after losing the API server; want within the renew deadline", lost)
		}
		m.down.Store(false)
		time.Sleep(5 * time.Second)
		if !a.leading.Load() || a.terms.Load() != 2 {
			t.Errorf("a leads %v after the API server came back (%d terms); want a second term", a.leading.Load(), a.terms.Load())
		}
		a.shutdown()
	})
}

// With a renew deadline that is not a multiple of the retry period, a
// holder cut off from the API server still stops at the deadline, not at the
// next retry after it, which could be past the Lease's expiry.
func TestHolderStopsAtRenewDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := &memLeases{}
		begin := time.Now()
		o := Options{Namespace: "hallmark", Name: "audit", Identity: "a",
			RetryPeriod: 4 * time.Second, RenewDeadline: 10 * time.Second, LeaseDuration: 11 * time.Second}
		a := startWith(t, m, o)
		time.Sleep(100 * time.Millisecond)
		if !a.leading.Load() {
			t.Fatal("a does not lead")
		}
		// Right after a renewal (at 4 s), the API server goes away.
		time.Sleep(4 * time.Second)
		m.down.Store(true)
		for i := 0; a.leading.Load(); i++ {
			if i > 600 {
				t.Fatal("a still leads a minute after losing the API server")
			}
			time.Sleep(100 * time.Millisecond)
		}
		// The last renewal started at 4 s: a must have stopped by 14 s, before
		// the others could take the Lease (last renewal + 11 s = 15 s).
		if stopped := time.Since(begin); stopped > 14*time.Second+100*time.Millisecond {
			t.Errorf("a stopped leading at %s; want by 14 s, the renew deadline after its last renewal", stopped)
		}
		a.shutdown()
	})
}

// Of two replicas that read the same free Lease, only the first write wins.
func TestConcurrentClaim(t *testing.T) {
	m := &memLeases{}
	newElector := func(id string) *elector {
		o, err := Options{Namespace: "hallmark", Name: "audit", Identity: id}.withDefaults()
		if err != nil {
			t.Fatal(err)
		}
		return &elector{leases: m, o: o, log: o.Logger}
	}
	a, b := newElector("a"), newElector("b")
	if held, _, err := a.tryAcquireOrRenew(t.Context()); !held || err != nil {
		t.Fatalf("a: %v %v", held, err)
	}
	a.release()
	// b reads the released Lease; a writes first.
	stale, err := m.Get(t.Context(), "audit", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if held, _, err := a.tryAcquireOrRenew(t.Context()); !held || err != nil {
		t.Fatalf("a again: %v %v", held, err)
	}
	b.claim(stale, time.Now(), true)
	if _, err := m.Update(t.Context(), stale, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Fatalf("a write from a stale read: %v; want a conflict", err)
	}
	held, holder, err := b.tryAcquireOrRenew(t.Context())
	if held || holder != "a" || err != nil {
		t.Fatalf("b: held %v holder %q err %v; want a to hold it", held, holder, err)
	}
}

func TestOptions(t *testing.T) {
	for _, tt := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "audit", Identity: "a"}, "a namespace and a name are required"},
		{Options{Namespace: "ns", Name: "audit"}, "an identity is required"},
		{Options{Namespace: "ns", Name: "audit", Identity: "a", RenewDeadline: time.Second}, "retry period (2s) < renew deadline (1s)"},
		{Options{Namespace: "ns", Name: "audit", Identity: "a", LeaseDuration: 5 * time.Second}, "< lease duration (5s)"},
		{Options{Namespace: "ns", Name: "audit", Identity: "a", RetryPeriod: -time.Second}, "need 0 < retry period"},
	} {
		err := Run(t.Context(), &memLeases{}, tt.o, func(context.Context) { t.Error("led with invalid options") })
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Run(%+v) = %v; want an error containing %q", tt.o, err, tt.want)
		}
	}
}
