package admission

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"oras.land/oras-go/v2/registry"

	"github.com/hallmark-dev/hallmark/internal/oci"
)

// PatchOp is one RFC 6902 JSON Patch operation. Mutate only replaces image
// strings.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Pin is the outcome of pinning one image to a digest.
type Pin struct {
	// Image is the reference as written.
	Image string
	// Pinned is the reference to use instead: REPO:TAG@DIGEST (or
	// REPO@DIGEST with Policy.PinDigestOnly), for a digest that verified.
	// It equals Image when the image is left as it is: already pinned,
	// skipped by the policy, not resolved, or not verified.
	Pinned string
	// Skipped says why the policy left the image alone: an exemption or an
	// excluded namespace. Empty otherwise.
	Skipped string
	// Err is a *PinError when the tag could not be resolved, or when the
	// digest it resolved to did not verify (then it matches
	// ErrNotVerified); its text is safe to show.
	Err error
}

// Mutation is the answer to a mutating admission request.
type Mutation struct {
	// Allowed is false, in deny mode, for an object that cannot be read
	// and, unless Policy.AllowUnpinnedTags, for a tag that cannot be pinned
	// (not resolved in time, a registry error): validation would refuse
	// the tag anyway, and refusing here says why. A tag that resolved to a digest that did not verify is left
	// unpinned without failing the mutation: validation refuses it with
	// the verification's reason.
	Allowed bool
	// Mode is the mode that applied.
	Mode Mode
	// StatusCode is http.StatusBadRequest for an object that cannot be
	// read, http.StatusForbidden for a tag that cannot be pinned, else 0.
	StatusCode int
	// Message says why the request is refused, or why nothing was pinned (an
	// excluded namespace). Safe to show.
	Message string
	// Patch replaces each image given by tag with its pinned reference.
	// Empty when nothing changes, in particular for an object that was
	// already mutated, so applying Mutate twice is the same as once.
	Patch []PatchOp
	// Warnings name each image that could not be pinned, and why, in
	// audit mode.
	Warnings []string
	// Pins holds the outcome for each distinct image, in document order.
	Pins []Pin
}

// Mutate pins every image of req.Object that names a tag and no digest to
// the digest the tag resolves to now, if that digest verifies, so that the
// kubelet runs exactly the manifest that was verified. Images already
// pinned by digest, exempt images, and objects in excluded namespaces are
// left alone. The tags are resolved and verified concurrently under
// Policy.Deadline (or ctx's deadline, if sooner). A digest that does not
// verify is not pinned: validation refuses the image with the reason (in
// deny mode). A tag that cannot be resolved refuses the object in deny
// mode, and stays as it is with a warning in audit mode or when
// Policy.AllowUnpinnedTags accepts tags without digests.
func (a *Admitter) Mutate(ctx context.Context, req Request) Mutation {
	start := time.Now()
	log := a.requestLogger(req)
	m := Mutation{Mode: a.policy.ModeFor(req.Namespace)}
	m = a.mutate(ctx, log, req, m)
	log.LogAttrs(ctx, slog.LevelInfo, "admission mutation",
		slog.String("mode", string(m.Mode)),
		slog.Bool("allowed", m.Allowed),
		slog.Int("images", len(m.Pins)),
		slog.Int("patched", len(m.Patch)),
		slog.Int("unpinned", countUnpinned(m.Pins)),
		slog.String("message", m.Message),
		slog.Duration("duration", time.Since(start)))
	return m
}

func (a *Admitter) mutate(ctx context.Context, log *slog.Logger, req Request, m Mutation) Mutation {
	if why := a.policy.skipNamespace(req.Namespace); why != "" {
		m.Allowed = true
		m.Message = why
		return m
	}
	images, err := Images(req.Group, req.Kind, req.Object)
	if err != nil {
		d := unreadable(Decision{Mode: m.Mode}, describe(req), err)
		m.Allowed, m.StatusCode, m.Message, m.Warnings = d.Allowed, d.StatusCode, d.Message, d.Warnings
		return m
	}
	refs := make([]NamespacedImage, len(images))
	for i, img := range images {
		refs[i] = NamespacedImage{Namespace: req.Namespace, Image: img.Ref}
	}
	m.Allowed = true
	m.Pins = a.pinImages(ctx, log, refs)
	// A tag left unpinned is refused in deny mode, unless the policy
	// accepts unpinned tags; then, as in audit mode, it only warns.
	refuse := m.Mode != ModeAudit && !a.policy.AllowUnpinnedTags
	var unpinned []Pin
	for i, p := range m.Pins {
		if errors.Is(p.Err, ErrNotVerified) {
			continue // validation refuses it, with the verification's reason
		}
		if p.Err != nil {
			unpinned = append(unpinned, p)
			if !refuse {
				m.Warnings = append(m.Warnings, warning("%s", p.Err.Error()))
			}
			continue
		}
		if p.Pinned == p.Image {
			continue
		}
		for _, path := range images[i].Paths {
			m.Patch = append(m.Patch, PatchOp{Op: "replace", Path: path, Value: p.Pinned})
		}
	}
	if len(unpinned) > 0 && refuse {
		// Admitting the tag would leave the kubelet to resolve it again,
		// later: what it pulls then was never verified.
		var b strings.Builder
		fmt.Fprintf(&b, "hallmark: %d of %d images of %s cannot be pinned to a verified digest:", len(unpinned), len(m.Pins), describe(req))
		for _, p := range unpinned {
			fmt.Fprintf(&b, "\n- %s", p.Err.Error())
		}
		m.Allowed, m.StatusCode, m.Message, m.Patch = false, http.StatusForbidden, b.String(), nil
	}
	return m
}

// PinImages pins each image as Mutate does, for Gatekeeper's mutation
// provider: only to a digest that verified. The pins are in the order of
// images; each distinct image is resolved and verified once.
func (a *Admitter) PinImages(ctx context.Context, images []NamespacedImage) []Pin {
	return a.pinImages(ctx, a.log, images)
}

func (a *Admitter) pinImages(ctx context.Context, log *slog.Logger, images []NamespacedImage) []Pin {
	ctx, cancel, _, budget := a.withBudget(ctx)
	defer cancel()

	pins := make([]Pin, len(images))
	type job struct {
		image string
		ref   registry.Reference
	}
	var todo []job           // distinct images to resolve
	seen := map[string]int{} // image -> index in todo
	slot := make([]int, len(images))
	for i, img := range images {
		slot[i] = -1
		pins[i] = Pin{Image: img.Image, Pinned: img.Image}
		if why := a.policy.skip(img.Namespace, img.Image); why != "" {
			pins[i].Skipped = why
			continue
		}
		ref, err := oci.ParseReference(img.Image)
		switch {
		case err != nil:
			pins[i].Err = &PinError{Image: img.Image, Summary: safeSummary(err, "not a valid image reference"), Err: err}
			continue
		case ref.ValidateReferenceAsDigest() == nil:
			continue // already pinned
		case ref.Reference == "":
			pins[i].Err = &PinError{Image: img.Image, Summary: "the reference has neither a tag nor a digest"}
			continue
		}
		k, ok := seen[img.Image]
		if !ok {
			k = len(todo)
			seen[img.Image] = k
			todo = append(todo, job{image: img.Image, ref: ref})
		}
		slot[i] = k
	}

	resolved, done := runAll(ctx, len(todo),
		func(ctx context.Context, i int) Pin {
			return a.pin(ctx, todo[i].image, todo[i].ref)
		},
		func(i int, p any) Pin {
			log.LogAttrs(ctx, slog.LevelError, "resolver panicked",
				slog.String("image", todo[i].image),
				slog.Any("panic", p),
				slog.String("stack", string(debug.Stack())))
			return Pin{Image: todo[i].image, Pinned: todo[i].image,
				Err: &PinError{Image: todo[i].image, Summary: "internal error in hallmark"}}
		})
	for i, j := range todo {
		// A resolution the deadline cut short reads the same whether the
		// resolver noticed first or runAll did.
		if !done[i] || (ctx.Err() != nil && errors.Is(resolved[i].Err, context.DeadlineExceeded)) {
			resolved[i] = Pin{Image: j.image, Pinned: j.image, Err: &PinError{
				Image:   j.image,
				Summary: fmt.Sprintf("the tag was not resolved within %d ms", budget.Milliseconds()),
				Err:     context.DeadlineExceeded,
			}}
		}
		if err := resolved[i].Err; err != nil {
			log.LogAttrs(ctx, slog.LevelWarn, "image not pinned",
				slog.String("image", j.image),
				slog.String("error", causeText(err)))
		}
	}
	for i, k := range slot {
		if k >= 0 {
			pins[i] = resolved[k]
		}
	}
	return pins
}

// pin resolves the tag of image (parsed as ref), verifies the digest it
// resolved to, and returns its pinned form if that verified. The verified
// reference is the pinned one itself, so validation of the mutated object
// finds the verdict in the cache.
func (a *Admitter) pin(ctx context.Context, image string, ref registry.Reference) Pin {
	p := Pin{Image: image, Pinned: image}
	if a.resolver == nil {
		p.Err = &PinError{Image: image, Summary: "hallmark has no registry client configured for mutation"}
		return p
	}
	desc, err := a.resolver.Resolve(ctx, image)
	if err != nil {
		p.Err = &PinError{Image: image, Summary: safeSummary(err, "the registry lookup failed"), Err: err}
		return p
	}
	// The digest goes into the object the kubelet runs: check it rather
	// than trust whatever the registry said.
	if err := desc.Digest.Validate(); err != nil {
		p.Err = &PinError{Image: image, Summary: "the registry answered with an invalid digest", Err: err}
		return p
	}
	pinned := pinnedRef(image, ref, desc.Digest.String(), a.policy.PinDigestOnly)
	if a.verifier == nil {
		p.Err = &PinError{Image: image, Summary: "hallmark has no verifier configured for mutation", Err: ErrNotVerified}
		return p
	}
	if res := a.verifier.Verify(ctx, pinned); !res.Verified {
		p.Err = &PinError{Image: image, Summary: "the digest " + desc.Digest.String() + " it names now is not verified: " + publicReasonOf(res), Err: ErrNotVerified}
		return p
	}
	p.Pinned = pinned
	return p
}

// pinnedRef writes image, which has a tag and no digest, with digest d.
func pinnedRef(image string, ref registry.Reference, d string, digestOnly bool) string {
	if digestOnly {
		return ref.Registry + "/" + ref.Repository + "@" + d
	}
	return image + "@" + d
}

// safeSummary returns the part of err that is safe to show to the person
// who created the object: an *oci.Error's Summary names at most the
// registry and repository. Other errors may carry internal detail, so they
// are replaced by fallback.
func safeSummary(err error, fallback string) string {
	var oe *oci.Error
	if errors.As(err, &oe) && oe.Summary != "" {
		return oe.Summary
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "the registry did not answer in time"
	}
	return fallback
}

// causeText is the full text of a pin failure for logs, cause included.
func causeText(err error) string {
	var pe *PinError
	if errors.As(err, &pe) && pe.Err != nil {
		return pe.Error() + ": " + pe.Err.Error()
	}
	return err.Error()
}

func countUnpinned(pins []Pin) int {
	n := 0
	for _, p := range pins {
		if p.Err != nil {
			n++
		}
	}
	return n
}
