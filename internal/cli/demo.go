package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/hallmark-dev/hallmark/internal/demo"
)

type demoOptions struct {
	output string
	keep   bool
}

// demoSeam, when a test sets it, adjusts the demo's options before it runs:
// the way to prove that a wrong verdict makes the demo fail.
var demoSeam func(*demo.Options)

func newDemoCmd(g *globalOptions) *cobra.Command {
	o := &demoOptions{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Sign an image and admit it, end to end on this machine, with no cluster and no cloud",
		Long: `Run the reference walkthrough end to end on this machine, in a few seconds,
with nothing but hallmark: no cluster, no cloud, no network.

  1. start the embedded OCI registry (in memory, loopback only, referrers API on)
  2. create a key store in a temporary folder, and a key and self-signed
     certificate from the walkthrough's certificate policy (RSA 2048, not
     exportable, code signing, CN=brooklyn.io,O=Notation,L=Brooklyn,ST=NY,C=US,
     12 months)
  3. build and push two small sample images
  4. sign the first one (COSE); leave the second unsigned
  5. start the admission server over TLS (serving certificate from a CA made
     for the run) with a strict trust policy that trusts the new certificate
  6. send it the AdmissionReviews of 'kubectl run demo-pass' (the signed image,
     by digest) and 'kubectl run demo-fail' (the unsigned one) in audit mode,
  7. then in deny mode,
  8. and one Gatekeeper external data request naming both images.

It prints the server's verdict on each image and each admission verdict, and
checks them: demo-pass is allowed in both modes, demo-fail is allowed with a
warning in audit mode and denied in deny mode, and the provider reports
isSuccess true for the signed image and false for the unsigned one.

--keep leaves the registry and the server running (in deny mode) and prints
commands to try against them; Ctrl-C stops them. Everything the demo made is
removed when it ends.

Exit code 0 only if every verdict is the expected one; 1 otherwise.`,
		Example: `  go run ./cmd/hallmark demo
  hallmark demo -o json
  hallmark demo --keep`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemo(cmd, g, o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.output, "output", "o", "text", `output format: "text" or "json" (a summary of steps and verdicts)`)
	f.BoolVar(&o.keep, "keep", false, "leave the registry and the admission server running until Ctrl-C, and print commands to try")
	return cmd
}

func runDemo(cmd *cobra.Command, g *globalOptions, o *demoOptions) error {
	ctx := cmd.Context()
	if err := checkOutput(o.output); err != nil {
		return err
	}
	start := time.Now()
	text := o.output == "text"
	tty := text && isTerminal(g.out)
	// With -o json, standard output holds only the report; what a person
	// should read goes to standard error.
	human := g.out
	if !text {
		human = g.err
	}
	if tty {
		fmt.Fprintf(g.out, "hallmark demo: sign an image, then admit or refuse it as a cluster would; nothing leaves this machine\n\n")
	}
	var steps []demo.Step
	opts := demo.Options{
		OnStep: func(s demo.Step) {
			steps = append(steps, s)
			if text {
				printDemoStep(g.out, s, len(steps), tty)
			}
		},
		OnServerImage: func(v demo.ImageVerdict) { fmt.Fprintf(human, "server     %s\n", v) },
	}
	if demoSeam != nil {
		demoSeam(&opts)
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		if !text {
			// A script still gets a report, with the step that failed.
			_ = writeJSON(g.out, demo.Report{Steps: steps})
		}
		return err
	}
	defer d.Close()
	rep := d.Check(ctx)

	if text {
		wrong := 0
		for _, v := range rep.Verdicts {
			if !v.OK {
				wrong++
			}
		}
		switch {
		case rep.OK:
			fmt.Fprintf(g.out, "\nok: all %d verdicts as expected", len(rep.Verdicts))
		case wrong > 0:
			fmt.Fprintf(g.out, "\nFAIL: %d of %d verdicts not as expected", wrong, len(rep.Verdicts))
		default:
			fmt.Fprintf(g.out, "\nFAIL: a step failed")
		}
		if tty {
			fmt.Fprintf(g.out, " (%s)", roundDuration(time.Since(start)))
		}
		fmt.Fprintln(g.out)
	} else if err := writeJSON(g.out, rep); err != nil {
		return err
	}

	if o.keep {
		w := human
		fmt.Fprintf(w, "\nThe registry (%s) and the admission server (%s, deny mode) keep running.\n", rep.Registry, rep.Server)
		fmt.Fprintf(w, "Press Ctrl-C to stop them and remove %s.\n\n%s\n", rep.Dir, d.Commands())
		<-ctx.Done()
		fmt.Fprintln(w, "\nstopping the demo")
	}
	if err := d.Close(); err != nil {
		return err
	}
	if !rep.OK {
		return errSilent
	}
	return nil
}

// printDemoStep writes a step's lines; on a terminal, under a numbered
// title with its duration.
func printDemoStep(w io.Writer, s demo.Step, n int, tty bool) {
	indent := ""
	if tty {
		mark := ""
		if !s.OK {
			mark = "  FAILED"
		}
		fmt.Fprintf(w, "[%d/%d] %s (%s)%s\n", n, demo.StepCount, s.Title, roundDuration(s.Duration), mark)
		indent = "      "
	}
	for _, l := range s.Lines {
		fmt.Fprintf(w, "%s%s\n", indent, l)
	}
}

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Millisecond)
}

// isTerminal reports whether w is a terminal (a character device), where a
// person rather than a script reads the output.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
