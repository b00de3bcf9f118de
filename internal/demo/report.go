package demo

import (
	"sync"
	"time"

	"github.com/hallmark-dev/hallmark/internal/verify"
)

// Report is what the demo did and whether every verdict was the expected
// one; `hallmark demo -o json` prints it.
type Report struct {
	// OK is true when every step worked and every verdict was expected.
	OK bool `json:"ok"`
	// Dir is the demo's temporary folder (key store, trust policy, trust
	// store, CA certificate); it is removed by Close.
	Dir string `json:"dir"`
	// Registry is the embedded registry's host:port.
	Registry string `json:"registry"`
	// Server is the admission server's base URL.
	Server string `json:"server"`
	// SignedImage is the signed image by digest; UnsignedImage the unsigned
	// one by tag.
	SignedImage   string `json:"signedImage"`
	UnsignedImage string `json:"unsignedImage"`
	// Signer is the signing certificate's subject.
	Signer   string    `json:"signer"`
	Steps    []Step    `json:"steps"`
	Verdicts []Verdict `json:"verdicts"`
}

// Step is one step of the demo.
type Step struct {
	// Name is a stable identifier: registry, key, images, sign, server,
	// audit, deny, gatekeeper.
	Name string `json:"name"`
	// Title says what the step does, for people.
	Title string `json:"title"`
	// Lines are what a person watching would see: addresses, digests,
	// one line per image verdict and one per admission verdict.
	Lines []string `json:"lines"`
	// OK is false when the step failed or a verdict in it was not the
	// expected one.
	OK       bool          `json:"ok"`
	Duration time.Duration `json:"durationNs"`
}

// Verdict is the answer to one admission request (or one image of the
// Gatekeeper request), with the expected answer.
type Verdict struct {
	// Mode is audit or deny for the webhook, gatekeeper for the provider.
	Mode string `json:"mode"`
	// Name is the pod's name (demo-pass, demo-fail) or, for the provider,
	// the image's role (signed, unsigned).
	Name  string `json:"name"`
	Image string `json:"image"`
	// Got and Expected are one of the verdict constants (Allowed, Denied,
	// IsSuccessTrue, ...).
	Got      string `json:"got"`
	Expected string `json:"expected"`
	// Message is the denial message, the warning, or the provider's
	// report message.
	Message string `json:"message,omitempty"`
	// Images are the server's verdicts on the images of the request.
	Images []ImageVerdict `json:"images"`
	OK     bool           `json:"ok"`
}

// ImageVerdict is the server's verdict on one image, as its log records it.
type ImageVerdict struct {
	Image    string      `json:"image"`
	Verified bool        `json:"verified"`
	Code     verify.Code `json:"code"`
	Reason   string      `json:"reason"`
	Signer   string      `json:"signer,omitempty"`
	Cached   bool        `json:"cached"`
}

// imageRecorder collects the server's image verdicts (admission's OnImage
// hook) while Check runs, so each can be shown next to the request that
// caused it; at other times it hands them to outside, if set.
type imageRecorder struct {
	outside func(ImageVerdict)

	mu        sync.Mutex
	recording bool
	results   []verify.Result
}

func (r *imageRecorder) record(on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recording, r.results = on, nil
}

func (r *imageRecorder) add(res verify.Result) {
	r.mu.Lock()
	if r.recording {
		r.results = append(r.results, res)
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()
	if r.outside != nil {
		r.outside(imageVerdict(res))
	}
}

// take returns the verdicts recorded since the last call, in the order of
// images (verifications of one request run concurrently).
func (r *imageRecorder) take(images []string) []ImageVerdict {
	r.mu.Lock()
	results := r.results
	r.results = nil
	r.mu.Unlock()
	var out []ImageVerdict
	for _, img := range images {
		for _, res := range results {
			if res.Reference == img {
				out = append(out, imageVerdict(res))
			}
		}
	}
	return out
}

func imageVerdict(res verify.Result) ImageVerdict {
	v := ImageVerdict{Image: res.Reference, Verified: res.Verified, Code: res.Code, Reason: res.Reason, Cached: res.Cached}
	for _, sig := range res.Signatures {
		if sig.Verified {
			v.Signer = sig.SignerSubject
		}
	}
	return v
}

// String is the line a person watching the server reads.
func (v ImageVerdict) String() string {
	what := v.Reason
	if v.Verified {
		what = "signature verification success, signed by " + v.Signer
	}
	if v.Cached {
		what += " (cached)"
	}
	return "image " + shortRef(v.Image) + ": " + what
}
