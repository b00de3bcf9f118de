package demo

import (
	"context"
	"fmt"
	"strings"

	"github.com/hallmark-dev/hallmark/internal/admission"
	"github.com/hallmark-dev/hallmark/internal/serve"
)

// Check sends the admission requests and compares each verdict with the
// expected one. It returns the whole report; Report.OK says whether every
// step and verdict was as expected. It leaves the server in deny mode.
func (d *Demo) Check(ctx context.Context) Report {
	d.images.record(true)
	defer d.images.record(false)
	run := func(mode admission.Mode, title string) {
		_ = d.step(string(mode), title, func(s *Step) error {
			// The operator's move after watching the warnings: the
			// configuration changes, and the runtime puts a new
			// generation in force.
			if err := d.setMode(ctx, mode); err != nil {
				return err
			}
			failWant := AllowedWithWarning
			if mode == admission.ModeDeny {
				failWant = Denied
			}
			if err := d.kubectlRun(ctx, s, mode, passPod, d.report.SignedImage, Allowed); err != nil {
				return err
			}
			return d.kubectlRun(ctx, s, mode, failPod, d.report.UnsignedImage, failWant)
		})
	}
	run(admission.ModeAudit, "kubectl run, admission in audit mode")
	run(admission.ModeDeny, "kubectl run, admission in deny mode")
	_ = d.step("gatekeeper", "Gatekeeper external data request (Ratify's provider API)", func(s *Step) error {
		return d.providerCheck(ctx, s)
	})
	d.report.OK = true
	for _, s := range d.report.Steps {
		d.report.OK = d.report.OK && s.OK
	}
	return d.Report()
}

// kubectlRun sends the AdmissionReview of `kubectl run NAME --image=IMAGE`.
func (d *Demo) kubectlRun(ctx context.Context, s *Step, mode admission.Mode, name, image, want string) error {
	var rr reviewResponse
	if err := post(ctx, d.http, d.url+serve.ValidatePath+"?timeout=10s", podReview(name, image), &rr); err != nil {
		s.OK = false
		return err
	}
	r := rr.Response
	v := Verdict{Mode: string(mode), Name: name, Image: image, Expected: want}
	switch {
	case !r.Allowed:
		v.Got = Denied
		if r.Status != nil {
			v.Message = r.Status.Message
		}
	case len(r.Warnings) > 0:
		v.Got = AllowedWithWarning
		v.Message = strings.Join(r.Warnings, "; ")
	default:
		v.Got = Allowed
	}
	v.Images = d.images.take([]string{image})
	d.addVerdict(s, v)
	return nil
}

// providerCheck sends one ProviderRequest naming both images.
func (d *Demo) providerCheck(ctx context.Context, s *Step) error {
	images := []string{d.report.SignedImage, d.report.UnsignedImage}
	var pr providerResponse
	if err := post(ctx, d.http, d.url+serve.GatekeeperVerifyPath, providerRequest(images...), &pr); err != nil {
		s.OK = false
		return err
	}
	if pr.Response.SystemError != "" {
		s.OK = false
		return fmt.Errorf("provider system error: %s", pr.Response.SystemError)
	}
	results := d.images.take(images)
	roles := []string{"signed", "unsigned"}
	wants := []string{IsSuccessTrue, IsSuccessFalse}
	for i, image := range images {
		v := Verdict{Mode: "gatekeeper", Name: roles[i], Image: image, Expected: wants[i], Got: "no answer"}
		for _, it := range pr.Response.Items {
			if it.Key != image {
				continue
			}
			v.Got = IsSuccessFalse
			if it.Value.IsSuccess {
				v.Got = IsSuccessTrue
			}
			switch {
			case it.Error != "":
				v.Message = it.Error
			case len(it.Value.VerifierReports) > 0:
				v.Message = it.Value.VerifierReports[0].Message
			}
		}
		for _, r := range results {
			if r.Image == image {
				v.Images = append(v.Images, r)
			}
		}
		d.addVerdict(s, v)
	}
	return nil
}

// addVerdict records v, with the lines a person would watch: the server's
// verdict on each image, then the admission verdict.
func (d *Demo) addVerdict(s *Step, v Verdict) {
	v.OK = v.Got == v.Expected
	tag := fmt.Sprintf("%-10s %-9s", v.Mode, v.Name)
	for _, img := range v.Images {
		s.add("%s  %s", tag, img)
	}
	line := tag + "  " + v.Got
	if !v.OK {
		line += " <-- WRONG, expected " + v.Expected
		s.OK = false
	}
	// A denial lists one failing image per line; keep them under the tag.
	msg := strings.Split(v.Message, "\n")
	if msg[0] != "" {
		line += ": " + msg[0]
	}
	s.add("%s", line)
	for _, m := range msg[1:] {
		s.add("%s  %s", strings.Repeat(" ", len(tag)), m)
	}
	d.report.Verdicts = append(d.report.Verdicts, v)
}
