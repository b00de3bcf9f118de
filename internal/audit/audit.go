// Package audit checks what a cluster already holds: the images of its pods
// and of its workloads' pod templates, verified with the same admission code
// (admission.Images to find them, an admission.Admitter to verify them under
// the admission policy) that `hallmark serve` uses to admit new ones. It
// reports every image, so that what admission would refuse today, and what
// was admitted in audit mode or before hallmark was installed, can be found.
package audit

import (
	"context"
	"sort"
	"sync"

	"github.com/hallmark-dev/hallmark/internal/admission"
)

// Object is one object read from the cluster.
type Object struct {
	// Group ("" for the core group) and Kind say what the object is, as
	// admission.Images takes them: "apps" and "Deployment".
	Group string
	Kind  string
	// Namespace and Name identify it.
	Namespace string
	Name      string
	// JSON is the object as the API server serves it.
	JSON []byte
}

// Verdict says how one image came out.
type Verdict string

// Verdicts of a Finding.
const (
	// VerdictPass: the image is verified under the trust policy.
	VerdictPass Verdict = "pass"
	// VerdictFail: the image is not verified; admission in deny mode would
	// refuse it today.
	VerdictFail Verdict = "fail"
	// VerdictSkipped: the admission policy does not verify it (an excluded
	// namespace or an exempt image).
	VerdictSkipped Verdict = "skipped"
)

// Finding is the verdict on one image of one object.
type Finding struct {
	Namespace string `json:"namespace"`
	// Kind is the object's kind, e.g. "Pod" or "Deployment".
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Image is the reference as the object writes it.
	Image string `json:"image"`
	// Paths are the JSON pointers of the fields that hold Image.
	Paths []string `json:"paths"`
	// Digest is the digest verified, when the registry answered.
	Digest  string  `json:"digest,omitempty"`
	Verdict Verdict `json:"verdict"`
	// Code is verify's code for the outcome; empty when skipped.
	Code string `json:"code,omitempty"`
	// Reason says why, in full, as `hallmark verify` does: it may name the
	// trust policy's trust stores and trusted identities, for the
	// administrators who run an audit.
	Reason string `json:"reason"`
	// PublicReason says why in the words an admission denial uses, safe
	// for the namespace's users to read (in Events, for example): which
	// check failed and what to do, without the trust policy's contents.
	PublicReason string `json:"-"`
}

// Report is the outcome of an audit.
type Report struct {
	// Compliant is true when no image failed.
	Compliant bool `json:"compliant"`
	// Objects is how many objects were read; Failed how many findings
	// failed.
	Objects int `json:"objects"`
	Failed  int `json:"failed"`
	// Findings holds one entry per image of each object, sorted by
	// namespace, kind, name and image.
	Findings []Finding `json:"findings"`
}

// Workers bounds how many objects are verified at once. The cache behind
// the Admitter makes an image shared by many objects cost one verification;
// the bound keeps a large cluster from opening hundreds of registry
// connections at once.
const Workers = 8

// Check verifies the images of objs with a. Each object is verified as one
// admission request would be, under the admission policy's deadline, so a
// slow registry fails the objects that use it rather than the whole audit.
// An object whose images cannot be read is reported as one failing finding.
func Check(ctx context.Context, a *admission.Admitter, objs []Object) Report {
	return CheckProgress(ctx, a, objs, nil)
}

// CheckProgress is Check that calls done, if not nil, after each object,
// with how many objects are done so far; calls never overlap, so done may
// write to a terminal without locking.
func CheckProgress(ctx context.Context, a *admission.Admitter, objs []Object, done func(n int)) Report {
	results := make([][]Finding, len(objs))
	sem := make(chan struct{}, Workers)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		finished int
	)
	for i, obj := range objs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = checkObject(ctx, a, obj)
			if done != nil {
				mu.Lock()
				finished++
				done(finished)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r := Report{Objects: len(objs), Findings: []Finding{}}
	for _, fs := range results {
		for _, f := range fs {
			if f.Verdict == VerdictFail {
				r.Failed++
			}
			r.Findings = append(r.Findings, f)
		}
	}
	r.Compliant = r.Failed == 0
	sort.SliceStable(r.Findings, func(i, j int) bool {
		a, b := r.Findings[i], r.Findings[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Image < b.Image
	})
	return r
}

func checkObject(ctx context.Context, a *admission.Admitter, obj Object) []Finding {
	base := Finding{Namespace: obj.Namespace, Kind: obj.Kind, Name: obj.Name}
	images, err := admission.Images(obj.Group, obj.Kind, obj.JSON)
	if err != nil {
		f := base
		f.Verdict, f.Reason = VerdictFail, "cannot read the object's images: "+err.Error()
		f.PublicReason = f.Reason
		return []Finding{f}
	}
	if len(images) == 0 {
		return nil
	}
	reqs := make([]admission.NamespacedImage, len(images))
	for i, img := range images {
		reqs[i] = admission.NamespacedImage{Namespace: obj.Namespace, Image: img.Ref}
	}
	verdicts := a.VerifyImages(ctx, reqs)
	out := make([]Finding, len(images))
	for i, v := range verdicts {
		f := base
		f.Image, f.Paths, f.Reason, f.PublicReason = images[i].Ref, images[i].Paths, v.Reason(), v.PublicReason()
		switch {
		case v.Skipped != "":
			f.Verdict = VerdictSkipped
		case v.Result.Verified:
			f.Verdict = VerdictPass
		default:
			f.Verdict = VerdictFail
		}
		if v.Skipped == "" {
			f.Code, f.Digest = string(v.Result.Code), v.Result.Digest
		}
		out[i] = f
	}
	return out
}
